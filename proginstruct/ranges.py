"""The allowed range of every numeric parameter, checked in one place (params.yaml and flags alike).

:data:`RANGES` maps a parameter name (the same name means the same range in every params.yaml section)
to its :class:`Range`. :func:`check_params` is called by :func:`proginstruct.cli.common.resolve`, which
every stage command uses to merge defaults, params.yaml and flags, and by the params dataclasses
(:class:`~proginstruct.collection.sample.CollectParams`, :class:`~proginstruct.area.loc.AreaParams`,
:class:`~proginstruct.sources.submit.SubmitParams`, the simulator's
:class:`~proginstruct.simulator.server.ServerOptions`) for callers that build them directly. A value out of
range is a :class:`ParamError`: one line naming the parameter, what it must be, the value, and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import UserError


class ParamError(UserError, ValueError):
    """A parameter outside its range (a :class:`UserError`: ``error: ...``, exit 2; also a ``ValueError``
    for code that builds params objects directly)."""


@dataclass(frozen=True)
class Range:
    """``low <= value <= high`` (``None`` = unbounded; ``low_open``: ``low < value``); ``integer``:
    the value must be a whole number; ``what``: its description in messages (default: from the bounds)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    integer: bool = False
    what: str = ""  # the words of describe(), when not derived from the bounds

    def describe(self) -> str:
        """What a value must be, in words: ``"a non-negative integer"``, ``"a number in [0, 1]"`` ..."""
        if self.what:
            return self.what
        kind = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            return f"{kind} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"
        if self.low == 0 and not self.low_open:
            return "a non-negative integer" if self.integer else "a number >= 0"
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        return kind

    def check(self, value: Any) -> int | float | None:
        """``value`` as a number when it is within range, else ``None``. Numeric strings are read as
        numbers; booleans are not numbers."""
        if isinstance(value, str):
            try:
                value = float(value) if not self.integer else int(value)
            except ValueError:
                return None
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            return None
        if self.integer:
            if isinstance(value, float):
                if not value.is_integer():
                    return None
                value = int(value)
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return None
        if self.high is not None and value > self.high:
            return None
        return value


PROBABILITY = Range(0.0, 1.0, what="a probability in [0, 1]")
COUNT = Range(0, integer=True)  # 0 = no limit / none
POSITIVE_COUNT = Range(1, integer=True)
SECONDS = Range(0.0)

RANGES: dict[str, Range] = {
    # llm (SPEC 9; the OpenAI API's ranges for the sampling parameters)
    "temperature": Range(0.0, 2.0),
    "top_p": Range(0.0, 1.0, low_open=True),
    "max_tokens": POSITIVE_COUNT,
    "frequency_penalty": Range(-2.0, 2.0),
    "presence_penalty": Range(-2.0, 2.0),
    "max_try": POSITIVE_COUNT,
    "num_proc": POSITIVE_COUNT,
    "max_retries": COUNT,
    "request_timeout": SECONDS,
    "retry_backoff": SECONDS,
    "endpoint_failures": POSITIVE_COUNT,
    "endpoint_cooldown": SECONDS,
    "down_timeout": SECONDS,
    "model_max_in_flight": COUNT,
    "model_rpm": Range(0.0),
    "model_tpm": Range(0.0),
    "window": COUNT,
    "window_bytes": COUNT,
    "limit_share": Range(0.0, 1.0, low_open=True),
    "batch_poll": SECONDS,
    # collect.<source> (SPEC 6, 9) and collect
    "alpha": Range(0.0, low_open=True),
    "max_per_sample": POSITIVE_COUNT,
    "use_history_prob": PROBABILITY,
    "use_user_prob": PROBABILITY,
    "limit_one_block_prob": PROBABILITY,
    "workers": POSITIVE_COUNT,
    # area (SPEC 7)
    "use_loc_prob": PROBABILITY,
    "loc_cursor_prob": PROBABILITY,
    "loc_noisy_prob": PROBABILITY,
    "loc_noisy_length": COUNT,
    "loc_all_noisy_prob": PROBABILITY,
    # prepare_commit (SPEC 1.1)
    "max_commits": COUNT,
    "max_file_size": COUNT,
    "max_per_lang": COUNT,
    # aiprogrammer
    "min_lines": COUNT,
    "max_lines": POSITIVE_COUNT,
    # prepare_submit (SPEC 1.2)
    "max_per_problem": POSITIVE_COUNT,
    "max_per_lang_problem": POSITIVE_COUNT,
    "internal_similarity_threshold": PROBABILITY,
    "external_similarity_threshold": PROBABILITY,
    # quality (docs/quality.md)
    "max_input_chars": POSITIVE_COUNT,
    "max_output_chars": POSITIVE_COUNT,
    "decontam_ngram": POSITIVE_COUNT,
    "near_dup_threshold": Range(0.0, 1.0, low_open=True),
    "near_dup_num_perm": Range(2, integer=True),
    "near_dup_shingle": POSITIVE_COUNT,
    "near_dup_seed": COUNT,
    # simulate (the loopback simulator's options; hold_after and batch_*_jobs only from tests and benchmarks)
    "port": Range(0, 65535, integer=True),
    "latency": SECONDS,
    "fail_500": PROBABILITY,
    "fail_429": PROBABILITY,
    "fail_timeout": PROBABILITY,
    "malformed": PROBABILITY,
    "timeout_sleep": SECONDS,
    "fault_seed": Range(integer=True),
    "batch_delay": SECONDS,
    "batch_fail_lines": PROBABILITY,
    "hold_after": COUNT,
    "batch_expire_jobs": COUNT,
    "batch_fail_jobs": COUNT,
}


def check_params(values: Mapping[str, Any], section: str = "") -> dict[str, Any]:
    """Check every value of ``values`` whose name is in :data:`RANGES`; returns ``values`` with those read
    as numbers (``"8"`` -> 8, ``512.0`` -> 512 for a whole-number parameter). Other names pass unchanged.

    Raises :class:`ParamError` for the first value out of range, naming ``<section>.<name>`` (section as
    in params.yaml, e.g. ``"llm"``, ``"collect.commit"``), what it must be, the value and the fix
    (params.yaml or ``--<name>``).
    """
    out = dict(values)
    for name, value in values.items():
        rng = RANGES.get(name)
        if rng is None:
            continue
        ok = rng.check(value)
        if ok is None:
            where = f"{section}.{name}" if section else name
            shown = value if isinstance(value, str) and value.strip() else repr(value)  # a flag's text as typed
            raise ParamError(f"{where} must be {rng.describe()}, got {shown}; fix params.yaml "
                             f"({section or 'its section'}) or --{name}")
        out[name] = ok
    return out


def numeric_names(defaults: Mapping[str, Any]) -> list[str]:
    """The names of ``defaults`` whose default is a number (not a bool): each must have a range."""
    return [k for k, v in defaults.items() if isinstance(v, int | float) and not isinstance(v, bool)]
