"""How CursorCore's evaluation harness turns a model's answer back into code, modelled for these tests from
the reading rules in docs/formats.md (SPEC 8): one reader per training format.

Each reader takes the ``current`` code and the assistant turn (``<|next_start|>`` body ``<|next_end|>`` and
maybe a chat) and returns the code the harness would make of it, or raises :class:`HarnessMiss` where the
harness would fail or could only guess.

- **WF**: the first match of ```` ```(.*?)\\n([\\s\\S]*?)\\n``` ```` in the body; the code is group 2.
- **LC**: every ```` (\\d+),(\\d+)\\n```(.*?)\\n([\\s\\S]*?)\\n``` ```` in the stripped body, applied bottom-up
  as ``lines = lines[:start] + code.split("\\n") + lines[end:]`` on ``current.split("\\n")``.
- **SR**: each fenced block of the stripped body, split on ``"\\n<|search_and_replace|>\\n"`` into search and
  replace texts; the search text is located in ``current`` by :func:`locate` and those lines become
  ``replace.split("\\n")``, bottom-up.

:func:`locate` models a fuzzy line matcher that anchors on the first and last lines of the search text (a
first or last line that is exactly ``...`` is ignored). Our model of it, deliberately strict: an anchor
matches a line of ``current`` that equals it but for surrounding whitespace; a blank anchor matches every
blank line equally, so it cannot place the text and the answer counts as a miss, except where the anchor is
the first or last line of the file itself (there is no other line to anchor on there, and the writer has none
to widen with).
"""

from __future__ import annotations

import re

from proginstruct.export.tokens import NEXT_END, NEXT_START, SEARCH_AND_REPLACE

FENCE = re.compile(r"```(.*?)\n([\s\S]*?)\n```")
LC_EDIT = re.compile(r"(\d+),(\d+)\n```(.*?)\n([\s\S]*?)\n```")


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


def read_sr(current: str, answer: str) -> str:
    """SR: each block's search text located in ``current`` (:func:`locate`), its lines replaced, bottom-up.
    Raises :class:`HarnessMiss` for a block without exactly one separator or a search text not found."""
    lines = current.split("\n")
    for _lang, block in reversed(FENCE.findall(answer_body(answer).strip())):
        parts = block.split(f"\n{SEARCH_AND_REPLACE}\n")
        if len(parts) != 2:
            raise HarnessMiss(f"a block splits into {len(parts)} parts at the separator, not 2")
        start, end = locate(parts[0], current)
        lines = lines[:start] + parts[1].split("\n") + lines[end:]
    return "\n".join(lines)


def _blank(line: str) -> bool:
    return line.strip() == ""


def locate(search: str, current: str) -> tuple[int, int]:
    """The lines ``[start, end)`` (0-based, half-open) of ``current`` that the search text is taken to be.

    A span matches when its lines equal the search text's (after dropping a first or last ``...`` line) and
    its first and last lines match the anchors (equal but for surrounding whitespace). Raises
    :class:`HarnessMiss` when no span matches, when more than one does, or when an anchor is a blank line
    that is not the first or last line of ``current``.
    """
    lines, query = current.split("\n"), search.split("\n")
    if query[-1].strip() == "...":
        query = query[:-1]
    if query and query[0].strip() == "...":
        query = query[1:]
    if not query:
        raise HarnessMiss("the search text is only '...'")
    n = len(query)
    spans = [i for i in range(len(lines) - n + 1) if lines[i : i + n] == query]
    if len(spans) != 1:
        raise HarnessMiss(f"{len(spans)} spans equal the search text {search[:40]!r}")
    start = spans[0]
    end = start + n
    if _blank(query[0]) and start != 0:
        raise HarnessMiss(f"blank first anchor at line {start}: ambiguous")
    if _blank(query[-1]) and end != len(lines):
        raise HarnessMiss(f"blank last anchor at line {end - 1}: ambiguous")
    return start, end


READERS = {"wf": read_wf, "lc": read_lc, "sr": read_sr}


def fence_in_code(code: str) -> bool:
    """Whether ``code`` has a line starting with ```` ``` ````, which the harness's fence regex reads as the
    end of the block (SPEC 8: such samples cannot be read back whatever the writer does)."""
    return any(line.startswith("```") for line in code.split("\n"))
