"""Local workers: ``collect.workers`` splits one run over local processes and gives the bytes of one process."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import orjson
import pytest
from click.testing import CliRunner

from proginstruct.cli import main
from proginstruct.collection.collect import run_collection
from proginstruct.collection.sample import CollectParams
from proginstruct.collection.shards import in_shard, shard_of
from proginstruct.collection.workers import part_path, worker_llm_params, worker_of, worker_shards
from proginstruct.errors import BadRecord, UserError
from proginstruct.llm.engine import Engine, EngineOptions
from proginstruct.llm.model_map import ModelMap

from .scale_helpers import commit_records, llm_params, write_inputs

PARAMS = CollectParams(limit_one_block_prob=1.0, max_per_sample=2)


def test_worker_shards_partition_the_run_shard():
    ids = [f"rec{i}" for i in range(2000)]
    for shard in (None, (1, 1), (2, 3), (3, 3)):
        for n in (1, 2, 3):
            subs = worker_shards(shard, n)
            assert len(subs) == n
            for rid in ids:
                owners = [j for j, sub in enumerate(subs) if in_shard(rid, sub)]
                if shard is None or shard_of(rid, shard[1]) == shard[0]:
                    assert owners == [worker_of(rid, shard, n)]  # exactly one worker, the one merge expects
                else:
                    assert owners == [] and worker_of(rid, shard, n) is None
    counts = [sum(worker_of(r, None, 4) == j for r in ids) for j in range(4)]
    assert all(400 < c < 600 for c in counts)  # balanced


def test_worker_llm_params_share_every_limit():
    lp = worker_llm_params({"num_proc": 512, "window": 0, "model_rpm": 600.0}, 3)
    assert lp["num_proc"] == 171 and lp["window"] == 0 and lp["limit_share"] == pytest.approx(1 / 3)
    assert lp["model_rpm"] == 600.0  # the engine applies the share, to the model map's limits too
    assert worker_llm_params({"num_proc": 1, "window": 5}, 2) | {} == {"num_proc": 1, "window": 3,
                                                                       "limit_share": 0.5}
    assert part_path("data/collected/commit.jsonl", 2, 3).as_posix() == "data/collected/commit.worker2of3.jsonl"


def test_engine_applies_the_limit_share(tmp_path):
    mm = tmp_path / "mm.json"
    mm.write_text('{"a": {"base": "http://127.0.0.1:9/v1", "max_in_flight": 5, "rpm": 120},'
                  ' "b": {"base": "http://127.0.0.1:9/v1"}}')
    from proginstruct.llm.cache import ReplyCache

    opts = EngineOptions.from_params({"limit_share": 0.5, "model_tpm": 1000.0})
    eng = Engine(ModelMap.load(str(mm)), ReplyCache(tmp_path / "c.sqlite"), {
        "temperature": 0.2, "top_p": 0.95, "max_tokens": 64, "frequency_penalty": 0.0, "presence_penalty": 0.0},
        options=opts)
    a, b = eng.limits["a"], eng.limits["b"]
    # per minute: 60 requests and 500 tokens for this process; bursts of 3 seconds' worth
    assert a.in_flight.free == 3 and a.requests.rate == 1.0 and a.tokens.rate * 60 == pytest.approx(500.0)
    assert a.requests.capacity == 3.0 and b.in_flight is None and b.requests is None
    assert b.tokens.rate * 60 == pytest.approx(500.0)
    eng.cache.close()
    with pytest.raises(UserError, match="limit_share"):
        EngineOptions.from_params({"limit_share": 0})


def test_two_and_three_workers_give_the_one_process_bytes(tmp_path):
    recs = commit_records(18)
    for r in recs[::4]:
        del r["id"]  # ids from the content
    inp = tmp_path / "commit.json"
    inp.write_bytes(orjson.dumps(recs))
    llm = llm_params(tmp_path, "simulator", "cache")
    one = tmp_path / "one.jsonl"
    s_one = run_collection("commit", str(inp), str(one), params=PARAMS, seed=5, llm_params=llm)
    for n in (2, 3):
        out = tmp_path / f"w{n}.jsonl"
        s = run_collection("commit", str(inp), str(out), params=PARAMS, seed=5, llm_params=llm, workers=n)
        assert out.read_bytes() == one.read_bytes()
        assert s["inputs"] == 18 and s["samples"] == s_one["samples"]
        assert sorted(p.name for p in tmp_path.glob("w*")) == [f"w{m}.jsonl" for m in range(2, n + 1)]

    # inside a shard: workers split part 2 of 3 only
    part = tmp_path / "part.jsonl"
    run_collection("commit", str(inp), str(part), params=PARAMS, seed=5, llm_params=llm, shard="2/3")
    split = tmp_path / "part_w2.jsonl"
    s = run_collection("commit", str(inp), str(split), params=PARAMS, seed=5, llm_params=llm, shard="2/3",
                       workers=2)
    assert split.read_bytes() == part.read_bytes() and 0 < s["inputs"] < 18


def test_workers_draw_one_progress_bar_with_the_input_total(tmp_path, capfd):
    inp = write_inputs(tmp_path / "commit.jsonl", 9)
    llm = llm_params(tmp_path, "simulator", "cache")
    run_collection("commit", str(inp), str(tmp_path / "w.jsonl"), params=PARAMS, seed=5, llm_params=llm, workers=2)
    err = capfd.readouterr().err
    assert "collect commit (2 workers)" in err and re.search(r"(?<!\d)9/9\b", err)  # one bar, to the total
    assert "collect commit:" not in err  # the workers draw none


def test_a_resumed_worker_run_counts_each_record_once(tmp_path, capfd, monkeypatch):
    """A worker fails halfway; the rerun resumes from the checkpoints and its bar ends at the total, with
    the resumed records shown as done from the start, and the output has the one-process bytes."""
    import proginstruct.collection.collect as collect
    import proginstruct.collection.workers as workers

    inp = write_inputs(tmp_path / "commit.jsonl", 12)
    llm = llm_params(tmp_path, "simulator", "cache")
    one = tmp_path / "one.jsonl"
    run_collection("commit", str(inp), str(one), params=PARAMS, seed=5, llm_params=llm)
    real, fail = collect.collect_record, tmp_path / "fail"

    async def flaky(engine, roles, data_type, rec, rid, **kw):  # inherited by the forked workers
        if fail.exists() and rec["id"].startswith("c0008"):
            raise RuntimeError("injected")
        return await real(engine, roles, data_type, rec, rid, **kw)

    monkeypatch.setattr(collect, "collect_record", flaky)
    # fork even if an earlier test left a thread running: a spawned worker would not see the patch
    monkeypatch.setattr(workers.threading, "active_count", lambda: 1)
    fail.touch()
    out = tmp_path / "w.jsonl"
    with pytest.raises(RuntimeError, match="failed: RuntimeError: injected"):
        run_collection("commit", str(inp), str(out), params=PARAMS, seed=5, llm_params=llm, workers=2)
    resumed = sum(len(p.read_bytes().splitlines()) - 1 for p in tmp_path.glob("w.worker*of2.jsonl.partial.idx"))
    assert 0 < resumed < 12 and not out.exists()
    fail.unlink()
    capfd.readouterr()
    run_collection("commit", str(inp), str(out), params=PARAMS, seed=5, llm_params=llm, workers=2)
    err = capfd.readouterr().err
    assert out.read_bytes() == one.read_bytes()
    assert re.search(rf"(?<!\d){resumed}/12\b", err) and re.search(r"(?<!\d)12/12\b", err)
    assert not re.search(r"(?<!\d)(1[3-9]|2\d)/12\b", err)  # resumed records counted once


def test_workers_are_spawned_when_the_parent_has_threads(tmp_path, capfd):
    import threading

    inp = write_inputs(tmp_path / "commit.jsonl", 6)
    llm = llm_params(tmp_path, "simulator", "cache")
    one = tmp_path / "one.jsonl"
    run_collection("commit", str(inp), str(one), params=PARAMS, seed=5, llm_params=llm)
    capfd.readouterr()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()  # a second thread: fork would be unsafe, so the workers are spawned (and import everything)
    try:
        out = tmp_path / "w.jsonl"
        run_collection("commit", str(inp), str(out), params=PARAMS, seed=5, llm_params=llm, workers=2)
    finally:
        stop.set()
    assert out.read_bytes() == one.read_bytes()
    assert re.search(r"(?<!\d)6/6\b", capfd.readouterr().err)  # the shared counter reached the spawned workers


def test_a_progress_bar_leaves_no_thread_behind():
    """tqdm's monitor thread would make every later ``--workers`` run in the process spawn, not fork."""
    code = ("import threading; from proginstruct.progress import Bar; "
            "b = Bar(range(3), total=3); list(b); b.close(); print(threading.active_count())")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "1"


