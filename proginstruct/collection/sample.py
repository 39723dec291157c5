"""Building one sample for one drawn index of a code series (SPEC 6 steps 2-6)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..blocks import apply_blocks, block_diff, edit_blocks, edit_blocks_and_diff
from ..ranges import check_params
from ..roles.render import ChangeQuery, JudgeQuery, RecordView
from ..roles.version import prompt_version
from ..samples import sample_type, snapshot
from ..seeding import derive_rng, derive_seed
from ..stats import Stats
from ..text import fence, split_lines, unified_diff
from .series import Series

# SPEC 6 step 3: the fixed instruction for the first version of an online-judge history.
SUBMIT_INSTRUCTION = "Write a correct {lang} program that solves the problem described below.\n\n{problem}"


@dataclass(frozen=True)
class CollectParams:
    """SPEC 9 parameters of the data_collection stage (probabilities in [0, 1])."""

    alpha: float = 1.0
    max_per_sample: int = 1
    use_history_prob: float = 0.6
    use_user_prob: float = 0.5
    limit_one_block_prob: float = 0.5

    def __post_init__(self) -> None:
        """Raises :class:`~proginstruct.ranges.ParamError` for a value out of its range (alpha > 0)."""
        check_params(asdict(self), "collect.<source>")


def draw_order(n: int, alpha: float, rng: random.Random) -> Iterator[int]:
    """The indices of ``range(n)``, drawn lazily one at a time without replacement with weight
    ``alpha ** index + 1e-6`` (SPEC 6 step 1): the caller stops drawing once it has its samples.

    Each draw consumes ``rng`` the same way whatever came before it was used for, so the first ``k``
    indices are those of drawing ``k`` up front.
    """
    remaining = list(range(n))
    while remaining:
        c = rng.choices(remaining, weights=[alpha**i + 1e-6 for i in remaining])[0]
        remaining.remove(c)
        yield c


async def build_sample(engine: Any, roles: Any, data_type: str, series: Series, c: int, *, record_id: str,
                       seed: int, params: CollectParams, stats: Stats) -> dict[str, Any] | None:
    """The sample for ``current = series.versions[c]``, or ``None`` when SPEC 6 says to skip the draw.

    ``roles`` has attributes ``judge``, ``instruction`` and ``chat``. The draw's own RNG comes from
    (seed, data_type, record_id, c), so LLM outcomes never shift other draws. A skipped draw is counted
    as ``draws.skipped.<reason>`` in ``stats`` (``blank_current``, ``no_history``, ``no_candidate_change``,
    ``instruction_failed``, ``judge_failed``).
    """
    rng = derive_rng(seed, data_type, record_id, "draw", c)
    sample_seed = derive_seed(seed, data_type, record_id, c)
    use_history = rng.random() < params.use_history_prob
    use_user = rng.random() < params.use_user_prob
    current, final, lang = series.versions[c], series.final, series.lang
    if c == 0 and not current.strip() and not use_user:
        stats.add("draws.skipped.blank_current")
        return None
    history = list(series.versions[:c]) if use_history else []
    if use_history and not history:
        stats.add("draws.skipped.no_history")
        return None
    blocks, diff_final = edit_blocks_and_diff(current, final)  # one line diff for both (SPEC 3, SPEC 2)
    if not blocks:
        stats.add("draws.skipped.no_candidate_change")
        return None
    models: set[str] = set()
    history_diffs = series.revision_diffs(c) if history else ()  # shared by every role's query
    # the judge's view; the instruction and chat views differ only in their context texts (replace below)
    view = RecordView(lang, current, tuple(history), history_diffs=history_diffs,
                      current_listing=fence(current, lang, numbered=True))
    if use_user:
        if data_type == "commit" and c == 0 and series.context.strip():
            user = series.context.strip()
        elif data_type == "submit" and c == 0:
            user = SUBMIT_INSTRUCTION.format(lang=lang or "program", problem=series.context).strip()
        else:
            ctx = {"commit_message": series.context} if data_type == "commit" else (
                {"problem_statement": series.context} if data_type == "submit" else {})
            res = await engine.ask(roles.instruction, ChangeQuery(replace(view, **ctx), diff_final), sample_seed,
                                   stats=stats)
            if not res.ok:
                stats.add("draws.skipped.instruction_failed")
                return None
            user, _ = res.value, models.add(res.model)
        next_code = final
    else:
        user = ""
        lines = split_lines(current)
        changes = tuple(block_diff(lines, b) for b in blocks)
        res = await engine.ask(roles.judge, JudgeQuery(view, changes), sample_seed, stats=stats)
        if not res.ok:
            stats.add("draws.skipped.judge_failed")
            return None
        models.add(res.model)
        next_code = apply_blocks(current, [b for b, keep in zip(blocks, res.value, strict=True) if keep], lines)
        if next_code == current:
            stats.add("no_change_samples")
    chat_view = replace(view, user_instruction=user)
    change = diff_final if next_code == final else unified_diff(current, next_code)
    res = await engine.ask(roles.chat, ChangeQuery(chat_view, change), sample_seed, stats=stats)
    chat = res.value if res.ok else ""
    if res.ok:
        models.add(res.model)
    else:
        stats.add("chat_failed")
    sample = {
        "history": [snapshot(h, lang) for h in history],
        "current": snapshot(current, lang),
        "user": user,
        "chat": chat,
        "next": snapshot(next_code, lang),
        "source": data_type,
        "id": f"{record_id}:{c}",
        "seed": sample_seed,
        "model": ",".join(sorted(models)),
        "prompt_version": prompt_version(),  # provenance: the prompts and reply protocol (roles/version.py)
        **({"license": series.license} if series.license else {}),
    }
    stats.add("samples")
    stats.add(f"sample_types.{sample_type(sample)}")
    return sample


def reachable(current: str, next_code: str, final: str) -> bool:
    """SPEC 6 step 6: is ``next_code`` equal to ``current`` with some subset of blocks(current, final) applied?

    Exact, without enumerating subsets: walks the blocks in order keeping the set of line positions in
    ``next_code`` that some choice of kept/skipped blocks so far can reach.
    """
    cur, nxt = split_lines(current), split_lines(next_code)
    positions = {0}
    pos_in_cur = 0

    def advance(ps: set[int], seg: list[str]) -> set[int]:
        return {p + len(seg) for p in ps if nxt[p : p + len(seg)] == seg}

    for blk in edit_blocks(current, final):
        positions = advance(positions, cur[pos_in_cur : blk.start])
        positions = advance(positions, cur[blk.start : blk.end]) | advance(positions, list(blk.lines))
        pos_in_cur = blk.end
        if not positions:
            return False
    positions = advance(positions, cur[pos_in_cur:])
    return len(nxt) in positions
