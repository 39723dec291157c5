"""How CursorCore's evaluation harness turns a model's answer back into code, written for these tests from
the description in SPEC 8 (not from the harness's code): one reader per training format.

Each reader takes the ``current`` code and the assistant turn (``<|next_start|>`` body ``<|next_end|>`` and
maybe a chat) and returns the code the harness would make of it, or raises :class:`HarnessMiss` where the
harness would fail or could only guess.

- **WF**: the first match of ```` ```(.*?)\\n([\\s\\S]*?)\\n``` ```` in the body; the code is group 2.
- **LC**: every ```` (\\d+),(\\d+)\\n```(.*?)\\n([\\s\\S]*?)\\n``` ```` in the stripped body, applied bottom-up
  as ``lines = lines[:start] + code.split("\\n") + lines[end:]`` on ``current.split("\\n")``.
- **SR**: each fenced block of the stripped body, split on ``"\\n<|search_and_replace|>\\n"`` into search and
  replace texts; the search text is located in ``current`` by :func:`locate` and those lines become
  ``replace.split("\\n")``, bottom-up.

:func:`locate` is a small fuzzy line matcher anchored on the first and last lines of the search text (a
first or last line that is ``...`` is ignored). Like the harness's, it ranks the lines of ``current`` by how
well they match each anchor, earliest first among equals, keeps the best ``max_anchors`` (40) of each, and
takes the first start/end pair whose lines are exactly the search text: so a search text that starts or
ends with a line that many lines match equally (a blank line) is found only when it comes early enough.
Simplification: the harness also keeps at most a fifth of the file's lines as anchors, which makes any
repeated anchor line unreadable in a short file whatever the writer does; that cap is left out here.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from proginstruct.export.tokens import NEXT_END, NEXT_START, SEARCH_AND_REPLACE

FENCE = re.compile(r"```(.*?)\n([\s\S]*?)\n```")
LC_EDIT = re.compile(r"(\d+),(\d+)\n```(.*?)\n([\s\S]*?)\n```")
MAX_ANCHORS = 40


class HarnessMiss(ValueError):
    """The harness would fail on this answer, or place an edit by a guess."""


def answer_body(answer: str) -> str:
    """The text after the last ``<|next_start|>`` and before the next ``<|next_end|>``."""
    return answer.split(NEXT_START)[-1].split(NEXT_END)[0]


def read_wf(current: str, answer: str) -> str:
    """WF: group 2 of the body's first fenced block. Raises :class:`HarnessMiss` when there is none."""
    m = FENCE.search(answer_body(answer))
    if m is None:
        raise HarnessMiss("no fenced block in the answer")
    return m.group(2)


def read_lc(current: str, answer: str) -> str:
    """LC: the ``start,end`` + fence edits applied bottom-up to ``current`` (0-based, half-open line ranges)."""
    lines = current.split("\n")
    for start, end, _lang, code in reversed(LC_EDIT.findall(answer_body(answer).strip())):
        lines = lines[: int(start)] + code.split("\n") + lines[int(end) :]
    return "\n".join(lines)


def read_sr(current: str, answer: str, max_anchors: int = MAX_ANCHORS) -> str:
    """SR: each block's search text located in ``current`` (:func:`locate`), its lines replaced, bottom-up.
    Raises :class:`HarnessMiss` for a block without exactly one separator or a search text not found."""
    lines = current.split("\n")
    for _lang, block in reversed(FENCE.findall(answer_body(answer).strip())):
        parts = block.split(f"\n{SEARCH_AND_REPLACE}\n")
        if len(parts) != 2:
            raise HarnessMiss(f"a block splits into {len(parts)} parts at the separator, not 2")
        start, end = locate(parts[0], current, max_anchors)
        lines = lines[:start] + parts[1].split("\n") + lines[end:]
    return "\n".join(lines)


def line_score(line: str, anchor: str) -> float:
    """How well ``line`` matches ``anchor``, 0-100: 100 when equal, 80-90 when equal but for surrounding
    whitespace, else 85 % of their similarity ratio."""
    if line == anchor:
        return 100.0
    if line.strip() == anchor.strip():
        return 90.0 - 10.0 * abs(len(line) - len(anchor)) / (len(line) + len(anchor))
    return 0.85 * fuzz.ratio(line, anchor)


def _ranked(lines: list[str], anchor: str) -> list[int]:
    scores = [line_score(line, anchor) for line in lines]
    return sorted(range(len(lines)), key=lambda i: -scores[i])  # stable: earliest first among equals


def locate(search: str, current: str, max_anchors: int = MAX_ANCHORS) -> tuple[int, int]:
    """The lines ``[start, end)`` (0-based, half-open) of ``current`` that the search text is taken to be.

    One line: the first line with the best score. Several: the first start/end pair, among the best
    ``max_anchors`` candidates for the first and for the last line (ends at or after the start), whose lines
    equal the search text. Raises :class:`HarnessMiss` when none does.
    """
    lines, query = current.split("\n"), search.split("\n")
    if query[-1].strip() == "...":
        query = query[:-1]
    if query and query[0].strip() == "...":
        query = query[1:]
    if not query:
        raise HarnessMiss("the search text is only '...'")
    if len(query) == 1:
        best = _ranked(lines, query[0])[0]
        return best, best + 1
    ends = _ranked(lines, query[-1])
    for i in _ranked(lines, query[0])[:max_anchors]:
        for j in [j for j in ends if j >= i][:max_anchors]:
            if lines[i : j + 1] == query:
                return i, j + 1
    raise HarnessMiss(f"no anchored span equals the search text {search[:40]!r}")


READERS = {"wf": read_wf, "lc": read_lc, "sr": read_sr}


def fence_in_code(code: str) -> bool:
    """Whether ``code`` has a line starting with ```` ``` ````, which the harness's fence regex reads as the
    end of the block (SPEC 8: such samples cannot be read back whatever the writer does)."""
    return any(line.startswith("```") for line in code.split("\n"))
