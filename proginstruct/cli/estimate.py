"""``proginstruct estimate``: the first round's requests and prompt tokens per role, counted before a run.

Also reached as ``--mode estimate`` on ``collect`` and ``aiprogrammer``. Nothing is sent and nothing is
written; see :mod:`proginstruct.estimate`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from ..collection.sample import CollectParams
from ..errors import UserError
from ..sources.aiprogrammer import AIPROGRAMMER_DEFAULTS
from .common import LLM_DEFAULTS, load_params, load_seed, param_options, params_option, resolve, user_errors

_COLLECT_KEYS = tuple(f.name for f in dataclasses.fields(CollectParams))
ESTIMATE_DEFAULTS = {**{k: v for k, v in AIPROGRAMMER_DEFAULTS.items() if k != "on_bad_record"},
                     **{f.name: f.default for f in dataclasses.fields(CollectParams)}}


def run_estimate(data_type: str, input_path: str, *, params_path: str, seed: int | None, sample: int,
                 flags: dict[str, Any]) -> str:
    """The estimate report for ``data_type`` (``commit``, ``aiprogrammer``, ``submit``, or ``snippets`` for
    the aiprogrammer stage): params from params.yaml (``collect.<data_type>`` or ``aiprogrammer``, and
    ``llm``) overridden by ``flags``. Raises :class:`~proginstruct.errors.UserError` as
    :func:`proginstruct.estimate.estimate` does."""
    from ..estimate import SNIPPETS, estimate

    llm = resolve(LLM_DEFAULTS, load_params(params_path, "llm"), flags, "llm")
    if data_type == SNIPPETS:
        sp = resolve(AIPROGRAMMER_DEFAULTS, load_params(params_path, "aiprogrammer"), flags, "aiprogrammer")
        est = estimate(data_type, input_path, llm_params=llm, seed=load_seed(params_path, seed),
                       snippet_params=sp, sample=sample)
    else:
        section = {**load_params(params_path, "collect"), **load_params(params_path, f"collect.{data_type}")}
        cp = resolve({k: ESTIMATE_DEFAULTS[k] for k in _COLLECT_KEYS}, section, flags, f"collect.{data_type}")
        est = estimate(data_type, input_path, llm_params=llm, seed=load_seed(params_path, seed),
                       params=CollectParams(**cp), sample=sample)
    return est.render()


@click.command(name="estimate")
@click.option("--data_type", required=True,
              help="a collect input type (commit, aiprogrammer, submit), or 'snippets' for the aiprogrammer stage's input")
@click.option("--input_path", required=True, help="the input the run would read")
@click.option("--sample", type=int, default=1000, show_default=True,
              help="records rendered at most (evenly spread; counts projected to the whole input)")
@click.option("--seed", type=int, default=None, help="run seed (default: params.yaml 'seed', else 42)")
@params_option
@param_options(ESTIMATE_DEFAULTS)
@param_options(LLM_DEFAULTS)
@user_errors
def command(data_type: str, input_path: str, sample: int, seed: int | None, params_path: str,
            **flags: object) -> None:
    """Print the requests and prompt tokens per role of a run's first round, without sending anything
    (the reply cache counts: cached replies cost nothing)."""
    from ..estimate import INPUT_TYPES

    if data_type not in INPUT_TYPES:
        raise UserError(f"--data_type {data_type!r} is not an input type; use one of {', '.join(INPUT_TYPES)}")
    click.echo(run_estimate(data_type, input_path, params_path=params_path, seed=seed, sample=sample,
                            flags=flags), nl=False)
