"""The model map (SPEC 10): which OpenAI-compatible servers answer the roles.

The user's format keeps working::

    {"<model name>": {"base": "http://127.0.0.1:10086/v1", "api": "sk-xxx"}}

Backwards-compatible extensions (SPEC 10; docs/models-and-scale.md):

- ``"api_env": "VAR"`` reads the key from an environment variable (used when ``api`` is absent or empty);
- ``"base": ["http://10.0.0.1:10086/v1", "http://10.0.0.2:10086/v1"]``: several endpoints serving the
  same model; requests spread over them and a failing one is taken out for a while
  (:mod:`proginstruct.llm.endpoints`);
- ``"max_in_flight"``, ``"rpm"``, ``"tpm"``: this model's limits (requests in flight, requests per minute,
  tokens per minute; 0 = none), overriding ``llm.model_max_in_flight`` / ``model_rpm`` / ``model_tpm``;
- ``"base": "simulator"`` selects the built-in simulated model, answered in-process with no socket
  (:mod:`proginstruct.simulator.transport`);
- ``"batch": {...}``: how ``llm.mode: batch`` runs this model's requests (:class:`BatchSpec`): the Batch
  API of its (first) base URL, or a local ``"command"`` such as ``vllm run-batch``.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

SIMULATOR_BASE = "simulator"


LIMIT_KEYS = ("max_in_flight", "rpm", "tpm")


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """A model entry's ``"batch"`` object (docs/models-and-scale.md "Batch inference").

    ``command``: a local command run once per input file, ``{input}``, ``{output}`` and ``{model}``
    replaced by the input file, the output file and the model name (split into arguments like a shell
    line, no shell involved); ``""`` = the Batch API of the model's first base URL, with
    ``completion_window`` (the API's ``"24h"``). ``max_lines`` and ``max_bytes`` split the input files
    (the Batch API's limits: 50,000 lines, 200 MB).
    """

    command: str = ""
    completion_window: str = "24h"
    max_lines: int = 50_000
    max_bytes: int = 200_000_000

    @classmethod
    def parse(cls, path: str | os.PathLike, name: str, raw: object) -> BatchSpec:
        """Validate an entry's ``"batch"`` value; :class:`UserError` naming the file and model when bad."""
        where = f'{path}: model "{name}": "batch"'
        if not isinstance(raw, dict) or set(raw) - {"command", "completion_window", "max_lines", "max_bytes"}:
            raise UserError(f'{where} must be an object with "command" or "completion_window" (and optionally '
                            f'"max_lines", "max_bytes"), got {raw!r}')
        spec = cls(**raw)
        if not isinstance(spec.command, str) or not isinstance(spec.completion_window, str):
            raise UserError(f'{where}: "command" and "completion_window" must be strings')
        if spec.command and not all(p in spec.command for p in ("{input}", "{output}")):
            raise UserError(f'{where}: "command" must contain {{input}} and {{output}}, e.g. '
                            '"vllm run-batch -i {input} -o {output} --model {model}"')
        for k in ("max_lines", "max_bytes"):
            v = getattr(spec, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UserError(f'{where}: "{k}" must be an integer >= 1, got {v!r}')
        return spec


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model of the map: ``name`` sent as the request's ``model``, its endpoints' base URLs
    (``bases``, at least one, no trailing slash), the API key, and its own limits (``None`` = use the
    ``llm`` params' defaults; ``max_in_flight`` requests, ``rpm`` requests per minute, ``tpm`` tokens per
    minute, 0 = no limit), and how batch mode runs it (``batch``, the API defaults when absent)."""

    name: str
    bases: tuple[str, ...]
    api_key: str
    max_in_flight: int | None = None
    rpm: float | None = None
    tpm: float | None = None
    batch: BatchSpec = BatchSpec()

    @property
    def base(self) -> str:
        """The first base URL (the only one in the user's original format)."""
        return self.bases[0]

    @property
    def simulated(self) -> bool:
        """True when this entry is the in-process simulated model, not a real server."""
        return self.bases == (SIMULATOR_BASE,)


@dataclass(frozen=True)
class ModelMap:
    """The models a run may use, in name order (so a seeded pick is stable)."""

    path: str
    entries: tuple[ModelEntry, ...]

    @classmethod
    def load(cls, path: str | os.PathLike, only: str | list[str] = "") -> ModelMap:
        """Read and validate ``path``; ``only`` (comma-separated or list) restricts to those names.

        Raises :class:`UserError` (one line, naming the file and the model) when the file is missing or
        not a JSON object, an entry lacks ``base``, a key variable is unset, or ``only`` names a model
        the map does not have.
        """
        p = Path(path)
        if not p.exists():
            raise UserError(f"{p}: model map not found; copy model_map.example.json to {p} "
                            "or pass --model_map")
        try:
            raw = json.loads(p.read_text("utf-8"))
        except json.JSONDecodeError as e:
            raise UserError(f"{p}: not valid JSON (line {e.lineno} column {e.colno}: {e.msg}); "
                            'expected {"<model>": {"base": "<url>/v1", "api": "<key>"}}') from None
        if not isinstance(raw, dict) or not raw:
            raise UserError(f'{p}: expected a non-empty JSON object {{"<model>": {{"base": ..., "api": ...}}}}')
        entries = []
        for name in sorted(raw):
            spec = raw[name]
            bases = _bases(p, name, spec.get("base") if isinstance(spec, dict) else None)
            key = spec.get("api") or ""
            if not key and spec.get("api_env"):
                key = os.environ.get(spec["api_env"], "")
                if not key:
                    raise UserError(f'{p}: model "{name}": environment variable {spec["api_env"]} '
                                    "(api_env) is not set; export it or put the key in \"api\"")
            limits = {k: _limit(p, name, k, spec[k]) for k in LIMIT_KEYS if spec.get(k) is not None}
            if "max_in_flight" in limits:
                limits["max_in_flight"] = int(limits["max_in_flight"])
            if spec.get("batch") is not None:
                limits["batch"] = BatchSpec.parse(p, name, spec["batch"])
            entries.append(ModelEntry(name, bases, key or "EMPTY", **limits))
        wanted = [s.strip() for s in (only.split(",") if isinstance(only, str) else only) if s.strip()]
        if wanted:
            names = {e.name for e in entries}
            missing = [w for w in wanted if w not in names]
            if missing:
                raise UserError(f'{p}: model "{missing[0]}" is not in the model map (it has: '
                                f'{", ".join(sorted(names))}); add it or fix llm.models / --models')
            entries = [e for e in entries if e.name in wanted]
        return cls(str(p), tuple(entries))

    def pick(self, seed: int) -> ModelEntry:
        """The model for one request, chosen uniformly from ``seed`` (SPEC 10: seeded random pick)."""
        if len(self.entries) == 1:
            return self.entries[0]
        return self.entries[random.Random(seed).randrange(len(self.entries))]

    @property
    def simulated(self) -> bool:
        """True when any model of the map is the simulated model."""
        return any(e.simulated for e in self.entries)


def _bases(path: Path, name: str, base: object) -> tuple[str, ...]:
    """The endpoints of one model: ``"base"`` as a URL or a non-empty list of distinct URLs."""
    urls = [base] if isinstance(base, str) else base
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u.strip() for u in urls):
        raise UserError(f'{path}: model "{name}": needs a "base" URL such as "http://127.0.0.1:10086/v1" '
                        '(or a list of them)')
    out = tuple(u.strip().rstrip("/") for u in urls)
    if len(set(out)) != len(out):
        raise UserError(f'{path}: model "{name}": "base" lists the same URL twice; list each endpoint once')
    if SIMULATOR_BASE in out and len(out) > 1:
        raise UserError(f'{path}: model "{name}": "base": "simulator" cannot be mixed with server URLs')
    return out


def _limit(path: Path, name: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise UserError(f'{path}: model "{name}": "{key}" must be a number >= 0 (0 = no limit), got {value!r}')
    return float(value)