def test_run_ordered_reports_progress_to_a_callback_resumed_records_first(tmp_path, capfd):
    from proginstruct.llm.runner import run_ordered
    from proginstruct.records import CheckpointedWriter

    class Recorder:
        def __init__(self):
            self.calls: list[tuple[str, int]] = []

        def resume(self, records):
            self.calls.append(("resume", records))

        def update(self, records):
            self.calls.append(("update", records))

    async def fn(i, rec):
        if rec == "boom":
            raise RuntimeError("stop here")
        return [{"i": i}], {"n": 1}

    out = tmp_path / "o.jsonl"
    items = [(i, "boom" if i == 3 else "ok") for i in range(5)]
    rec = Recorder()
    with pytest.raises(RuntimeError):
        asyncio.run(run_ordered(iter(items), fn, CheckpointedWriter(out, "f"), window=1, progress=rec))
    assert rec.calls == [("resume", 0)] + [("update", 1)] * 3  # nothing resumed, then records 0-2
    items[3] = (3, "ok")
    rec = Recorder()
    stats = asyncio.run(run_ordered(iter(items), fn, CheckpointedWriter(out, "f"), window=2, total=5, progress=rec))
    assert rec.calls == [("resume", 3), ("update", 1), ("update", 1)]
    assert stats["n"] == 5 and len(out.read_text().splitlines()) == 5
    assert "rec" not in capfd.readouterr().err  # no bar of its own


