"""Reading the dataset report's figures for the card (docs/datasets.md).

The report stage (:mod:`proginstruct.report.stage`) writes ``metrics/report.json``: one entry per source and ``"overall"``, each
with ``samples``, ``languages``, ``mix`` (sample-type shares in %) and more. The card takes the per-source
figures from it; when the report is absent (or shaped otherwise) the card counts the final files itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

REPORT = "metrics/report.json"
OVERALL = "overall"


def read_report(root: str | os.PathLike) -> dict[str, Any] | None:
    """The parsed ``<root>/metrics/report.json``, or ``None`` when it is absent or not a JSON object."""
    p = Path(root) / REPORT
    try:
        data = orjson.loads(p.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def source_figures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{source: figures}`` for every top-level entry but ``"overall"`` whose ``samples`` is an integer;
    ``{}`` when there is none."""
    return {str(name): value for name, value in report.items()
            if name != OVERALL and isinstance(value, dict) and isinstance(value.get("samples"), int)
            and not isinstance(value.get("samples"), bool)}


def source_counts(report: dict[str, Any]) -> dict[str, int]:
    """``{source: samples}`` from :func:`source_figures`."""
    return {name: fig["samples"] for name, fig in source_figures(report).items()}
