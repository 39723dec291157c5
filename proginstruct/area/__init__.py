"""Target area synthesis (SPEC 7): the ``loc`` of a sample and the post_collection stage."""

from .loc import AreaParams, change_spans, synthesize_loc

__all__ = ["AreaParams", "change_spans", "synthesize_loc"]
