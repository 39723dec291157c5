"""Estimate before a run: what the first round of a run would send, counted, never sent.

``proginstruct estimate`` (or ``--mode estimate`` on ``collect`` and ``aiprogrammer``) renders the
first-round requests of an input through the engine in ``estimate`` mode
(:class:`~proginstruct.llm.batch.EstimateSink`): every record runs as a batch round would run it, and a
request whose reply is not cached is counted, per role, with its prompt tokens estimated from its size
(:func:`~proginstruct.llm.limits.estimate_tokens`), instead of being sent. Later rounds depend on the
replies (the chat after the judge or the instruction, re-asks, further draws) and cannot be rendered
ahead; the report says so.

A large input is sampled: ``sample`` records evenly spread over it (positions ``i * total // sample``),
and the counts are projected to the whole input by ``total / sample``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .collection.collect import Roles, collect_record
from .collection.sample import CollectParams
from .collection.series import DATA_TYPES, check_record
from .errors import UserError
from .llm.batch import EstimateSink, Pending
from .llm.engine import Engine
from .records import read_records, record_id
from .sources.aiprogrammer import program_snippet, read_input

SNIPPETS = "snippets"  # --data_type of the aiprogrammer stage's input (finished snippets)
INPUT_TYPES = (*DATA_TYPES, SNIPPETS)  # every --data_type an estimate takes


@dataclass
class Estimate:
    """The first round of a run over ``total`` input records, ``rendered`` of them run (all, or a sample):
    ``waiting`` records that would send requests, ``complete`` ones that need none (every reply cached,
    or no draw asks a role), ``bad`` malformed ones; per role the ``requests`` and estimated prompt
    ``tokens``."""

    data_type: str
    input_path: str
    total: int
    rendered: int = 0
    waiting: int = 0
    complete: int = 0
    bad: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)

    @property
    def scale(self) -> float:
        """Whole input / records rendered (1.0 when nothing was sampled)."""
        return self.total / self.rendered if self.rendered else 0.0

    def render(self) -> str:
        """The report printed by the CLI (several lines, ends with a newline)."""
        sampled = self.rendered < self.total
        head = (f"estimate: {self.data_type} {self.input_path}: {self.total} records"
                + (f", {self.rendered} rendered (evenly spread sample)" if sampled else ", all rendered"))
        lines = [head, f"first round: {self.waiting} records send requests, {self.complete} need none (every "
                       f"reply cached, or no draw asks a role), {self.bad} malformed",
                 f"  {'role':<12} {'requests':>10} {'prompt tokens':>14}"
                 + (f" {'whole input (projected)':>26}" if sampled else "")]
        for role in sorted(self.requests) + ["total"]:
            r = sum(self.requests.values()) if role == "total" else self.requests[role]
            t = sum(self.tokens.values()) if role == "total" else self.tokens[role]
            row = f"  {role:<12} {r:>10} {t:>14}"
            if sampled:
                row += f" {round(r * self.scale):>11} req {round(t * self.scale):>10} tok"
            lines.append(row)
        lines.append("later rounds (the chat after the judge or the instruction, re-asks after rejected replies, "
                     "further draws) depend on these replies and are not counted; prompt tokens are estimated "
                     "at 4 bytes a token")
        return "\n".join(lines) + "\n"


def _positions(total: int, sample: int) -> set[int] | None:
    """The record positions rendered: ``None`` for all, else ``sample`` evenly spread ones."""
    if sample < 1:
        raise UserError(f"--sample must be >= 1, got {sample}")
    return None if total <= sample else {i * total // sample for i in range(sample)}


def estimate(data_type: str, input_path: str, *, llm_params: dict[str, Any], seed: int,
             params: CollectParams | None = None, snippet_params: dict[str, Any] | None = None,
             sample: int = 1000) -> Estimate:
    """Count the first round's requests of a ``collect`` run (``data_type`` commit, aiprogrammer,
    submit, with ``params``) or of the aiprogrammer stage (``data_type`` ``snippets``, with
    ``snippet_params``: the ``aiprogrammer`` params section) over ``input_path``; nothing is sent.

    Raises :class:`UserError` for an unknown data type, a bad ``sample``, an unreadable input or a bad
    model map.
    """
    if data_type not in INPUT_TYPES:
        raise UserError(f"unknown --data_type {data_type!r}; use one of {', '.join(INPUT_TYPES)}")
    if data_type == SNIPPETS:
        records = list(enumerate(read_input(input_path, snippet_params or {})))
        total = len(records)
    else:
        total = sum(1 for _ in read_records(input_path))
        records = None
    est = Estimate(data_type, input_path, total)
    chosen = _positions(total, sample)
    cp = params or CollectParams()

    async def main() -> None:
        engine = Engine.from_params({**llm_params, "mode": "estimate"}, quiet=True)
        roles = Roles.default()
        try:
            for pos, (_, rec) in enumerate(records if records is not None else read_records(input_path)):
                if chosen is not None and pos not in chosen:
                    continue
                est.rendered += 1
                if data_type != SNIPPETS and check_record(data_type, rec) is not None:
                    est.bad += 1
                    continue
                try:
                    if data_type == SNIPPETS:
                        await program_snippet(engine, rec, seed=seed)
                    else:
                        await collect_record(engine, roles, data_type, rec, record_id(rec), seed=seed, params=cp)
                except Pending:
                    est.waiting += 1
                else:
                    est.complete += 1
        finally:
            sink = engine.pending
            assert isinstance(sink, EstimateSink)
            est.requests, est.tokens = dict(sink.requests), dict(sink.tokens)
            await engine.aclose()

    asyncio.run(main())
    return est
