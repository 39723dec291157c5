"""Sampling a code series from one input record (SPEC 4) and validating input records (SPEC 1)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..blocks import edit_series
from ..text import unified_diff

DATA_TYPES = ("commit", "aiprogrammer", "submit")


@dataclass(frozen=True)
class Series:
    """``versions``: code snapshots oldest first (the candidates for ``current``); ``final``: the code the
    programmer ends with; ``lang``: language for every snapshot (``""`` when unknown); ``context``:
    commit message (commit) or problem statement (submit), ``""`` otherwise; ``license``: the SPDX id of
    the source's licence when the input record names one (its ``license`` field), else ``""``."""

    versions: tuple[str, ...]
    final: str
    lang: str
    context: str = ""
    license: str = ""
    _steps: dict[int, str] = field(default_factory=dict, compare=False, repr=False)

    def revision_diffs(self, c: int) -> tuple[str, ...]:
        """Unified diffs of consecutive ``versions[:c + 1]`` (the history of version ``c`` then itself),
        each computed once per series: every draw and role of the record shares them."""
        for i in range(c):
            if i not in self._steps:
                self._steps[i] = unified_diff(self.versions[i], self.versions[i + 1])
        return tuple(self._steps[i] for i in range(c))


def check_record(data_type: str, rec: object) -> str | None:
    """Why ``rec`` is not a valid ``data_type`` record (SPEC 1), or ``None`` when it is valid."""
    if not isinstance(rec, dict):
        return f"expected a JSON object, got {type(rec).__name__}"
    if data_type == "commit":
        for k in ("code1", "code2"):
            if not isinstance(rec.get(k), str):
                return f"missing or non-string field '{k}'"
        for k in ("lang", "git"):
            if k in rec and rec[k] is not None and not isinstance(rec[k], str):
                return f"field '{k}' must be a string"
    elif data_type == "aiprogrammer":
        out = rec.get("output")
        if not isinstance(out, list) or not out or not all(isinstance(v, str) for v in out):
            return "field 'output' must be a non-empty list of strings"
    elif data_type == "submit":
        subs = rec.get("submissions")
        if not isinstance(subs, list) or not subs or not all(isinstance(v, str) for v in subs):
            return "field 'submissions' must be a non-empty list of strings"
        if not isinstance(rec.get("language"), str):
            return "missing or non-string field 'language'"
    else:
        raise ValueError(f"unknown data_type {data_type!r}; expected one of {DATA_TYPES}")
    return None


def _pairwise_series(versions: list[str], rng: random.Random, limit_one_block_prob: float) -> list[str]:
    out: list[str] = []
    for x, y in zip(versions, versions[1:], strict=False):
        if rng.random() < limit_one_block_prob:
            out.extend(edit_series(x, y, rng)[:-1])
        else:
            out.append(x)
    return out


def code_series(data_type: str, rec: dict, rng: random.Random, limit_one_block_prob: float) -> Series:
    """The code series of SPEC 4 for a valid record (see :func:`check_record`).

    - aiprogrammer: each consecutive pair of ``output`` versions is split into single-block steps with
      probability ``limit_one_block_prob``, else kept whole; ``final`` is the last version;
    - commit: ``edit_series(code1, code2)`` minus its last element with that probability, else ``[code1]``;
    - submit: like aiprogrammer over ``submissions``, ``lang = language.lower()``.

    A string ``license`` field of the record becomes :attr:`Series.license`.
    """
    lic = rec.get("license") if isinstance(rec.get("license"), str) else ""
    if data_type == "commit":
        if rng.random() < limit_one_block_prob:
            versions = edit_series(rec["code1"], rec["code2"], rng)[:-1]
        else:
            versions = [rec["code1"]]
        return Series(tuple(versions), rec["code2"], (rec.get("lang") or "").lower(), rec.get("git") or "", lic)
    if data_type == "aiprogrammer":
        outs = rec["output"]
        return Series(tuple(_pairwise_series(outs, rng, limit_one_block_prob)), outs[-1],
                      (rec.get("lang") or "").lower(), "", lic)
    if data_type == "submit":
        subs = rec["submissions"]
        return Series(tuple(_pairwise_series(subs, rng, limit_one_block_prob)), subs[-1],
                      rec["language"].lower(), rec.get("problems_contexts") or "", lic)
    raise ValueError(f"unknown data_type {data_type!r}; expected one of {DATA_TYPES}")
