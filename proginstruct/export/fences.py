"""Fenced blocks for the training formats that always parse back to exactly the lines put in.

A fence is SPEC 2's ```` ```lang ```` + newline + lines + newline + ```` ``` ````. When a line of the
content itself starts with three or more backticks (Markdown inside a docstring, say), the fence is made
one backtick longer than the longest such run, as CommonMark does, so the closing fence can never be
confused with content. For every other text the output is byte-identical to :func:`proginstruct.text.fence`.
An empty list of lines is the opening fence directly followed by the closing one (the training formats
never write one: an LC deletion is widened to a line, SPEC 8).
"""

from __future__ import annotations

import re

from ..text import split_lines

_OPEN = re.compile(r"(`{3,})([^`]*)")


def fence_in_code(code: str) -> bool:
    """Whether a line of ``code`` starts with ```` ``` ````. The fences written here still parse back
    (:func:`fence_marker`), but a parser that ends a block at the first ```` \n``` ```` cannot read such
    code back, whatever the writer does (SPEC 8)."""
    return code.startswith("```") or "\n```" in code


def fence_marker(lines: list[str]) -> str:
    """The backtick run that fences ``lines``: at least 3, longer than any run that starts a line."""
    longest = 2
    for line in lines:
        if line.startswith("```"):
            longest = max(longest, len(line) - len(line.lstrip("`")))
    return "`" * (longest + 1)


def fence_lines(lines: list[str], lang: str = "") -> str:
    """Fence a list of lines (possibly empty); ``lang`` lower-cased, omitted when empty."""
    body = "".join(line + "\n" for line in lines)
    marker = fence_marker(lines) if "```" in body else "```"
    return f"{marker}{lang.lower()}\n{body}{marker}"


def fence_code(code: str, lang: str = "", numbered: bool = False) -> str:
    """Fence ``code`` (SPEC 2); with ``numbered`` each line becomes ``"{n} {line}"`` counting from 1."""
    if numbered:
        return fence_lines([f"{i} {line}" for i, line in enumerate(split_lines(code), 1)], lang)
    if "```" not in code:  # the common case: SPEC 2's fence as is
        return f"```{lang.lower()}\n{code}\n```"
    return fence_lines(split_lines(code), lang)


def read_fence(lines: list[str], i: int) -> tuple[str, list[str], int]:
    """Parse the fenced block whose opening fence is ``lines[i]``.

    Returns ``(lang, body_lines, index after the closing fence)``. Raises ``ValueError`` when
    ``lines[i]`` is not an opening fence or the block is not closed.
    """
    if i >= len(lines):
        raise ValueError("expected an opening fence, found the end of the text")
    m = _OPEN.fullmatch(lines[i])
    if not m:
        raise ValueError(f"expected an opening fence at line {i}, found {lines[i]!r}")
    marker = m.group(1)
    for j in range(i + 1, len(lines)):
        if lines[j] == marker:
            return m.group(2), lines[i + 1 : j], j + 1
    raise ValueError(f"fence opened at line {i} is never closed")


def unfence_code(block: str, numbered: bool = False) -> tuple[str, str]:
    """Inverse of :func:`fence_code`: ``(lang, code)``. Raises ``ValueError`` for anything else
    (text around the block, a missing or wrong line number)."""
    lines = split_lines(block)
    lang, body, end = read_fence(lines, 0)
    if end != len(lines):
        raise ValueError("text after the closing fence")
    if numbered:
        plain = []
        for n, line in enumerate(body, 1):
            prefix = f"{n} "
            if not line.startswith(prefix):
                raise ValueError(f"line {n} does not start with its number")
            plain.append(line[len(prefix) :])
        body = plain
    if not body:
        raise ValueError("a code block holds at least one line")
    return lang, "\n".join(body)
