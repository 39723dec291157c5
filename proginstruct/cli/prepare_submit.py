"""``proginstruct prepare-submit``: CodeNet-layout folder -> submit records (SPEC 1.2, params section
``prepare_submit``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click

from ..records import atomic_open, atomic_write_json, dumps, write_records
from ..sources.licenses import folder_license
from ..sources.submit import SkipHook, SubmitParams, prepare_submit, summary_line
from ..stats import Stats
from .common import load_params, param_options, params_option, resolve, user_errors

DEFAULTS: dict[str, Any] = {
    "root": "data/samples/codenet",
    "statements": "data/samples/codenet/problem_descriptions.json",
    "max_per_problem": 50,
    "max_per_lang_problem": 10,
    "internal_similarity_threshold": 0.7,
    "external_similarity_threshold": 0.4,
    # SPDX id recorded on every record when the folder holds no recognisable licence file: IBM's Project
    # CodeNet is distributed under Apache-2.0 (its repository's licence); "" = record none
    "license": "Apache-2.0",
}


@contextlib.contextmanager
def skip_log(path: str | None) -> Iterator[SkipHook | None]:
    """An ``on_skip`` hook streaming ``{"id", "problem_id", "user_id", "reason"}`` JSON lines to ``path``
    (through a temporary file renamed on success); yields ``None`` when ``path`` is empty."""
    if not path:
        yield None
        return
    with atomic_open(path) as fh:
        def hook(problem_id: str, user_id: str, reason: str) -> None:
            fh.write(dumps({"id": f"{problem_id}:{user_id}", "problem_id": problem_id,
                            "user_id": user_id, "reason": reason}) + b"\n")

        yield hook


def run(cfg: dict[str, Any], output_path: str, metrics_path: str | None = None,
        skipped_path: str | None = None, progress: bool = True) -> Stats:
    """Prepare submit records with the resolved config ``cfg`` (keys of :data:`DEFAULTS`), write them
    atomically to ``output_path`` (.jsonl/.json/.parquet), the counters (and params) to ``metrics_path``
    and, when given, one line per skipped history to ``skipped_path``. Every record gets ``license``: the
    SPDX id of the licence file in ``root`` (:func:`~proginstruct.sources.licenses.folder_license`), else
    ``cfg["license"]`` (none when ``""``). Prints the summary line on stderr
    and returns the counters. Raises :class:`UserError` for a missing root or bad params."""
    params = SubmitParams(**{k: cfg[k] for k in SubmitParams.__dataclass_fields__})
    stats = Stats()
    license = folder_license(cfg["root"]) or str(cfg.get("license") or "")
    with skip_log(skipped_path) as on_skip:
        records = prepare_submit(cfg["root"], cfg["statements"], params, stats, progress, on_skip)
        if license:  # sample provenance: the licence of the folder's code
            records = ({**r, "license": license} for r in records)
        stats["records.written"] = write_records(output_path, records)
    click.echo(summary_line(stats), err=True)
    if metrics_path:
        atomic_write_json(metrics_path, {**stats.nested(), "params": params.as_dict()})
    return stats


@click.command("prepare-submit")
@user_errors
@params_option
@param_options(DEFAULTS)
@click.option("--output_path", default="data/prepared/submit.jsonl", show_default=True,
              help="submit records (.jsonl, .json or .parquet)")
@click.option("--metrics_path", default="metrics/prepare_submit.json", show_default=True,
              help="counters JSON ('' to skip)")
@click.option("--skipped_path", default="", help="optional JSONL naming every skipped history and its reason")
def command(params_path: str, output_path: str, metrics_path: str, skipped_path: str, **flags: Any) -> None:
    """Online-judge histories from a CodeNet-layout folder (--root) and a statements JSON (--statements)."""
    cfg = resolve(DEFAULTS, load_params(params_path, "prepare_submit"), flags, "prepare_submit")
    run(cfg, output_path, metrics_path or None, skipped_path or None)
