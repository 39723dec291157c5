"""ROUGE-L F1 over word tokens (SPEC 1.2 steps 4 and 5: internal and external similarity).

Tokens are the lower-cased runs of ASCII letters and digits, as the usual ROUGE tokenizer makes them
(everything else, punctuation and operators included, only separates tokens). The longest common
subsequence of two token lists comes from rapidfuzz's bit-parallel ``LCSseq`` (which accepts lists of
hashables), not from a quadratic Python loop.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence

from rapidfuzz.distance import LCSseq

_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Word tokens of ``text``: lower-cased maximal runs of ``[a-z0-9]``, in order.

    ``tokenize("int  x=Foo(3);")`` is ``["int", "x", "foo", "3"]``; non-ASCII letters separate tokens.
    """
    return _TOKEN.findall(text.lower())


def lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length (in tokens) of the longest common subsequence of two token (or token id) lists."""
    if not a or not b:
        return 0
    return int(LCSseq.similarity(a, b))


def rouge_l_f1(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """ROUGE-L F1 of two token (or token id) lists, in ``[0, 1]``; symmetric.

    With ``l = LCS(a, b)``: precision ``l/len(b)``, recall ``l/len(a)``, F1 = ``2l / (len(a) + len(b))``
    (the harmonic mean simplifies to this). ``0.0`` when either list is empty or nothing is shared.
    Example: ``a b c d`` vs ``a c d e`` share ``a c d`` (l = 3), so F1 = 6/8 = 0.75.
    """
    lcs = lcs_length(a, b)
    if lcs == 0:
        return 0.0
    return 2.0 * lcs / (len(a) + len(b))


def rouge_l_upper_bound(len_a: int, len_b: int) -> float:
    """The best ROUGE-L F1 two token lists of these lengths can reach (``2 min / (len_a + len_b)``);
    lets a caller skip an LCS that cannot reach a threshold."""
    if len_a == 0 or len_b == 0:
        return 0.0
    return 2.0 * min(len_a, len_b) / (len_a + len_b)
