"""Shared CLI plumbing: SPEC 9 defaults < params.yaml section < explicit flags.

Stage commands declare their parameters once as a dict of defaults; :func:`param_options` turns
each into a ``--name`` flag (underscore names, as the user's seed commands spell them) whose
default is ``None`` so that only flags actually given override params.yaml.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
import yaml

from ..errors import UserError
from ..ranges import check_params

# SPEC 9: sampling and retry settings shared by every LLM stage (params.yaml section ``llm``).
LLM_DEFAULTS: dict[str, Any] = {
    "model_map": "model_map.json",
    "models": "",  # comma-separated subset of the model map ("" = every model)
    "temperature": 0.2,
    "top_p": 0.95,
    "max_tokens": 3072,
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
    "max_try": 5,
    "num_proc": 512,
    "max_retries": 10,  # retries of one request after a transport fault (5xx, timeout, bad reply; not 429)
    "request_timeout": 600.0,
    "retry_backoff": 0.5,  # seconds before the first retry after a 5xx / timeout, doubling up to 30
    "endpoint_failures": 3,  # failures in a row that take an endpoint out (one refused connection does)
    "endpoint_cooldown": 30.0,  # seconds out, doubling while it keeps failing (at most 8x)
    "down_timeout": 120.0,  # stop the run when every endpoint of a model has been out this long
    "model_max_in_flight": 0,  # per-model limits for models whose map entry sets none (0 = none)
    "model_rpm": 0.0,
    "model_tpm": 0.0,
    "cache_path": ".llm_cache/replies.sqlite",
    "http_transport": "aiohttp",  # "aiohttp" (cheaper per request) or "httpx" (the openai client's default)
    "window": 0,  # records in flight at once; 0 = 4 * num_proc
    "window_bytes": 24_000_000,  # characters of input records and their code series in flight; 0 = no bound
    "mode": "online",  # online | batch (rounds of batch jobs, same output) | estimate (count, send nothing)
    "batch_poll": 5.0,  # batch mode: seconds before the first poll of a job, doubling up to 60
}


def load_params(path: str | Path | None, section: str) -> dict[str, Any]:
    """Return the dotted ``section`` (e.g. ``"collect.commit"``) of a params.yaml; ``{}`` when the file or
    section is absent. Raises :class:`UserError` for a file that is not valid YAML."""
    if not path:
        return {}
    p = Path(path)
    if not p.exists():
        return {}
    try:
        data = yaml.safe_load(p.read_text("utf-8")) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{p}: not valid YAML ({str(e).splitlines()[0]}); fix the file") from None
    node: Any = data
    for part in section.split("."):
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return dict(node) if isinstance(node, dict) else {}


def resolve(defaults: Mapping[str, Any], params: Mapping[str, Any], flags: Mapping[str, Any],
            section: str = "") -> dict[str, Any]:
    """``defaults`` overridden by ``params`` (only known keys) overridden by non-``None`` ``flags``, with
    every numeric value checked against its range (:func:`proginstruct.ranges.check_params`; numeric
    strings read as numbers). ``section`` names the params.yaml section in messages (``"llm"``,
    ``"collect.commit"``). Raises :class:`~proginstruct.ranges.ParamError` (a :class:`UserError`) for a
    value out of range: every stage checks its parameters here, before doing anything."""
    out = dict(defaults)
    for k, v in params.items():
        if k in out and not isinstance(v, dict):
            out[k] = v
    for k, v in flags.items():
        if k in out and v is not None:
            out[k] = v
    return check_params(out, section)


class _NumberText(click.ParamType):
    """A numeric flag's text, passed on as given: :func:`resolve` reads it as a number and checks its
    range (:mod:`proginstruct.ranges`), so ``--num_proc 2.5`` gets the same one-line error as
    ``--num_proc 0`` instead of click's usage block."""

    def __init__(self, name: str):
        self.name = name


_NUMBER_TEXT = {"INTEGER": _NumberText("INTEGER"), "FLOAT": _NumberText("FLOAT")}


def param_options(defaults: Mapping[str, Any], helps: Mapping[str, str] | None = None) -> Callable:
    """Decorator adding ``--<name>`` for every key of ``defaults`` (type from the default's type).

    ``helps``: what an option does, for options that are not SPEC 9 parameters (their help then says
    "default" instead of "SPEC default")."""

    def deco(f: Callable) -> Callable:
        for name, value in reversed(list(defaults.items())):
            if isinstance(value, bool):
                typ: Any = click.BOOL
            elif isinstance(value, int | float):
                typ = _NUMBER_TEXT["INTEGER" if isinstance(value, int) else "FLOAT"]
            else:
                typ = click.STRING
            what = (helps or {}).get(name)
            text = (f"{what}; overrides params.yaml (default {value!r})" if what
                    else f"overrides params.yaml (SPEC default {value!r})")
            f = click.option(f"--{name}", name, type=typ, default=None, show_default=False, help=text)(f)
        return f

    return deco


def params_option(f: Callable) -> Callable:
    """``--params FILE`` (default ``params.yaml`` in the working directory, ignored when absent)."""
    return click.option("--params", "params_path", default="params.yaml", show_default=True,
                        help="params.yaml to read defaults from (missing file = SPEC defaults)")(f)


def user_errors(f: Callable) -> Callable:
    """Turn :class:`UserError` into a one-line ``error: ...`` on stderr and exit status 2."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except UserError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)

    return wrapper


def load_seed(params_path: str | Path | None, flag: int | None, default: int = 42) -> int:
    """The run seed: ``--seed`` when given, else params.yaml's top-level ``seed``, else ``default``.

    Raises :class:`UserError` when the file is not valid YAML or ``seed`` is not an integer.
    """
    if flag is not None:
        return int(flag)
    p = Path(params_path) if params_path else None
    if p is None or not p.exists():
        return default
    try:
        data = yaml.safe_load(p.read_text("utf-8")) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{p}: not valid YAML ({str(e).splitlines()[0]}); fix the file") from None
    seed = data.get("seed", default) if isinstance(data, dict) else default
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserError(f"{p}: top-level 'seed' must be an integer, got {seed!r}; fix the file")
    return seed


def write_metrics(path: str | Path | None, metrics: Mapping[str, Any]) -> None:
    """Write a metrics JSON file atomically (no-op when ``path`` is empty)."""
    if path:
        from ..records import atomic_write_json

        atomic_write_json(path, metrics)
