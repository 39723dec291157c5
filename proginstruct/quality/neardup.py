"""Near-duplicate samples: MinHash LSH over word shingles of current + next code (``rensa``).

A sample's shingles are the runs of ``k`` consecutive words (whitespace-separated) of its current code and
of its next code (a text shorter than ``k`` words gives itself as one shingle; a sample with no words at all
is never a near-duplicate). Samples are visited in dataset order: a sample whose MinHash signature is at
least ``threshold`` similar (the share of equal signature values, MinHash's Jaccard estimate) to a sample
kept earlier is a near-duplicate; otherwise it is kept and indexed. LSH bands only pick the candidates to
compare; the decision is the estimate, so it does not depend on the banding.

``rensa`` was measured faster than ``datasketch`` here (bench/quality.py, docs/quality.md): its
signatures are computed in Rust, datasketch's in numpy per permutation.
"""

from __future__ import annotations

from functools import cache

import rensa


def shingles(current: str, next_: str, k: int) -> list[str]:
    """The word ``k``-shingles of ``current`` and of ``next_`` (each text on its own; ``next_`` skipped
    when equal to ``current``), as strings of words joined by one space. ``[]`` when both have no word."""
    out: list[str] = []
    for text in (current,) if next_ == current else (current, next_):
        words = text.split()
        if len(words) >= k:
            out.extend(map(" ".join, zip(*(words[i:] for i in range(k)))))
        elif words:
            out.append(" ".join(words))
    return out


def signature(current: str, next_: str, k: int, num_perm: int, seed: int) -> rensa.RMinHash | None:
    """The MinHash signature of a sample's shingles (:func:`shingles`), or ``None`` when it has none."""
    items = shingles(current, next_, k)
    if not items:
        return None
    mh = rensa.RMinHash(num_perm, seed)
    mh.update(items)
    return mh


MIN_RECALL = 0.9  # least chance that a pair exactly at the threshold becomes an LSH candidate


@cache
def lsh_bands(threshold: float, num_perm: int) -> int:
    """The number of LSH bands b (a divisor of ``num_perm``, r = num_perm / b rows each): the fewest bands
    whose candidate probability ``1 - (1 - s**r)**b`` at ``s = threshold`` is at least :data:`MIN_RECALL`
    (fewer bands, fewer false candidates to compare). 128 permutations at 0.8 give 16 bands of 8 rows:
    a pair at Jaccard 0.8 is a candidate with probability 0.95, one at 0.5 with 0.06."""
    for b in (d for d in range(1, num_perm + 1) if num_perm % d == 0):
        r = num_perm // b
        if 1.0 - (1.0 - threshold**r) ** b >= MIN_RECALL:
            return b
    return num_perm


class NearDuplicateIndex:
    """The signatures of the samples kept so far, with an LSH index over them.

    ``candidates`` counts the LSH candidates compared so far (kept samples are compared in dataset order, up
    to the first one similar enough).
    """

    def __init__(self, threshold: float, num_perm: int):
        self.threshold = threshold
        self.bands = lsh_bands(threshold, num_perm)
        self._lsh = rensa.RMinHashLSH(threshold, num_perm, self.bands)
        self._kept: list[rensa.RMinHash] = []
        self.candidates = 0

    def __len__(self) -> int:
        return len(self._kept)

    def is_duplicate(self, mh: rensa.RMinHash) -> bool:
        """``True`` when ``mh`` is at least ``threshold`` similar to a kept signature (then it is not
        indexed); else index it as kept and return ``False``."""
        for key in sorted(self._lsh.query(mh)):  # in dataset order: the same count on every run
            self.candidates += 1
            if mh.jaccard(self._kept[key]) >= self.threshold:
                return True
        self._lsh.insert(len(self._kept), mh)
        self._kept.append(mh)
        return False
