"""SPEC 6 sampler: draws one candidate at a time, a skipped draw does not count, and drawing goes on until
``max_per_sample`` samples are emitted or no candidate is left; deterministic at any concurrency."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from proginstruct.collection.collect import Roles, collect_record, run_collection
from proginstruct.collection.sample import CollectParams
from proginstruct.collection.series import code_series
from proginstruct.llm.engine import RoleResult
from proginstruct.records import write_records
from proginstruct.roles.render import JudgeQuery
from proginstruct.seeding import derive_rng

from .scale_helpers import commit_records, llm_params, write_inputs

# every draw goes to the judge: no instruction, no history (so no draw is skipped before a model call)
JUDGE_ONLY = dict(limit_one_block_prob=1.0, use_history_prob=0.0, use_user_prob=0.0)
SEED = 11


class FakeEngine:
    """Answers every role at once: the judge accepts every change, chat and instruction give a fixed text.
    ``fail(current_code, judge_calls_so_far)`` -> the judge fails for that draw (a role failure, SPEC 5).
    Records the most calls it ever had in flight."""

    def __init__(self, fail=lambda current, n: False):
        self.fail, self.judge_calls, self.in_flight, self.max_in_flight = fail, 0, 0, 0

    async def ask(self, role, query, seed, stats=None):
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0)  # let any other draw of the record run, if one were started
        self.in_flight -= 1
        if isinstance(query, JudgeQuery):
            self.judge_calls += 1
            if self.fail(query.view.current, self.judge_calls):
                return RoleResult(None, None, 1, "error.test")
            return RoleResult([True] * len(query.changes), "fake", 1)
        return RoleResult("ok", "fake", 1)


def _record(blocks: int, rid: str) -> dict:
    """A commit record whose change has ``blocks`` edit blocks, so ``blocks`` candidates (SPEC 4)."""
    a = [f"line {i}" for i in range(2 * blocks + 1)]
    b = [f"LINE {i}" if i % 2 else line for i, line in enumerate(a)]
    return {"id": rid, "code1": "\n".join(a), "code2": "\n".join(b), "lang": "python", "git": "Upper-case"}


def _collect(engine, rec: dict, k: int) -> tuple[list[dict], dict[str, int]]:
    params = CollectParams(max_per_sample=k, **JUDGE_ONLY)
    return asyncio.run(collect_record(engine, Roles.default(), "commit", rec, rec["id"], seed=SEED, params=params))


def test_a_skipped_first_draw_is_redrawn():
    """A model whose first draw of every record fails still gives one sample per record that has a second
    candidate; a record with a single candidate gives none."""
    for blocks in (1, 2, 3, 5):
        rec = _record(blocks, f"r{blocks}")
        engine = FakeEngine(fail=lambda current, n: n == 1)
        samples, stats = _collect(engine, rec, 1)
        assert len(samples) == (1 if blocks >= 2 else 0), blocks
        assert stats["draws.skipped.judge_failed"] == 1
        assert stats["draws.tried"] == min(2, blocks)
        assert stats[f"samples_per_record.{len(samples)}"] == 1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.integers(1, 5), st.data())
def test_samples_are_min_of_k_and_usable_candidates(blocks, k, data):
    """At max_per_sample k, a record gives min(k, usable candidates) samples, each from a distinct usable
    candidate, and every draw is either a sample or a skip counted by reason; draws run one at a time."""
    rec = _record(blocks, "rec")
    series = code_series("commit", rec, derive_rng(SEED, "commit", "rec", "series"), 1.0)
    assert len(series.versions) == blocks
    usable = data.draw(st.sets(st.integers(0, blocks - 1)))
    bad = {series.versions[i] for i in range(blocks) if i not in usable}
    engine = FakeEngine(fail=lambda current, n: current in bad)
    samples, stats = _collect(engine, rec, k)
    assert len(samples) == min(k, len(usable))
    drawn = [int(s["id"].rsplit(":", 1)[1]) for s in samples]
    assert len(set(drawn)) == len(drawn) and set(drawn) <= usable
    assert stats["draws.tried"] == len(samples) + stats.get("draws.skipped.judge_failed", 0)
    if len(samples) < k:
        assert stats["draws.tried"] == blocks  # stopped only because no candidate was left
    assert {k: v for k, v in stats.items() if k.startswith("samples_per_record.")} == {
        f"samples_per_record.{len(samples)}": 1}
    assert engine.max_in_flight == 1


def test_same_bytes_at_any_concurrency_and_a_rerun_sends_nothing(tmp_path):
    """The simulator through the whole stage at max_per_sample 3: one record at a time and many at once give
    the same bytes and counters; a rerun from the reply cache sends zero requests."""
    inp = write_inputs(tmp_path / "commit.jsonl", 12)
    params = CollectParams(max_per_sample=3, limit_one_block_prob=1.0)
    runs = {}
    for name, over in {"serial": {"num_proc": 1, "window": 1}, "wide": {"num_proc": 64, "window": 0}}.items():
        out = tmp_path / f"{name}.jsonl"
        llm = llm_params(tmp_path, "simulator", name, **over)
        runs[name] = (run_collection("commit", str(inp), str(out), params=params, seed=5, llm_params=llm),
                      out.read_bytes())
    (s1, b1), (s2, b2) = runs["serial"], runs["wide"]
    assert b1 == b2 and s1["samples"] > 12
    per_record = {k: v for k, v in s1.items() if k.startswith(("samples_per_record.", "draws."))}
    assert per_record == {k: v for k, v in s2.items() if k.startswith(("samples_per_record.", "draws."))}
    assert sum(v for k, v in per_record.items() if k.startswith("samples_per_record.")) == 12
    assert sum(int(k.rsplit(".", 1)[1]) * v for k, v in per_record.items()
               if k.startswith("samples_per_record.")) == s1["samples"]
    assert s1["draws.tried"] == s1["samples"] + sum(v for k, v in s1.items() if k.startswith("draws.skipped."))
    again = tmp_path / "again.jsonl"
    s3 = run_collection("commit", str(inp), str(again), params=params, seed=5,
                        llm_params=llm_params(tmp_path, "simulator", "serial", num_proc=8))
    assert again.read_bytes() == b1 and s3["requests.sent"] == 0 and s3["requests.cache_hits"] > 0


def test_records_stay_concurrent(tmp_path):
    """Draws of one record are sequential, but records still overlap: with a window of 8, more than one
    request is in flight at once."""
    inp = tmp_path / "commit.jsonl"
    write_records(inp, commit_records(8))
    llm = llm_params(tmp_path, "simulator", "conc", num_proc=8, window=8)
    stats = run_collection("commit", str(inp), str(tmp_path / "o.jsonl"), seed=5, llm_params=llm,
                           params=CollectParams(max_per_sample=2, limit_one_block_prob=1.0))
    assert stats["session.max_in_flight"] > 1
