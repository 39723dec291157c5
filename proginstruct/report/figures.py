"""Report figures (docs/formats.md): per-sample measurements, their per-source and overall summaries, and the
LLM roles' rejection rates from the collection metrics.

Definitions (the report prints them too):

- *history snippets*: ``len(history)``;
- *input*: every history snapshot's code + the current code + the instruction; *output*: the next code +
  the chat. Length in characters (code points) is the sum of the parts' lengths, in whitespace tokens the
  sum of ``len(part.split())``;
- *languages*: distinct non-empty ``current.lang`` values;
- *mix*: share of samples of each type C / H,C / C,U / H,C,U (H = non-empty history, U = non-empty user);
- *loc*: share of samples with no area / a cursor / a range; *no change*: ``next.code == current.code``;
- *rejection rate* of a role: rejected replies / attempts; *failure rate*: calls that gave up / calls;
- *draws* (SPEC 6): candidates drawn, skipped draws by reason, and input records by the number of samples
  they gave, with the mean samples per record (malformed records excluded).

Means are rounded to 2 decimals and shares are percentages rounded to 2 decimals, so the same samples
always give the same JSON bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from ..area.stage import LOC_KINDS, SAMPLE_TYPES, loc_kind
from ..errors import UserError
from ..samples import sample_type

ROW_SCHEMA = pl.Schema({
    "source": pl.String, "lang": pl.String, "model": pl.String, "history": pl.Int64,
    "input_chars": pl.Int64, "input_tokens": pl.Int64, "output_chars": pl.Int64, "output_tokens": pl.Int64,
    "type": pl.String, "loc": pl.String, "no_change": pl.Boolean,
})
LENGTHS = ("input_chars", "input_tokens", "output_chars", "output_tokens")
ROLE_COUNTERS = ("calls", "attempts", "accepted", "failed")


def measure(sample: dict[str, Any]) -> dict[str, Any]:
    """One sample's measurements, a row of :data:`ROW_SCHEMA` (``source`` ``""`` when absent)."""
    history = sample.get("history") or []
    user, chat = sample.get("user") or "", sample.get("chat") or ""
    current, next_ = sample["current"]["code"], sample["next"]["code"]
    inputs = [h["code"] for h in history] + [current, user]
    outputs = [next_, chat]
    return {
        "source": sample.get("source") or "",
        "lang": sample["current"].get("lang") or "",
        "model": str(sample.get("model") or ""),
        "history": len(history),
        "input_chars": sum(len(t) for t in inputs),
        "input_tokens": sum(len(t.split()) for t in inputs),
        "output_chars": sum(len(t) for t in outputs),
        "output_tokens": sum(len(t.split()) for t in outputs),
        "type": sample_type(sample),
        "loc": loc_kind(sample.get("loc")),
        "no_change": current == next_,
    }


