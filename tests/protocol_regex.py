"""The reply grammars of ``proginstruct/roles/grammars.py`` written again as Python regular expressions,
independently of the GBNF text (every grammar there is regular: no rule is recursive).

The tests assert that the GBNF matcher (:mod:`tests.gbnf_matcher`, llguidance) and these expressions agree
on every reply they check, so a quirk of either matcher cannot pass unnoticed.
"""

from __future__ import annotations

import re

from proginstruct.roles.grammars import MAX_VERSIONS, final_fence

# an analysis line: not opening with whitespace, a markdown mark, or the words analysis / decision
_ANALYSIS_LINE = r"(?![ \t\r#*_+\-])(?!(?i:analysis|decision))[^\n]+\n"


def judge_regex(n: int) -> re.Pattern[str]:
    """Exactly ``n`` sections ``**Analysis of change k:**`` / analysis lines / ``**Decision:** True|False``,
    separated by one blank line, nothing after the last decision."""
    sections = [re.escape(f"**Analysis of change {k}:**\n") + f"(?:{_ANALYSIS_LINE})+"
                + re.escape("**Decision:** ") + "(?:True|False)" for k in range(1, n + 1)]
    return re.compile(re.escape("\n\n").join(sections))


def marker_regex(marker: str) -> re.Pattern[str]:
    """The marker, one space, then one line opening with a non-space character."""
    return re.compile(re.escape(marker + " ") + r"[^ \t\r\n][^\n]*")


def programmer_regex(final: str) -> re.Pattern[str]:
    """Prose and blank lines around 2 to ``MAX_VERSIONS`` fenced blocks, nothing after the last one."""
    prose = r"[^ \t\r\n`~][^\n]*\n"
    gap = rf"(?:\n|{prose})+"
    info = r"[a-zA-Z0-9_+#.\-]*"
    fence = final_fence(final)
    block = rf"{fence}{info}\n(?:(?!{fence})[^\n]*\n)*{fence}"
    return re.compile(rf"(?:{gap})?{block}(?:\n(?:{gap})?{block}){{1,{MAX_VERSIONS - 1}}}")
