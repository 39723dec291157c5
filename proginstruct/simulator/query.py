"""Reading back a query rendered by :mod:`proginstruct.roles.render`: the simulated model's parser.

:func:`parse_query` splits the last user message of a request into the sections the roles render (current
code, history, commit message, problem statement, user instruction, candidate changes, the change) and
returns a :class:`ParsedQuery`. Pure, never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..roles.render import (
    CHANGE_HEADING,
    H_CANDIDATES,
    H_CHANGE,
    H_COMMIT,
    H_CURRENT,
    H_HISTORY,
    H_PROBLEM,
    H_USER,
    NO_CHANGE,
)


@dataclass(frozen=True)
class ParsedQuery:
    """What the simulator reads back from a query rendered by :mod:`proginstruct.roles.render`.

    ``current``: the current code without line numbers (``""`` when absent); ``lang``: the fence's
    language; ``has_history``: a ``## History`` section was present; ``changes``: the judge's candidate
    diffs (``None`` without a ``## Candidate changes`` section); ``change``: the instruction/chat diff,
    ``""`` for :data:`NO_CHANGE` (``None`` without a ``## Change`` section).
    """

    lang: str = ""
    current: str = ""
    has_history: bool = False
    commit_message: str = ""
    problem_statement: str = ""
    user_instruction: str = ""
    changes: tuple[str, ...] | None = None
    change: str | None = None


_ORDER = (H_HISTORY, H_CURRENT, H_COMMIT, H_PROBLEM, H_USER, H_CANDIDATES, H_CHANGE)
_RANK = {h: i for i, h in enumerate(_ORDER)}
_LAST_RANK = _RANK[H_CANDIDATES]
_CHANGE_RE = re.compile("^" + re.escape(CHANGE_HEADING).replace(re.escape("{k}"), r"(\d+)") + "$")


def _unfence(lines: list[str]) -> tuple[str, list[str]] | None:
    """``(info, body lines)`` of the first fenced block in ``lines`` (closed by its last ``` line)."""
    start = next((i for i, ln in enumerate(lines) if ln.startswith("```")), None)
    if start is None:
        return None
    end = next((i for i in range(len(lines) - 1, start, -1) if lines[i].rstrip() == "```"), None)
    if end is None:
        return None
    return lines[start][3:].strip(), lines[start + 1 : end]


def parse_query(text: str) -> ParsedQuery:
    """Split a rendered query into its sections (headings are the constants of ``roles/render.py``).

    Sections come in a fixed order, so a heading line only counts when it comes later in that order than
    the section being read (a heading-like line inside a commit message cannot derail the parse); the
    final ``## Candidate changes`` / ``## Change`` section may be re-entered so its last occurrence wins.
    Fenced code and diffs never contain heading lines (numbered or prefixed). Never raises.
    """
    sections: dict[str, list[str]] = {}
    cur, rank = None, -1
    for line in text.split("\n"):
        r = _RANK.get(line)
        if r is not None and (r > rank or (r >= _LAST_RANK and rank >= _LAST_RANK)):
            cur, rank = line, r
            sections[cur] = []
        elif cur is not None:
            sections[cur].append(line)

    lang, current = "", ""
    if (got := _unfence(sections.get(H_CURRENT, []))) is not None:
        lang = got[0].lower()
        current = "\n".join(ln.partition(" ")[2] if ln[:1].isdigit() else ln for ln in got[1])

    changes: tuple[str, ...] | None = None
    if H_CANDIDATES in sections:
        found: list[str] = []
        chunk: list[str] | None = None
        for line in sections[H_CANDIDATES] + ["### Change 0"]:
            if _CHANGE_RE.match(line):
                if chunk is not None and (got := _unfence(chunk)) is not None:
                    found.append("\n".join(got[1]))
                chunk = []
            elif chunk is not None:
                chunk.append(line)
        changes = tuple(found)

    change: str | None = None
    if H_CHANGE in sections:
        body = sections[H_CHANGE]
        got = _unfence(body)
        change = "" if got is None or "\n".join(body).strip() == NO_CHANGE else "\n".join(got[1])

    def free(h: str) -> str:
        return "\n".join(sections.get(h, [])).strip()

    return ParsedQuery(lang, current, H_HISTORY in sections, free(H_COMMIT), free(H_PROBLEM), free(H_USER),
                       changes, change)
