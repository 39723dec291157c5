"""The dataset card of a release (docs/datasets.md): ``data/final/README.md``, a Markdown page for people.

It says what a tag holds and where it came from: the released files (everything ``dvc.lock`` pins under
``data/final/`` plus the DAG's other leaves such as exports and reports: path, records, bytes, md5),
samples per source (the figures of ``metrics/report.json`` when the report stage wrote it, else the lines
of ``data/final/<source>.jsonl``; records read from ``metrics/collect_<source>.json``), the models that
wrote the samples, the parameter values the lock recorded, each source's inputs with a license note, and
how to get the data with DVC.

:func:`gather` reads a project into :class:`CardFacts`; :func:`render` is a pure function of those facts;
:func:`write_card` does both and writes the file atomically. Secrets never reach the card: of
``model_map.json`` only the model names are read.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from ..errors import UserError
from ..records import atomic_write_bytes
from .counts import count_records, model_counts
from .lock import Entry, Lock, read_lock
from .report import read_report, source_figures
from .tools import git

CARD_PATH = "data/final/README.md"
FINAL_DIR = "data/final"
SIMULATOR_MODEL = "proginstruct-simulator"
# the inputs shipped with the recipe (written for this project, under its license)
SHIPPED_INPUTS = ("data/samples/",)


@dataclass
class SourceFacts:
    """One source of the release: ``name`` (``commit``, ``aiprogrammer``, ``submit`` ...), its ``samples``
    (the report's count, else the lines of its final file), that ``file`` (relative path or ``None``), the
    ``inputs`` its stages read (lock entries), ``extra_inputs`` described in words (a git repository,
    dataset files from params), ``inputs_read`` (records its collect stage read, from its metrics),
    ``languages`` (from the report), ``types`` (sample type -> share like ``"47.83%"`` from the report,
    else -> count from the collect metrics) and the ``license`` note."""

    name: str
    samples: int
    file: str | None = None
    inputs: list[Entry] = field(default_factory=list)
    extra_inputs: list[str] = field(default_factory=list)
    inputs_read: int | None = None
    languages: int | None = None
    types: dict[str, Any] = field(default_factory=dict)
    license: str = ""


@dataclass
class CardFacts:
    """Everything the card shows. ``tag`` labels the release (``v1.0.0``, or ``unreleased``); ``files`` pairs each released lock entry with its record count
    (``None`` for folders and other formats); ``models`` counts samples per model; ``model_map`` lists the
    configured model names; ``params`` are the lock's parameter values; ``counts_from`` names where the
    per-source counts came from (``metrics/report.json`` or the final files)."""

    tag: str
    date: str
    commit: str
    files: list[tuple[Entry, int | None]]
    sources: list[SourceFacts]
    models: Counter[str]
    model_map: list[str]
    params: dict[str, Any]
    counts_from: str

    @property
    def total(self) -> int:
        """Samples over every source."""
        return sum(s.samples for s in self.sources)


def _model_names(root: Path, params: dict[str, Any]) -> list[str]:
    """The model names of the model map the lock used (keys only: never bases or keys)."""
    path = root / str((params.get("llm") or {}).get("model_map") or "model_map.json")
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    return sorted(data) if isinstance(data, dict) else []


def _metrics(root: Path, name: str) -> dict[str, Any]:
    p = root / "metrics" / f"{name}.json"
    try:
        data = orjson.loads(p.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def project_license(root: str | os.PathLike) -> str:
    """The recipe's own license: ``project.license`` of ``<root>/pyproject.toml`` (an SPDX string or the
    older ``{text = ...}`` table), else ``"see LICENSE"``."""
    try:
        project = tomllib.loads((Path(root) / "pyproject.toml").read_text("utf-8")).get("project") or {}
    except (OSError, tomllib.TOMLDecodeError):
        return "see LICENSE"
    value = project.get("license")
    if isinstance(value, dict):
        value = value.get("text")
    return str(value) if value else "see LICENSE"


def _is_shipped(path: str) -> bool:
    return path.startswith(SHIPPED_INPUTS)


def license_note(source: str, inputs: list[Entry], params: dict[str, Any], own: str = "see LICENSE") -> str:
    """The license note for one source's inputs: shipped samples and this repository's code are
    under the recipe's license ``own`` (:func:`project_license`); anything else keeps the license of where
    it came from, named when known."""
    data = [e for e in inputs if e.path != "model_map.json"]
    shipped = bool(data) and all(_is_shipped(e.path) for e in data)
    if source == "commit":
        pc = params.get("prepare_commit") or {}
        repo = str(pc.get("repo", "."))
        note = (f"Code mined from this repository (proginstruct, {own})." if repo in (".", "")
                else f"Code mined from the git repository `{repo}`: samples carry its code, so its license applies.")
        if pc.get("input_paths"):
            note += (" CommitPackFT / EditPackFT files keep the license of each original repository"
                     " (given per record in those datasets): keep it with the samples.")
        return note
    if shipped:
        return (f"The inputs (`{'`, `'.join(e.path for e in data)}`) were written for this project"
                f" ({own}).")
    if source == "submit":
        return ("Online-judge submissions: Project CodeNet is distributed by IBM under its own terms;"
                " check them (and the judges' terms) before publishing data derived from it.")
    return "Inputs supplied by the user: their license applies to the samples made from them."


def source_files(root: Path, lock: Lock) -> list[Path]:
    """The per-source sample files: ``data/final/<source>.jsonl`` made by a ``foreach`` stage ``<name>@<source>``
    (so the merged dataset in the same folder is not taken for a source). Without such stages, every
    ``data/final/*.jsonl``."""
    per_source = {name.split("@", 1)[1] for name in lock.stages if "@" in name}
    files = sorted((root / FINAL_DIR).glob("*.jsonl"))
    return [p for p in files if p.stem in per_source] if per_source else files


def gather(root: str | os.PathLike, tag: str = "unreleased", date: str | None = None) -> CardFacts:
    """Read a project (``dvc.lock``, released files, metrics, the report, the model map's names) into facts.

    ``date`` defaults to today (UTC, ``YYYY-MM-DD``). Raises :class:`UserError` when ``dvc.lock`` is
    missing or a released file is absent from the workspace.
    """
    root = Path(root)
    lock = read_lock(root)
    params = lock.params()
    files = [(e, count_records(root / e.path)) for e in sorted(lock.released(), key=lambda e: e.path)]
    own = project_license(root)
    report = read_report(root)
    figures = source_figures(report) if report is not None else {}
    finals = source_files(root, lock)
    names = sorted({p.stem for p in finals} | set(figures))
    sources = []
    for name in names:
        stages = [s for s in lock.stages if name in s.split("@")[-1].split("_")]
        final = root / FINAL_DIR / f"{name}.jsonl"
        fig = figures.get(name) or {}
        samples = fig["samples"] if fig else (count_records(final) if final.exists() else 0)
        inputs = lock.inputs(stages)
        extra = []
        if name == "commit":
            pc = params.get("prepare_commit") or {}
            extra.append(f"git repository `{pc.get('repo', '.')}` at `{pc.get('rev', 'HEAD')}` (first parents)")
            if pc.get("input_paths"):
                extra.append(f"commit dataset files `{pc['input_paths']}`")
        collect = _metrics(root, f"collect_{name}")
        mix = fig.get("mix") if isinstance(fig.get("mix"), dict) else None
        sources.append(SourceFacts(
            name=name, samples=int(samples), file=f"{FINAL_DIR}/{name}.jsonl" if final.exists() else None,
            inputs=inputs, extra_inputs=extra, inputs_read=collect.get("inputs"),
            languages=fig.get("languages"),
            types={k: f"{v}%" for k, v in mix.items()} if mix else dict(collect.get("sample_types") or {}),
            license=license_note(name, inputs, params, own),
        ))
    try:
        commit = git(root, "rev-parse", "HEAD")
    except UserError:
        commit = "(no commit)"
    return CardFacts(
        tag=tag, date=date or dt.datetime.now(dt.UTC).date().isoformat(), commit=commit,
        files=files, sources=sources, models=model_counts(finals), model_map=_model_names(root, params),
        params=params, counts_from="metrics/report.json" if figures else "the final files",
    )


def _or_dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _size(n: int | None) -> str:
    """Exact bytes with thousands separators (``1,630 B``); ``-`` when unknown."""
    return "-" if n is None else f"{n:,} B"


def render(f: CardFacts) -> str:
    """The card's Markdown (deterministic for given facts, ends with a newline)."""
    tag = f.tag
    released = tag.startswith("v")
    rev = tag if released else "<tag>"
    source_paths = {s.file for s in f.sources}
    merged = [e.path for e, _ in f.files if e.path.startswith(f"{FINAL_DIR}/") and e.path.endswith(".jsonl")
              and e.path not in source_paths]
    example = (merged or [s.file for s in f.sources if s.file] or [e.path for e, _ in f.files] or [FINAL_DIR])[0]
    out = [f"# proginstruct dataset {tag}", ""]
    intro = (f"Code-editing training samples made by the Programming-Instruct recipe (CursorCore), {f.date}:"
             f" {f.total} samples from {len(f.sources)} source(s), made at recipe commit `{f.commit[:12]}` whose"
             " `dvc.lock` pins every file below by md5.")
    if released:
        intro += f" The annotated git tag `{tag}` marks the commit that adds this card to it."
    out += [intro, ""]
    if SIMULATOR_MODEL in f.models:
        out += [f"> **Simulated data.** {f.models[SIMULATOR_MODEL]} samples were written by the built-in simulator,"
                " a deterministic stand-in for a language model: placeholder data for trying the recipe, not for"
                " training.", ""]
    out += ["## Get it", "", "```bash",
            f"dvc get <repository-url> {example} --rev {rev}     # a copy; no DVC project needed",
            f"dvc import <repository-url> {example} --rev {rev}  # tracked; 'dvc update --rev <newer tag>' moves it",
            f"git clone <repository-url> proginstruct && cd proginstruct && git checkout {rev} && dvc pull",
            "```", "", "See \"Sharing datasets\" in the repository README for remotes and `file://` URLs.", ""]
    out += ["## Files", "", "| file | records | size | md5 |", "|---|---:|---:|---|"]
    for e, n in f.files:
        count = f"{n}" if n is not None else (f"{e.nfiles} files" if e.nfiles is not None else "-")
        out.append(f"| `{e.path}` | {count} | {_size(e.size)} | `{e.md5.removesuffix('.dir')}` |")
    out += ["", f"## Samples by source ({f.counts_from})", "",
            "| source | samples | languages | inputs read | sample types |", "|---|---:|---:|---:|---|"]
    for s in f.sources:
        types = ", ".join(f"{k}: {v}" for k, v in sorted(s.types.items()))
        out.append(f"| {s.name} | {s.samples} | {_or_dash(s.languages)} | {_or_dash(s.inputs_read)} | {types or '-'} |")
    out += [f"| **total** | **{f.total}** | | | |", "", "## Models", ""]
    out.append("Samples per model in the per-source files:")
    out.append("")
    for model, n in sorted(f.models.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"- `{model}`: {n} samples")
    if not f.models:
        out.append("- (no samples)")
    if f.model_map:
        out += ["", f"Model map at release: {', '.join(f'`{m}`' for m in f.model_map)}."]
    out += ["", "The instructions, chats and AI-programmer histories are model outputs: the terms of use of the"
            " models above apply to them as well.", "", "## Sources, inputs and licenses", ""]
    for s in f.sources:
        out += [f"### {s.name}", ""]
        for text in s.extra_inputs:
            out.append(f"- input: {text}")
        for e in s.inputs:
            out.append(f"- input: `{e.path}` (md5 `{e.md5.removesuffix('.dir')}`)")
        out += [f"- license: {s.license}", ""]
    out += ["## Parameters (as recorded in `dvc.lock`)", "", "```yaml",
            yaml.safe_dump(f.params, sort_keys=True, default_flow_style=False, width=100).rstrip(), "```", ""]
    out += ["## Reproduce", "", "```bash", f"git checkout {rev}",
            "make all        # recompute (or 'dvc pull' to fetch)", "```", "", "Same `dvc.lock`, same bytes: every random draw is seeded, every model reply is cached.", ""]
    return "\n".join(out)


def write_card(root: str | os.PathLike, tag: str = "unreleased", path: str = CARD_PATH,
               date: str | None = None) -> Path:
    """Gather, render and write the card to ``<root>/<path>`` atomically; returns the written path.

    Raises :class:`UserError` as :func:`gather` does.
    """
    out = Path(root) / path
    atomic_write_bytes(out, render(gather(root, tag, date)).encode("utf-8"))
    return out
