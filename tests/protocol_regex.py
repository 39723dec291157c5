"""The reply grammars of ``proginstruct/roles/grammars.py`` written again as Python regular expressions,
independently of the GBNF text (every grammar there is regular: no rule is recursive).

The tests assert that the GBNF matcher (:mod:`tests.gbnf_matcher`, llguidance) and these expressions agree
on every reply they check, so a quirk of either matcher cannot pass unnoticed.
"""

from __future__ import annotations

import re

from proginstruct.roles.grammars import ANALYSIS_LINES, LINE_CHARS, MAX_VERSIONS, final_fence


def _prose_line(words: tuple[str, ...], not_first: str, max_chars: int) -> str:
    """A line not opening with a character of ``not_first`` nor with a word of ``words`` (any case), with
    at most ``max_chars`` characters after its first character, or after a proper prefix of a word and
    the character that leaves the word."""
    heads = ["[^" + re.escape(not_first + "".join(w[0].lower() + w[0].upper() for w in words)) + "\\n]"]
    ends = []
    for w in words:
        for k in range(1, len(w)):
            prefix = f"(?i:{re.escape(w[:k])})"
            heads.append(prefix + "[^" + re.escape(w[k].lower() + w[k].upper()) + "\\n]")
            ends.append(prefix)
    return rf"(?:(?:{'|'.join(heads)})[^\n]{{0,{max_chars}}}|{'|'.join(ends)})\n"


# an analysis line: not opening with whitespace, a markdown mark, or the words analysis / decision
_ANALYSIS_LINE = _prose_line(("analysis", "decision"), " \t\r#*_+-", LINE_CHARS)


def judge_regex(n: int) -> re.Pattern[str]:
    """Exactly ``n`` sections ``**Analysis of change k:**`` / 1 to ``ANALYSIS_LINES`` analysis lines /
    ``**Decision:** True|False``, separated by one blank line, nothing after the last decision."""
    sections = [re.escape(f"**Analysis of change {k}:**\n") + f"(?:{_ANALYSIS_LINE}){{1,{ANALYSIS_LINES}}}"
                + re.escape("**Decision:** ") + "(?:True|False)" for k in range(1, n + 1)]
    return re.compile(re.escape("\n\n").join(sections))


def marker_regex(marker: str) -> re.Pattern[str]:
    """The marker, one space, then one line opening with a non-space character, at most ``LINE_CHARS``
    characters after that one."""
    return re.compile(re.escape(marker + " ") + rf"[^ \t\r\n][^\n]{{0,{LINE_CHARS}}}")


def programmer_regex(final: str) -> re.Pattern[str]:
    """Prose and blank lines around 2 to ``MAX_VERSIONS`` fenced blocks, nothing after the last one."""
    prose = r"[^ \t\r\n`~][^\n]*\n"
    gap = rf"(?:\n|{prose})+"
    info = r"[a-zA-Z0-9_+#.\-]*"
    fence = final_fence(final)
    block = rf"{fence}{info}\n(?:(?!{fence})[^\n]*\n)*{fence}"
    return re.compile(rf"(?:{gap})?{block}(?:\n(?:{gap})?{block}){{1,{MAX_VERSIONS - 1}}}")
