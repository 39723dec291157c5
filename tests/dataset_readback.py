"""SPEC 8 on a real run: do the samples of ``make all``'s export read back to ``next.code`` through the
reading rules of CursorCore's evaluation harness (:mod:`tests.harness_readers`)?

``python -m tests.dataset_readback [ROOT]`` (after ``make all``; ``ROOT`` defaults to this checkout) prints
the counts per format and exits with 1 when a sample reads back wrong for another reason than a line
starting with ```` ``` ```` in its code (``harness_unreadable.fence_in_code`` in ``metrics/export.json``).
A script rather than a test: it checks whatever ``data/export/`` holds, which may predate the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from .harness_readers import READERS, HarnessMiss, fence_in_code

ROOT = Path(__file__).resolve().parents[1]


def readback_counts(root: Path) -> dict[str, dict[str, object]]:
    """Per format: ``exported``, ``read_back`` (equal to next.code), ``fence_in_code`` (samples with a line
    starting with ```) and ``misses`` (ids of the others that do not read back)."""
    samples = {}
    for line in (root / "data/final/programming_instruct.jsonl").read_bytes().splitlines():
        s = orjson.loads(line)
        samples[s["id"]] = s
    out: dict[str, dict[str, object]] = {}
    for fmt, read in READERS.items():
        counts: dict[str, object] = {"exported": 0, "read_back": 0, "fence_in_code": 0, "misses": []}
        for line in (root / "data/export" / f"{fmt}.jsonl").read_bytes().splitlines():
            row = orjson.loads(line)
            sample = samples[row["id"]]
            current, nxt = sample["current"]["code"], sample["next"]["code"]
            counts["exported"] += 1
            try:
                ok = read(current, row["conversation"][-1]["content"]) == nxt
            except HarnessMiss:
                ok = False
            counts["read_back"] += ok
            if fence_in_code(current) or fence_in_code(nxt):
                counts["fence_in_code"] += 1
            elif not ok:
                counts["misses"].append(row["id"])
        out[fmt] = counts
    return out


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else ROOT
    counts = readback_counts(root)
    for fmt, c in counts.items():
        print(f"{fmt}: {c['read_back']} of {c['exported']} read back to next.code "
              f"({c['fence_in_code']} with ``` lines in the code; other misses: {c['misses'] or 'none'})")
    return 1 if any(c["misses"] for c in counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
