"""SPEC 8 on a real run: every sample of ``make all``'s export reads back to ``next.code`` through the reading
rules of CursorCore's evaluation harness (:mod:`tests.harness_readers`), except those counted in
``metrics/export.json`` as ``harness_unreadable.fence_in_code``.

Skipped until ``make all`` (or ``dvc repro export``) has written ``data/export/``. Also a script:
``python -m tests.test_dataset_readback [ROOT]`` prints the counts per format.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

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


@pytest.mark.slow
def test_make_all_export_reads_back_through_the_harness_rules():
    if not (ROOT / "data/export/sr.jsonl").exists() or not (ROOT / "data/final/programming_instruct.jsonl").exists():
        pytest.skip("no data/export/ yet: run `make all` first")
    counts = readback_counts(ROOT)
    metrics = orjson.loads((ROOT / "metrics/export.json").read_bytes())
    for fmt, c in counts.items():
        assert c["misses"] == [], fmt
        assert c["exported"] == metrics["exported"][fmt]
        assert c["fence_in_code"] == metrics["harness_unreadable"]["fence_in_code"]


if __name__ == "__main__":
    for fmt, c in readback_counts(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT).items():
        print(f"{fmt}: {c['read_back']} of {c['exported']} read back to next.code "
              f"({c['fence_in_code']} with ``` lines in the code; other misses: {c['misses'] or 'none'})")
