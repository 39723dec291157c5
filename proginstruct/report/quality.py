"""The report's "Quality" section: what the quality stage removed, from ``metrics/quality.json``
(layout: :mod:`proginstruct.quality.metrics`; the gates: docs/quality.md).

Three tables: removals per source and gate, the per-language parse rates of current and next code, and
what each decontamination set caught per source. Pure text from the metrics, so the same metrics give
the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..quality.params import GATES
from .figures import load_metrics
from .markdown import table
from .paper import ordered_sources, source_label

GATE_LABELS = {"too_long": "too long", "breaks_syntax": "breaks syntax", "contaminated": "contaminated",
               "near_duplicate": "near-duplicate"}
METRICS_FILE = "quality.json"


def read_quality_metrics(metrics_dir: str | os.PathLike | None) -> dict[str, Any] | None:
    """``<metrics_dir>/quality.json``, or ``None`` when there is no such file (a recipe without the stage).
    Raises :class:`UserError` naming the file when it is not a JSON object
    (:func:`~.figures.load_metrics`)."""
    if metrics_dir is None:
        return None
    p = Path(metrics_dir) / METRICS_FILE
    return load_metrics(p, "rerun the quality stage") if p.is_file() else None


def _pct(share: float) -> str:
    return f"{100 * share:.2f}"


def removals_table(m: dict[str, Any]) -> list[str]:
    """Per source (paper order) and in total: samples in, removed by each gate (in gate order), kept."""
    gates = [g for g in GATES if g in m["removed"]] + sorted(g for g in m["removed"] if g not in GATES)
    sources = m.get("sources") or {}
    rows = [[source_label(s), sources[s]["samples"], *(sources[s]["removed"].get(g, 0) for g in gates),
             sources[s]["kept"]] for s in ordered_sources(list(sources))]
    rows.append(["Total", m["samples"] - m.get("bad_records", 0), *(m["removed"][g] for g in gates), m["kept"]])
    return table(["source", "samples", *(GATE_LABELS.get(g, g) for g in gates), "kept"], rows)


def parse_table(m: dict[str, Any]) -> list[str]:
    """Per language: samples parsed, and the share (%) of their current and next code that parses."""
    langs = (m.get("syntax") or {}).get("languages") or {}
    if not langs:
        return ["No sample was parsed (the gate is off, or no sample has a language with a grammar)."]
    rows = [[lang, r["samples"], _pct(r["current_share"]), _pct(r["next_share"])] for lang, r in langs.items()]
    return table(["language", "samples", "current parses %", "next parses %"], rows)


def decontamination_table(m: dict[str, Any]) -> list[str]:
    """Per decontamination set: the samples sharing an n-gram with it, per source and in total."""
    sets = list(m.get("contaminated") or {})
    if not sets:
        return ["No decontamination set was checked (the gate is off or `quality.decontaminate` is empty)."]
    sources = m.get("sources") or {}
    order = ordered_sources(list(sources))
    rows = [[name, *(sources[s]["contaminated"].get(name, 0) for s in order), m["contaminated"][name]]
            for name in sets]
    return table(["set", *(source_label(s) for s in order), "total"], rows)


def quality_section(m: dict[str, Any] | None) -> list[str]:
    """The Markdown lines of the "Quality" section (``[]`` without metrics)."""
    if m is None:
        return []
    unknown = (m.get("syntax") or {}).get("unknown_langs") or {}
    skipped = ", ".join(f"`{lang}` ({n})" for lang, n in unknown.items()) or "none"
    out = [
        "## Quality",
        "",
        f"The `quality` stage checked {m['samples']} merged samples and kept {m['kept']} (the dataset measured "
        "above). Each gate sees the samples the gates before it kept; figures from `metrics/quality.json`.",
        "",
        *removals_table(m),
        "",
    ]
    if m.get("bad_records"):
        out += [f"Malformed records skipped: {m['bad_records']}.", ""]
    out += [
        "### Parse rates",
        "",
        "Share of the samples whose code parses with tree-sitter (no ERROR or MISSING node), among the "
        "samples that reached the syntax gate (before the later gates removed any, so more than are kept); "
        "a sample is removed as *breaks syntax* when its current code parses and its next code does not.",
        "",
        *parse_table(m),
        "",
        f"Samples in languages without a grammar (not parsed): {skipped}.",
        "",
        "### Decontamination",
        "",
        "Samples sharing a token n-gram with an item of each set (a sample can share with several; each "
        "such sample is removed as *contaminated*).",
        "",
        *decontamination_table(m),
        "",
    ]
    return out