def measurements(samples: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """A frame of :func:`measure` rows, one per sample, in order (built in batches: 200K samples are a few MB)."""
    frames, batch = [], []
    for s in samples:
        batch.append(measure(s))
        if len(batch) >= 50_000:
            frames.append(pl.DataFrame(batch, schema=ROW_SCHEMA))
            batch = []
    frames.append(pl.DataFrame(batch, schema=ROW_SCHEMA))
    return pl.concat(frames)


def _share(k: int, n: int) -> float:
    return round(100.0 * k / n, 2) if n else 0.0


def _mean(total: int, n: int) -> float:
    return round(total / n, 2) if n else 0.0


def summarize(rows: pl.DataFrame) -> dict[str, Any]:
    """The figures of one group of samples (all of them, or one source's)::

        {"samples": int, "languages": int, "history": {"mean", "max"},
         "input": {"chars": {"mean", "max"}, "tokens": {"mean", "max"}}, "output": {... same ...},
         "mix": {"C": %, "H,C": %, "C,U": %, "H,C,U": %}, "loc": {"none": %, "cursor": %, "range": %},
         "no_change": {"samples": int, "share": %}}
    """
    n = rows.height
    agg = rows.select(
        *[pl.col(c).sum().alias(f"{c}_sum") for c in ("history", *LENGTHS)],
        *[pl.col(c).max().alias(f"{c}_max") for c in ("history", *LENGTHS)],
        pl.col("no_change").sum().alias("no_change"),
        pl.col("lang").filter(pl.col("lang") != "").n_unique().alias("languages"),
    ).row(0, named=True)
    types = dict(rows.group_by("type").len().iter_rows())
    kinds = dict(rows.group_by("loc").len().iter_rows())

    def stat(col: str) -> dict[str, float | int]:
        return {"mean": _mean(agg[f"{col}_sum"] or 0, n), "max": agg[f"{col}_max"] or 0}

    no_change = agg["no_change"] or 0
    return {
        "samples": n,
        "languages": agg["languages"] or 0,
        "history": stat("history"),
        "input": {"chars": stat("input_chars"), "tokens": stat("input_tokens")},
        "output": {"chars": stat("output_chars"), "tokens": stat("output_tokens")},
        "mix": {t: _share(types.get(t, 0), n) for t in SAMPLE_TYPES},
        "loc": {k: _share(kinds.get(k, 0), n) for k in LOC_KINDS},
        "no_change": {"samples": no_change, "share": _share(no_change, n)},
    }


def role_counts(metrics: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Per role, ``calls`` / ``attempts`` / ``accepted`` / ``failed`` and ``rejected`` (replies rejected, all
    reasons) from one stage's metrics JSON (``roles.<role>.*`` and ``rejected.<role>.<reason>``)."""
    out: dict[str, dict[str, int]] = {}
    roles = metrics.get("roles") or {}
    rejected = metrics.get("rejected") or {}
    for role in sorted(set(roles) | set(rejected)):
        counts = {k: int((roles.get(role) or {}).get(k, 0)) for k in ROLE_COUNTERS}
        counts["rejected"] = _leaf_sum(rejected.get(role) or {})
        out[role] = counts
    return out


def _leaf_sum(node: Any) -> int:
    if isinstance(node, dict):
        return sum(_leaf_sum(v) for v in node.values())
    return int(node)


def add_role_counts(into: dict[str, dict[str, int]], counts: Mapping[str, Mapping[str, int]]) -> None:
    """Add ``counts`` (as from :func:`role_counts`) into ``into``, role by role."""
    for role, c in counts.items():
        slot = into.setdefault(role, {k: 0 for k in (*ROLE_COUNTERS, "rejected")})
        for k, v in c.items():
            slot[k] += v


def role_rates(counts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, Any]]:
    """``counts`` plus ``rejection_rate`` (% of attempts rejected) and ``failure_rate`` (% of calls that gave up)."""
    return {
        role: {**c, "rejection_rate": _share(c["rejected"], c["attempts"]),
               "failure_rate": _share(c["failed"], c["calls"])}
        for role, c in sorted(counts.items())
    }


def stage_metrics_files(metrics_dir: str | os.PathLike, source: str) -> list[Path]:
    """The metrics files holding a source's role counters: ``<source>.json`` (a stage named after the
    source, e.g. the aiprogrammer stage's programmer role) and ``collect_<source>.json``, those that exist."""
    d = Path(metrics_dir)
    return [p for p in (d / f"{source}.json", d / f"collect_{source}.json") if p.exists()]


def load_metrics(path: str | os.PathLike, fix: str = "rerun the stage that writes it") -> dict[str, Any]:
    """The JSON object of a metrics file. Raises :class:`UserError` naming ``path`` and ``fix`` when the
    file is not valid JSON or not an object."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except orjson.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e}); {fix}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object of metrics; {fix}")
    return data


def load_counts(paths: Iterable[str | os.PathLike]) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """``(roles, draws)``: the summed :func:`role_counts` and :func:`draw_counts` of several metrics files,
    each file read once. Raises :class:`UserError` for invalid JSON."""
    roles: dict[str, dict[str, int]] = {}
    draws = no_draws()
    for p in paths:
        metrics = load_metrics(p)
        add_role_counts(roles, role_counts(metrics))
        add_draw_counts(draws, draw_counts(metrics))
    return roles, draws


def draw_counts(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The SPEC 6 draw counters of one collection metrics JSON: ``{"tried": int, "skipped": {reason: int},
    "samples_per_record": {"<k>": records}}`` (from ``draws.tried``, ``draws.skipped.<reason>`` and
    ``samples_per_record.<k>``; zeros / empty when absent)."""
    draws = metrics.get("draws") or {}
    return {"tried": int(draws.get("tried", 0)),
            "skipped": {str(r): _leaf_sum(n) for r, n in (draws.get("skipped") or {}).items()},
            "samples_per_record": {str(k): int(v) for k, v in (metrics.get("samples_per_record") or {}).items()}}


def no_draws() -> dict[str, Any]:
    """Zero draw counters in the layout of :func:`draw_counts` (a new object each call, to add into)."""
    return {"tried": 0, "skipped": {}, "samples_per_record": {}}


def add_draw_counts(into: dict[str, Any], counts: Mapping[str, Any]) -> None:
    """Add ``counts`` (as from :func:`draw_counts`) into ``into``."""
    into["tried"] += counts["tried"]
    for key in ("skipped", "samples_per_record"):
        for k, v in counts[key].items():
            into[key][k] = into[key].get(k, 0) + v


def draw_figures(counts: Mapping[str, Any]) -> dict[str, Any]:
    """``{"records", "tried", "skipped": {reason: int}, "samples", "samples_per_record": {"mean", "records":
    {"<k>": records}}}`` from :func:`draw_counts`: ``records`` collected input records, ``samples`` the
    samples they gave (before merge removes duplicates), keys sorted (samples per record numerically)."""
    hist = {k: counts["samples_per_record"][k] for k in sorted(counts["samples_per_record"], key=int)}
    records = sum(hist.values())
    samples = sum(int(k) * v for k, v in hist.items())
    return {"records": records, "tried": counts["tried"], "skipped": dict(sorted(counts["skipped"].items())),
            "samples": samples, "samples_per_record": {"mean": _mean(samples, records), "records": hist}}
