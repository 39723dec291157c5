"""The per-sample gates of the quality stage (docs/quality.md), in order: ``too_long``, ``breaks_syntax``,
``contaminated``; and the MinHash signature the ``near_duplicate`` gate compares in dataset order.

:class:`Evaluator` is pure per sample (no state carried from one sample to the next), so samples can be
judged in any process and in any order; :mod:`.stage` keeps the dataset order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..area.stage import check_sample
from ..errors import BadRecord
from .decontam import NgramIndex
from .neardup import signature
from .params import QualityParams
from .syntax import SyntaxChecker, grammar_of

NO_LANG = "(none)"  # the metrics' name for a sample without a language


def input_chars(sample: dict[str, Any]) -> int:
    """Characters (code points) of a sample's input: every history snapshot's code, current code and user."""
    return (sum(len(h.get("code") or "") for h in sample.get("history") or [] if isinstance(h, dict))
            + len(sample["current"]["code"]) + len(sample.get("user") or ""))


def output_chars(sample: dict[str, Any]) -> int:
    """Characters (code points) of a sample's output: next code and chat."""
    return len(sample["next"]["code"]) + len(sample.get("chat") or "")


def decontam_texts(sample: dict[str, Any]) -> Iterator[str]:
    """The texts checked for benchmark n-grams: each history snapshot's code, current, next and user."""
    for h in sample.get("history") or []:
        if isinstance(h, dict) and isinstance(h.get("code"), str):
            yield h["code"]
    yield sample["current"]["code"]
    yield sample["next"]["code"]
    yield sample.get("user") or ""


@dataclass(slots=True)
class Verdict:
    """What the per-sample gates found for one sample.

    ``gate``: the first of ``too_long`` / ``breaks_syntax`` / ``contaminated`` that removes it (``None``:
    it goes on to ``near_duplicate``); ``bad``: why the record is not a sample (then nothing else is set).
    ``over``: ``(input over the limit, output over the limit)`` when gate 1 ran; ``lang``: the language
    (lower-cased, :data:`NO_LANG` when empty); ``parsed``: ``(current parses, next parses)`` when gate 2
    parsed it, ``None`` when it did not run or the language has no grammar (``unknown_lang``); ``sets``:
    the decontamination sets it shares an n-gram with; ``minhash``: its signature when it survived
    gates 1-3 (``None`` also when it has no words to shingle).
    """

    source: str = ""
    gate: str | None = None
    bad: str | None = None
    over: tuple[bool, bool] | None = None
    lang: str = NO_LANG
    unknown_lang: bool = False
    parsed: tuple[bool, bool] | None = None
    sets: tuple[str, ...] = ()
    minhash: Any = None


class Evaluator:
    """Runs gates 1-3 on one sample at a time and computes its near-duplicate signature.

    ``items``: the decontamination sets as ``(name, item texts)``, in :attr:`QualityParams.sets` order
    (``load_items`` of each). Holds tree-sitter parsers and the n-gram index: build one per process.
    """

    def __init__(self, params: QualityParams, items: Sequence[tuple[str, list[str]]]):
        self.params = params
        self.syntax = SyntaxChecker()
        self.index = NgramIndex(params.decontam_ngram, items) if params.contaminated else None

    def judge_line(self, path: str, index: int, line: bytes) -> Verdict:
        """:meth:`judge` of one JSON line; a line that is not JSON or not a sample gives a ``bad`` verdict."""
        try:
            sample = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            return Verdict(bad=f"not valid JSON ({e})")
        try:
            check_sample(path, index, sample)
        except BadRecord as e:
            return Verdict(bad=e.reason)
        return self.judge(sample)

    def judge(self, sample: dict[str, Any]) -> Verdict:
        """Gates 1-3 on a well-formed sample (see :func:`~proginstruct.area.stage.check_sample`), each run
        only when switched on and only while no earlier gate removed the sample."""
        p = self.params
        v = Verdict(source=str(sample.get("source") or "unknown"))
        current, next_ = sample["current"]["code"], sample["next"]["code"]
        v.lang = str(sample["current"].get("lang") or "").strip().lower() or NO_LANG
        if p.too_long:
            v.over = (input_chars(sample) > p.max_input_chars, output_chars(sample) > p.max_output_chars)
            if any(v.over):
                v.gate = "too_long"
                return v
        if p.breaks_syntax:
            grammar = grammar_of(v.lang) if v.lang != NO_LANG else None
            if grammar is None:
                v.unknown_lang = True
            else:
                cur_ok, next_ok = v.parsed = self.syntax.parses_pair(grammar, current, next_)
                if cur_ok and not next_ok:
                    v.gate = "breaks_syntax"
                    return v
        if self.index is not None:
            v.sets = tuple(self.index.sets_hit(decontam_texts(sample)))
            if v.sets:
                v.gate = "contaminated"
                return v
        if p.near_duplicate:
            v.minhash = signature(current, next_, p.near_dup_shingle, p.near_dup_num_perm, p.near_dup_seed)
        return v
