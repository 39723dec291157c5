"""Reading ``dvc.lock``: what a recipe commit pins (docs/datasets.md).

``dvc.lock`` (schema 2.0) maps each stage to its ``cmd``, ``deps``, ``params`` and ``outs``; every file
entry has ``path``, ``md5`` (``<hash>.dir`` for a folder) and ``size`` (plus ``nfiles`` for a folder).
The helpers here answer three questions for the dataset card: which outputs are the released data (the
leaves of the DAG), which inputs the data came from, and which parameter values made it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError

LOCK = "dvc.lock"
# deps that are code, not data: excluded from a card's inputs
CODE_PREFIXES = ("proginstruct/", "stages/")
METRICS_PREFIX = "metrics/"
FINAL_PREFIX = "data/final/"


@dataclass(frozen=True)
class Entry:
    """One file or folder pinned by ``dvc.lock``: ``path`` (POSIX, relative to the project), ``md5``
    (ends with ``.dir`` for a folder), ``size`` in bytes, ``nfiles`` (folders only, else ``None``) and the
    ``stage`` that lists it."""

    path: str
    md5: str
    size: int | None
    nfiles: int | None
    stage: str

    @property
    def is_dir(self) -> bool:
        """True for a folder output/dependency (its md5 names a ``.dir`` listing)."""
        return self.md5.endswith(".dir")


@dataclass(frozen=True)
class Lock:
    """A parsed ``dvc.lock``: ``stages`` maps a stage name to its raw dict."""

    stages: dict[str, dict[str, Any]]

    def outs(self) -> list[Entry]:
        """Every output of every stage, in file order."""
        return [_entry(o, name) for name, st in self.stages.items() for o in st.get("outs") or []]

    def deps(self, stage: str | None = None) -> list[Entry]:
        """The dependencies of ``stage`` (all stages when ``None``)."""
        names = [stage] if stage else list(self.stages)
        return [_entry(d, n) for n in names for d in self.stages.get(n, {}).get("deps") or []]

    def released(self, final_prefix: str = FINAL_PREFIX) -> list[Entry]:
        """The released data: every output under ``final_prefix`` (``data/final/``: per-source samples, the
        merged dataset) and every other output no stage depends on (the DAG's leaves: exports, reports),
        except ``metrics/`` files. An output counts as consumed when a dependency names it or a folder
        containing it; intermediate outputs (``data/prepared/``, ``data/collected/``) are consumed."""
        consumed = {d.path.rstrip("/") for d in self.deps()}
        return [o for o in self.outs() if not o.path.startswith(METRICS_PREFIX)
                and (o.path.startswith(final_prefix)
                     or not any(o.path == c or o.path.startswith(c + "/") for c in consumed))]

    def inputs(self, stages: list[str] | None = None) -> list[Entry]:
        """Data the recipe reads but does not make: dependencies of ``stages`` (default all) that are
        neither an output of some stage nor code (``proginstruct/``, ``stages/``, ``*.py``); one entry per path."""
        produced = {o.path for o in self.outs()}
        seen: dict[str, Entry] = {}
        for name in stages if stages is not None else list(self.stages):
            for d in self.deps(name):
                if d.path in produced or d.path.startswith(CODE_PREFIXES) or d.path.endswith(".py"):
                    continue
                seen.setdefault(d.path, d)
        return sorted(seen.values(), key=lambda e: e.path)

    def params(self, stages: list[str] | None = None) -> dict[str, Any]:
        """Parameter values the lock records for ``stages`` (default all), from every params file, keyed by
        the name dvc.yaml used (``seed``, ``llm``, ``collect.commit`` ...), sorted by name."""
        merged: dict[str, Any] = {}
        for name in stages if stages is not None else list(self.stages):
            for values in (self.stages.get(name, {}).get("params") or {}).values():
                merged.update(values or {})
        return dict(sorted(merged.items()))


def _entry(raw: dict[str, Any], stage: str) -> Entry:
    return Entry(path=str(raw["path"]), md5=str(raw.get("md5", "")), size=raw.get("size"),
                 nfiles=raw.get("nfiles"), stage=stage)


def read_lock(root: str | os.PathLike) -> Lock:
    """Parse ``<root>/dvc.lock``.

    Raises :class:`UserError` when it is missing (the recipe never ran: ``dvc repro``), not valid YAML,
    or not the 2.0 schema of DVC 3.
    """
    p = Path(root) / LOCK
    if not p.exists():
        raise UserError(f"{p}: not found; run 'dvc repro' (make all) and commit dvc.lock first")
    try:
        data = yaml.safe_load(p.read_text("utf-8")) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{p}: not valid YAML ({str(e).splitlines()[0]}); rerun 'dvc repro' to rewrite it") from None
    if not isinstance(data, dict) or str(data.get("schema")) != "2.0" or not isinstance(data.get("stages"), dict):
        raise UserError(f"{p}: not a DVC 3 lock file (schema 2.0 with 'stages'); rerun 'dvc repro' with DVC >= 3")
    return Lock(stages=data["stages"])
