"""The report stage (docs/formats.md): the merged dataset -> ``metrics/report.json``, ``reports/dataset.md`` and plots.

``metrics/report.json`` maps ``"overall"`` and each source to :func:`figures.summarize` figures plus
``roles`` (:func:`figures.role_rates`) and ``draws`` (:func:`figures.draw_figures`), both from the
stages' metrics files. Every output is written
atomically and depends only on the samples and those metrics files, so a rerun writes the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import BadRecord
from ..export.merge import read_samples
from ..records import atomic_write_bytes, atomic_write_json
from .figures import (
    add_draw_counts,
    add_role_counts,
    draw_figures,
    load_counts,
    measurements,
    no_draws,
    role_rates,
    stage_metrics_files,
    summarize,
)
from .markdown import render_markdown
from .paper import ordered_sources
from .plots import plot_tables, write_plots
from .quality import quality_section, read_quality_metrics


def _checked(path: str | os.PathLike):
    for index, sample in read_samples(path):
        if not isinstance(sample, dict) or not isinstance(sample.get("current"), dict) \
                or not isinstance(sample.get("next"), dict):
            raise BadRecord(path, index, "not a sample with 'current' and 'next'; fix or remove it")
        yield sample


def build_report(rows: pl.DataFrame, metrics_dir: str | os.PathLike | None) -> tuple[dict[str, Any], list[str]]:
    """``(report, sources)``: the figures of every source (paper order) and ``"overall"``; with a
    ``metrics_dir``, each group also gets ``roles`` and ``draws`` (:func:`figures.draw_figures`; overall =
    the sources' counters summed)."""
    sources = ordered_sources(set(rows["source"].to_list()))
    report: dict[str, Any] = {}
    total: dict[str, dict[str, int]] = {}
    total_draws = no_draws()
    for s in sources:
        report[s] = summarize(rows.filter(pl.col("source") == s))
        if metrics_dir is not None:
            counts, draws = load_counts(stage_metrics_files(metrics_dir, s))
            add_role_counts(total, counts)
            report[s]["roles"] = role_rates(counts)
            add_draw_counts(total_draws, draws)
            report[s]["draws"] = draw_figures(draws)
    report["overall"] = summarize(rows)
    if metrics_dir is not None:
        report["overall"]["roles"] = role_rates(total)
        report["overall"]["draws"] = draw_figures(total_draws)
    return report, sources


def run_report(input_path: str | os.PathLike, metrics_path: str | os.PathLike | None,
               report_dir: str | os.PathLike, metrics_dir: str | os.PathLike | None = "metrics",
               png: bool = True) -> dict[str, Any]:
    """Measure the samples of ``input_path`` (``.jsonl``, ``.json`` or the dataset ``.parquet``) and write
    ``metrics_path`` (JSON), ``<report_dir>/dataset.md`` and ``<report_dir>/plots/`` (CSV, and PNG with
    ``png``); ``dataset.md`` gets a "Quality" section when ``<metrics_dir>/quality.json`` exists. Returns
    the report dict. Raises :class:`UserError` for a missing or invalid input or metrics file,
    :class:`BadRecord` for a record that is not a sample."""
    rows = measurements(_checked(input_path))
    report, sources = build_report(rows, metrics_dir)
    if metrics_path:
        atomic_write_json(metrics_path, report)
    plots_dir = Path(report_dir) / "plots"
    write_plots(rows, sources, plots_dir, png=png)
    langs = plot_tables(rows, sources)["languages"].to_dicts()
    models = dict(rows.group_by("model").len().sort(["len", "model"], descending=[True, False]).iter_rows())
    quality = quality_section(read_quality_metrics(metrics_dir))
    md = render_markdown(report, sources, langs, models, Path(input_path).as_posix(), quality)
    atomic_write_bytes(Path(report_dir) / "dataset.md", md.encode())
    return report
