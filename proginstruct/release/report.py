"""Reading the dataset report's counts for the card (issue 6).

The report stage (issue 5) writes ``metrics/report.json`` with per-source summaries. The card only needs
samples per source; this module finds them and tolerates the report being absent or shaped otherwise
(the card then counts the final files itself).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

REPORT = "metrics/report.json"
# where a per-source mapping may live in the report, first match wins
SOURCE_KEYS = ("sources", "by_source", "per_source")


def read_report(root: str | os.PathLike) -> dict[str, Any] | None:
    """The parsed ``<root>/metrics/report.json``, or ``None`` when it is absent or not a JSON object."""
    p = Path(root) / REPORT
    try:
        data = orjson.loads(p.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def source_counts(report: dict[str, Any]) -> dict[str, int]:
    """``{source: samples}`` from a report: the first of :data:`SOURCE_KEYS` holding
    ``{source: {"samples": int, ...}}`` (or ``{source: int}``); ``{}`` when there is none."""
    for key in SOURCE_KEYS:
        node = report.get(key)
        if not isinstance(node, dict):
            continue
        counts = {}
        for name, value in node.items():
            if isinstance(value, dict) and isinstance(value.get("samples"), int):
                counts[str(name)] = value["samples"]
            elif isinstance(value, int) and not isinstance(value, bool):
                counts[str(name)] = value
        if counts:
            return counts
    return {}
