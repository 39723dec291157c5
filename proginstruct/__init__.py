"""proginstruct: the Programming-Instruct data recipe (CursorCore) as a reproducible DVC pipeline.

Layout follows the pipeline: ``sources`` (prepare inputs) -> ``collection`` (SPEC 4-6) ->
``area`` (SPEC 7) -> ``export`` (SPEC 8). ``text`` and ``blocks`` are the pure core (SPEC 2-3);
``llm`` talks to models, ``roles`` holds prompts and reply parsers (SPEC 5).
"""

__version__ = "0.1.0"