def test_a_worker_error_reaches_the_parent_as_one_line(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 8)
    lines = inp.read_text().splitlines()
    lines[5] = '{"id": "broken", "lang": "python"}'
    inp.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    llm = llm_params(tmp_path, "simulator", "cache")
    with pytest.raises(BadRecord) as err:
        run_collection("commit", str(inp), str(out), params=PARAMS, seed=5, llm_params=llm, on_bad_record="fail",
                       workers=2)
    assert str(err.value).startswith(f"{inp}: record 5: ") and "on_bad_record: skip" in str(err.value)
    assert not out.exists()
    with pytest.raises(UserError, match="integer >= 1"):
        run_collection("commit", str(inp), str(out), params=PARAMS, seed=5, llm_params=llm, workers=0)


def test_cli_workers_flag(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 6)
    llm = llm_params(tmp_path, "simulator", "cache")
    args = ["collect", "--data_type", "commit", "--input_path", str(inp), "--model_map", llm["model_map"],
            "--cache_path", llm["cache_path"], "--limit_one_block_prob", "1.0", "--seed", "3"]
    r1 = CliRunner().invoke(main, [*args, "--output_path", str(tmp_path / "a.jsonl")])
    r2 = CliRunner().invoke(main, [*args, "--output_path", str(tmp_path / "b.jsonl"), "--workers", "2"])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    r3 = CliRunner().invoke(main, [*args, "--output_path", str(tmp_path / "c.jsonl"), "--workers", "0"])
    assert r3.exit_code == 2 and "integer >= 1" in r3.output
