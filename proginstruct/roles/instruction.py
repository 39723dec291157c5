"""The instruction role (SPEC 5, SPEC 6 step 3): the instruction a programmer would type to an AI assistant
to get the whole change current -> final made. It sees the record and, when present, the commit message or
problem statement.

Reply protocol (fixed): the reply starts with ``**instruction:**`` and the instruction follows.
"""

from __future__ import annotations

import re
from typing import Any

from .base import Verdict
from .grammars import marker_grammar
from .markers import FewShotRole, marked_text, record_view
from .render import ChangeQuery, render_change

MARKER = "**instruction:**"

# An instruction that says the code should stay as it is (SPEC 5: "not say that nothing changes").
# Phrases are anchored so that ordinary constraints ("do not change the API", "leave the rest unchanged")
# are not caught.
_NO_CHANGE = re.compile(
    r"^\W*no (?:code |further |other )?(?:changes?|modifications?|edits?)\b"  # "No changes needed."
    r"|^\W*no need to (?:change|modify|edit|touch) (?:anything|the code)\b"
    r"|^\W*nothing (?:else )?to (?:change|modify|edit|do|fix)\b"
    r"|\bnothing (?:else )?(?:needs|has) to (?:be )?(?:chang|modif|edit|do|fix)"
    r"|\bno (?:code |further |other )?(?:changes?|modifications?|edits?) (?:is |are )?"
    r"(?:needed|required|necessary)\b"
    r"|\b(?:code|file|program|it) (?:does not|doesn't) (?:need|require) (?:any )?"
    r"(?:changes?|modifications?|edits?)"
    r"|\b(?:leave|keep) (?:the|this|your) (?:code|file|program) (?:as it is|as is|unchanged|alone)\W*$"
    r"|\b(?:code|file|program) (?:is|remains|stays) (?:unchanged|the same)\b"
    r"|\b(?:code|file|program) is already (?:correct|fine) as (?:it is|is)\b",
    re.IGNORECASE,
)

# A trailing note: a line after the first one opening with "Note:", "(Note", "P.S.", "Explanation:", ...,
# optionally bold or quoted; "Note that ..." / "Please note ..." only as a separate paragraph.
_NOTE_LINE = re.compile(
    r"^[\s>*_]*(?:\(\s*note\b|(?:notes?|explanation|nb|n\.b\.|remarks?)[\s*_]*:|p\.\s?s\.?)",
    re.IGNORECASE,
)
_NOTE_PARAGRAPH = re.compile(r"^[\s>*_]*(?:note that|please note|this instruction)\b", re.IGNORECASE)


def has_trailing_note(text: str) -> bool:
    """True when a line after the first of ``text`` opens a note (``Note:``, ``(Note``, ``P.S.``,
    ``Explanation:``, ``NB:``, ``Remark:``), or a later paragraph opens with ``Note that`` /
    ``Please note`` / ``This instruction`` (commentary about the instruction, not part of it)."""
    lines = text.split("\n")
    if any(_NOTE_LINE.match(ln) for ln in lines[1:]):
        return True
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    return any(_NOTE_PARAGRAPH.match(p) for p in paragraphs[1:])


def says_no_change(text: str) -> bool:
    """True when the instruction says that nothing needs to change (see ``_NO_CHANGE``)."""
    return _NO_CHANGE.search(text) is not None


def parse_instruction_reply(reply: str) -> Verdict:
    """Parse an instruction reply (SPEC 5).

    Accepts with the stripped instruction text after the marker. Rejects with ``empty`` / ``refusal``
    (whole reply or text after the marker, see ``common_rejection``), ``no_marker`` (the reply does not
    start with ``**instruction:**``, any case, leading whitespace allowed), ``says_no_change``,
    ``trailing_note``.
    """
    verdict = marked_text(reply, "instruction")
    if not verdict.ok:
        return verdict
    text = verdict.value
    if says_no_change(text):
        return Verdict.reject("says_no_change")
    if has_trailing_note(text):
        return Verdict.reject("trailing_note")
    return Verdict.accept(text)


class InstructionRole(FewShotRole):
    """The instruction role: ``messages(ChangeQuery)`` and ``check(ChangeQuery, reply) -> Verdict`` whose
    value is the instruction text (``str``)."""

    name = "instruction"

    def parse_query(self, d: dict[str, Any]) -> ChangeQuery:
        """Example query dict -> :class:`ChangeQuery` (``change``: the unified diff current -> final)."""
        return ChangeQuery(record_view(d), d["change"])

    def render(self, query: ChangeQuery) -> str:
        """The query text (see :func:`~proginstruct.roles.render.render_change`)."""
        return render_change(query)

    def check(self, query: ChangeQuery, reply: str) -> Verdict:
        """Validate ``reply``; see :func:`parse_instruction_reply` (the query does not affect the rules)."""
        return parse_instruction_reply(reply)

    def grammar(self, query: ChangeQuery) -> str:
        """The GBNF grammar of replies for grammar-guided decoding: the marker, then one line of text
        (:func:`~proginstruct.roles.grammars.marker_grammar`; the query does not change it)."""
        return marker_grammar(MARKER)
