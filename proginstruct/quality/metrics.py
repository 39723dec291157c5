"""The counters of the quality stage and the layout of ``metrics/quality.json`` (docs/quality.md).

``metrics/quality.json``::

    {"samples": int,            # records read
     "bad_records": int,        # malformed records skipped (on_bad_record: skip)
     "kept": int,
     "removed": {"too_long": int, "breaks_syntax": int, "contaminated": int, "near_duplicate": int},
     "too_long": {"input": int, "output": int},          # samples over each limit (one can be over both)
     "syntax": {"unknown_lang": int,                     # samples whose language the pack has no grammar for
                "unknown_langs": {lang: int},
                "languages": {lang: {"samples", "current_parses", "next_parses": int,
                                     "current_share", "next_share": float}}},   # shares in [0, 1]
     "contaminated": {set name: int},                    # samples sharing an n-gram with each set
     "near_duplicate": {"bands": int, "rows": int, "candidates": int, "unshingled": int},
     "sources": {source: {"samples", "kept": int, "removed": {gate: int}, "contaminated": {set: int}}}}

Each gate sees only the samples that passed the gates before it, so ``kept + sum(removed) + bad_records
== samples``. Languages and sources are keys of plain objects (a language such as ``c++`` is one key).
"""

from __future__ import annotations

from typing import Any

from .gates import Verdict
from .params import GATES, QualityParams


class QualityMetrics:
    """Accumulates :class:`Verdict` outcomes in dataset order; :meth:`as_json` gives the metrics file."""

    def __init__(self, params: QualityParams, set_names: list[str]):
        self.params = params
        self.samples = 0
        self.bad_records = 0
        self.kept = 0
        self.removed = dict.fromkeys(GATES, 0)
        self.over = {"input": 0, "output": 0}
        self.unknown: dict[str, int] = {}
        self.langs: dict[str, list[int]] = {}  # lang -> [samples, current parses, next parses]
        self.contaminated = dict.fromkeys(set_names, 0)
        self.sources: dict[str, dict[str, Any]] = {}
        self.unshingled = 0

    def bad(self) -> None:
        """Count one malformed record (skipped)."""
        self.samples += 1
        self.bad_records += 1

    def add(self, v: Verdict, near_duplicate: bool) -> None:
        """Count one judged sample; ``near_duplicate``: gate 4 removed it (only when ``v.gate`` is ``None``)."""
        self.samples += 1
        src = self.sources.get(v.source)
        if src is None:
            src = self.sources[v.source] = {"samples": 0, "kept": 0, "removed": dict.fromkeys(GATES, 0),
                                            "contaminated": dict.fromkeys(self.contaminated, 0)}
        src["samples"] += 1
        if v.over is not None:
            self.over["input"] += v.over[0]
            self.over["output"] += v.over[1]
        if v.unknown_lang:
            self.unknown[v.lang] = self.unknown.get(v.lang, 0) + 1
        if v.parsed is not None:
            row = self.langs.setdefault(v.lang, [0, 0, 0])
            row[0] += 1
            row[1] += v.parsed[0]
            row[2] += v.parsed[1]
        for name in v.sets:
            self.contaminated[name] += 1
            src["contaminated"][name] += 1
        gate = v.gate or ("near_duplicate" if near_duplicate else None)
        if v.gate is None and self.params.near_duplicate and v.minhash is None:
            self.unshingled += 1
        if gate is None:
            self.kept += 1
            src["kept"] += 1
        else:
            self.removed[gate] += 1
            src["removed"][gate] += 1

    def as_json(self, bands: int, candidates: int) -> dict[str, Any]:
        """The metrics object (module doc); ``bands`` and ``candidates`` come from the near-duplicate index."""
        num_perm = self.params.near_dup_num_perm

        def share(k: int, n: int) -> float:
            return round(k / n, 4) if n else 0.0

        return {
            "samples": self.samples,
            "bad_records": self.bad_records,
            "kept": self.kept,
            "removed": dict(self.removed),
            "too_long": dict(self.over),
            "syntax": {
                "unknown_lang": sum(self.unknown.values()),
                "unknown_langs": dict(sorted(self.unknown.items())),
                "languages": {lang: {"samples": n, "current_parses": c, "next_parses": x,
                                     "current_share": share(c, n), "next_share": share(x, n)}
                              for lang, (n, c, x) in sorted(self.langs.items())},
            },
            "contaminated": dict(self.contaminated),
            "near_duplicate": {"bands": bands, "rows": num_perm // bands if bands else 0,
                               "candidates": candidates, "unshingled": self.unshingled},
            "sources": {s: self.sources[s] for s in sorted(self.sources)},
        }
