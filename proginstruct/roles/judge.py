"""The judge role (SPEC 5, SPEC 6 step 4): which candidate changes would the programmer want predicted next?

Reply protocol (fixed): for k = 1..N a section headed ``**Analysis of change k:**`` whose last line is
``**Decision:** True`` or ``**Decision:** False``. Parsing is strict about structure (exactly N sections,
numbered 1..N in order, each ending with one decision) and tolerant of harmless variation: any case, bold,
backticks or quotes around the value, a trailing period, blank lines, markdown heading marks or bullets,
``---`` separators, the colon outside the bold, text before the first section.
"""

from __future__ import annotations

import re
from typing import Any

from .base import Verdict, common_rejection
from .grammars import judge_grammar
from .markers import FewShotRole, record_view
from .render import JudgeQuery, render_judge

# "**Analysis of change 3:**" at a line start; "##", bullets, other bold/colon placements and text after
# the heading on the same line are tolerated.
_HEADING = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*|[-*+][ \t]+)?[*_]{0,2}[ \t]*"
    r"analysis[ \t]+of[ \t]+change[ \t]*#?(\d+)\b",
    re.IGNORECASE | re.MULTILINE,
)
# "**Decision:** value", "**Decision**: value", "Decision: value", "**Decision: value**",
# "- **Decision:** value"
_DECISION = re.compile(r"^\s*(?:[-*+]\s+)?[*_]{0,2}\s*decision\s*[*_]{0,2}\s*:(.*)$", re.IGNORECASE)
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")  # markdown horizontal rule between sections
_VALUE_TRIM = "*_`'\". \t\r\n"


def parse_decision(value: str) -> bool | None:
    """``True``/``False`` for a decision value such as ``True``, `` `false` ``, ``**False**`` or
    ``true.``; ``None`` when it is anything else."""
    v = value.strip(_VALUE_TRIM).lower()
    return {"true": True, "false": False}.get(v)


def parse_judge_reply(reply: str, n: int) -> Verdict:
    """Parse a judge reply for ``n`` candidate changes (SPEC 5).

    Accepts with ``list[bool]`` of length ``n`` (decision k-1 for change k). Rejects with ``empty`` /
    ``refusal`` (see ``common_rejection``), ``count_mismatch`` (not exactly ``n`` sections), ``bad_order``
    (sections not numbered 1..n in order), ``no_decision`` (a section whose last non-blank line is not a
    decision line), ``bad_decision`` (a value other than true/false, or a second decision line in one
    section).
    """
    if reason := common_rejection(reply):
        return Verdict.reject(reason)
    heads = list(_HEADING.finditer(reply))
    if len(heads) != n:
        return Verdict.reject("count_mismatch")
    if [int(m.group(1)) for m in heads] != list(range(1, n + 1)):
        return Verdict.reject("bad_order")
    decisions: list[bool] = []
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(reply)
        body = reply[head.end() : end].split("\n")[1:]  # lines after the heading line
        lines = [ln for ln in body if ln.strip() and not _RULE.match(ln)]
        last = _DECISION.match(lines[-1]) if lines else None
        if last is None:
            return Verdict.reject("no_decision")
        if sum(1 for ln in lines if _DECISION.match(ln)) > 1:
            return Verdict.reject("bad_decision")
        value = parse_decision(last.group(1))
        if value is None:
            return Verdict.reject("bad_decision")
        decisions.append(value)
    return Verdict.accept(decisions)


class JudgeRole(FewShotRole):
    """The judge: ``messages(JudgeQuery)`` and ``check(JudgeQuery, reply) -> Verdict`` whose value is
    ``list[bool]``, one decision per candidate change in ``query.changes`` (True = predict it next)."""

    name = "judge"

    def parse_query(self, d: dict[str, Any]) -> JudgeQuery:
        """Example query dict -> :class:`JudgeQuery` (``changes``: list of unified diffs)."""
        return JudgeQuery(record_view(d), tuple(d["changes"]))

    def render(self, query: JudgeQuery) -> str:
        """The query text (see :func:`~proginstruct.roles.render.render_judge`)."""
        return render_judge(query)

    def check(self, query: JudgeQuery, reply: str) -> Verdict:
        """Validate ``reply`` against ``len(query.changes)`` candidates; see :func:`parse_judge_reply`."""
        return parse_judge_reply(reply, len(query.changes))

    def grammar(self, query: JudgeQuery) -> str:
        """The GBNF grammar of replies to ``query`` for grammar-guided decoding: one section per candidate
        change (:func:`~proginstruct.roles.grammars.judge_grammar`)."""
        return judge_grammar(len(query.changes))
