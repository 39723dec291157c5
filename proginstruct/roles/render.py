"""How a record is shown to the roles (SPEC 6 step 2). Headings are fixed so that any test double,
including the simulated model, can find its way through a query.

A query (the last user message) is built from these sections, in this order, each omitted when empty::

    ## History
    ### Revision 1 -> 2        (one fenced unified diff per consecutive pair of history + current)
    ## Current code            (fenced, with line numbers)
    ## Commit message | ## Problem statement | ## User instruction
    ## Candidate changes       (judge: "### Change k" then a fenced diff, k = 1..N)
    ## Change                  (instruction / chat: one fenced diff, current -> target; may be empty)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..text import fence, unified_diff

H_HISTORY = "## History"
H_CURRENT = "## Current code"
H_COMMIT = "## Commit message"
H_PROBLEM = "## Problem statement"
H_USER = "## User instruction"
H_CANDIDATES = "## Candidate changes"
H_CHANGE = "## Change"
CHANGE_HEADING = "### Change {k}"
NO_CHANGE = "(no change: the code stays as it is)"


@dataclass(frozen=True)
class RecordView:
    """What every role sees of one moment: ``history`` (earlier code, oldest first), ``current`` code,
    language ``lang`` (may be ``""``), and optional context texts.

    ``history_diffs``: the unified diffs of consecutive ``history + [current]`` when the caller already
    has them (one per pair; they are computed when ``None``), so the roles of one sample share them.
    ``current_listing``: likewise ``fence(current, lang, numbered=True)`` when the caller has it.
    """

    lang: str
    current: str
    history: tuple[str, ...] = ()
    commit_message: str = ""
    problem_statement: str = ""
    user_instruction: str = ""
    history_diffs: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    current_listing: str | None = field(default=None, compare=False, repr=False)

    def listing(self) -> str:
        """The current code fenced with line numbers from 1 (SPEC 2), as the queries show it."""
        if self.current_listing is not None:
            return self.current_listing
        return fence(self.current, self.lang, numbered=True)

    def revision_diffs(self) -> tuple[str, ...]:
        """Unified diffs of consecutive ``history + [current]`` (``()`` without history)."""
        if self.history_diffs is not None:
            return self.history_diffs
        snaps = (*self.history, self.current)
        return tuple(unified_diff(snaps[i], snaps[i + 1]) for i in range(len(snaps) - 1)) if self.history else ()


@dataclass(frozen=True)
class JudgeQuery:
    """The judge sees the record and ``changes``: one unified diff per candidate edit block."""

    view: RecordView
    changes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ChangeQuery:
    """Instruction and chat see the record and one ``change`` (unified diff, ``""`` for no change)."""

    view: RecordView
    change: str


def render_record(view: RecordView) -> list[str]:
    """Sections shared by every query: history diffs, current code with line numbers, context."""
    parts: list[str] = []
    if view.history:
        parts.append(H_HISTORY)
        for i, diff in enumerate(view.revision_diffs()):
            parts.append(f"### Revision {i + 1} -> {i + 2}")
            parts.append(fence(diff, "diff"))
    parts.append(H_CURRENT)
    parts.append(view.listing())
    if view.commit_message:
        parts += [H_COMMIT, view.commit_message.strip()]
    if view.problem_statement:
        parts += [H_PROBLEM, view.problem_statement.strip()]
    if view.user_instruction:
        parts += [H_USER, view.user_instruction.strip()]
    return parts


def render_judge(q: JudgeQuery) -> str:
    """The judge's query text: the record, then every candidate change numbered from 1."""
    parts = render_record(q.view) + [H_CANDIDATES]
    for k, diff in enumerate(q.changes, 1):
        parts += [CHANGE_HEADING.format(k=k), fence(diff, "diff")]
    return "\n\n".join(parts)


def render_change(q: ChangeQuery) -> str:
    """The instruction/chat query text: the record, then the one change (or :data:`NO_CHANGE`)."""
    parts = render_record(q.view) + [H_CHANGE, fence(q.change, "diff") if q.change else NO_CHANGE]
    return "\n\n".join(parts)
