"""Batch mode (docs/models-and-scale.md "Batch inference"): rounds of batch jobs over the reply cache give the
bytes of an online run, send the bodies an online run sends, retry failed lines within a bound, and stop with one
line on a server without the Batch API, a refused job or a failing local command."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from proginstruct.collection.collect import run_collection
from proginstruct.errors import UserError
from proginstruct.simulator.server import serve_in_thread
from proginstruct.sources.aiprogrammer import run_aiprogrammer

from .scale_helpers import MODEL, PARAMS, batch_llm, llm_params, server_stats, write_inputs

STAND_IN = Path(__file__).with_name("sim_run_batch.py")


def online_reference(tmp_path: Path, inp: Path, n_name: str = "ref") -> tuple[Path, dict, dict]:
    """An online run against a clean loopback server: (output, stats, request-body hash -> count)."""
    url, stop = serve_in_thread()
    try:
        out = tmp_path / f"{n_name}.jsonl"
        s = run_collection("commit", str(inp), str(out), params=PARAMS, seed=3,
                           llm_params=llm_params(tmp_path, url, n_name, num_proc=8))
        bodies = server_stats(url, bodies=True)["bodies"]["counts"]
    finally:
        stop()
    return out, s, bodies


def test_batch_run_gives_the_online_bytes_and_sends_the_online_bodies(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 40)
    ref, s_ref, online_bodies = online_reference(tmp_path, inp)
    url, stop = serve_in_thread(batch_delay=0.05, batch_fail_lines=0.15, batch_expire_jobs=1, fault_seed=5)
    try:
        llm = batch_llm(tmp_path, url, "batch", {"max_lines": 15})
        out = tmp_path / "batch.jsonl"
        s = run_collection("commit", str(inp), str(out), params=PARAMS, seed=3, llm_params=llm)
        srv = server_stats(url, bodies=True)
        again = run_collection("commit", str(inp), str(tmp_path / "again.jsonl"), params=PARAMS, seed=3,
                               llm_params=llm)
        srv_again = server_stats(url)
    finally:
        stop()
    assert out.read_bytes() == ref.read_bytes()
    submitted = srv["batch"]["submitted"]
    assert srv["requests"] == 0  # nothing went to the online endpoint
    assert set(submitted) == set(online_bodies)  # each line carried an online request's body, byte for byte
    assert s["batch.lines"] == srv["batch"]["lines"] == sum(submitted.values())
    # split at 15 lines a file: more jobs than rounds that submitted any (the last round submits none)
    assert s["batch.jobs"] == srv["batch"]["jobs"] > s["batch.rounds"] - 1 >= 2
    assert max(srv["batch"]["job_lines"]) == 15
    # every failed line was pending again and went out once more, until its reply came
    assert s["batch.failed_lines"] == s["batch.lines"] - len(online_bodies) > 0
    assert s["faults.server_error"] == srv["batch"]["failed_lines"] > 0  # lines in the error files
    assert s["faults.batch_expired"] >= srv["batch"]["job_lines"][0] // 2  # the unanswered half of the expired job
    assert s["requests.batched"] == s_ref["requests.sent"] and s["samples"] == s_ref["samples"]
    # every record counter is the online run's: a draw that waited was neither tried twice, skipped nor failed
    same = sorted(k for k in s_ref if not k.startswith(("requests.", "tokens.", "session.")))
    assert "draws.tried" in same and any(k.startswith("roles.") for k in same)
    assert {k: s[k] for k in same} == {k: s_ref[k] for k in same}
    assert not any(k.startswith(("errors.", "draws.skipped.judge", "draws.skipped.instruction")) for k in s)
    assert not list((tmp_path / "batch-batches").iterdir())  # input and output files removed once cached
    # a rerun after everything finished sends nothing
    assert again["batch.jobs"] == 0 and again["batch.rounds"] == 1
    assert srv_again["batch"]["jobs"] == srv["batch"]["jobs"]
    assert (tmp_path / "again.jsonl").read_bytes() == ref.read_bytes()


def _cancel_second_job(url: str, done: threading.Event) -> None:
    """Cancel the second job the server receives (a job cancelled by someone else)."""
    root = url[: -len("/v1")]
    while not done.is_set():
        ids = server_stats(url)["batch"]["job_ids"]
        if len(ids) >= 2:
            req = urllib.request.Request(f"{root}/v1/batches/{ids[1]}/cancel", data=b"", method="POST")
            urllib.request.urlopen(req, timeout=10).read()
            return
        time.sleep(0.01)


def test_failed_and_cancelled_jobs_send_their_lines_again(tmp_path, capsys):
    inp = write_inputs(tmp_path / "commit.jsonl", 12)
    ref, _, online_bodies = online_reference(tmp_path, inp)
    url, stop = serve_in_thread(batch_delay=0.3, batch_fail_jobs=1)
    done = threading.Event()
    canceller = threading.Thread(target=_cancel_second_job, args=(url, done), daemon=True)
    canceller.start()
    try:
        out = tmp_path / "batch.jsonl"
        s = run_collection("commit", str(inp), str(out), params=PARAMS, seed=3,
                           llm_params=batch_llm(tmp_path, url, "batch"))
        srv = server_stats(url)
    finally:
        done.set()
        stop()
    assert out.read_bytes() == ref.read_bytes()
    assert srv["batch"]["by_status"]["failed"] == 1 and srv["batch"]["by_status"]["cancelled"] == 1
    first, second = srv["batch"]["job_lines"][:2]
    assert first == second  # the failed job's lines went out again, and again after the cancel
    assert s["faults.batch_failed"] == first and s["faults.batch_cancelled"] == second
    assert s["batch.failed_lines"] == first + second
    assert s["batch.lines"] == len(online_bodies) + first + second
    err = capsys.readouterr().err
    assert "ended failed (simulated validation failure)" in err and "ended cancelled" in err


def test_lines_that_keep_failing_are_tried_a_bounded_number_of_times_then_the_run_stops(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 6)
    url, stop = serve_in_thread(batch_fail_lines=1.0)
    try:
        with pytest.raises(UserError) as exc:
            run_collection("commit", str(inp), str(tmp_path / "out.jsonl"), params=PARAMS, seed=3,
                           llm_params=batch_llm(tmp_path, url, "batch", max_retries=1))
        submitted = server_stats(url, bodies=True)["batch"]["submitted"]
    finally:
        stop()
    assert set(submitted.values()) == {2}  # 1 + max_retries tries of every line, then the run stops
    # as an online request after its retries (SPEC 5): no draw is skipped, the rerun resumes
    msg = str(exc.value)
    assert "a batch line failed 2 times (llm.max_retries 1); last error: server_error" in msg and "\n" not in msg
    assert not (tmp_path / "out.jsonl").exists()


def test_command_back_end_gives_the_online_bytes(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 20)
    ref, s_ref, _ = online_reference(tmp_path, inp)
    command = f"{sys.executable} {STAND_IN} -i {{input}} -o {{output}} --model {{model}}"
    llm = batch_llm(tmp_path, "http://127.0.0.1:9/v1", "cmd", {"command": command, "max_lines": 10})
    out = tmp_path / "cmd.jsonl"
    s = run_collection("commit", str(inp), str(out), params=PARAMS, seed=3, llm_params=llm)
    assert out.read_bytes() == ref.read_bytes()
    assert s["batch.lines"] == s_ref["requests.sent"] and s["batch.failed_lines"] == 0
    assert s["batch.jobs"] >= s["batch.lines"] / 10 > s["batch.rounds"] - 1  # files of at most 10 lines
    assert not list((tmp_path / "cmd-batches").iterdir())


def test_records_run_again_when_too_much_output_waits_behind_a_record(tmp_path, monkeypatch, capsys):
    """With no room to hold finished records, each runs again in the next round: same bytes and counters."""
    import proginstruct.llm.rounds as rounds

    inp = tmp_path / "commit.jsonl"
    write_inputs(inp, 12)
    inp.write_bytes(inp.read_bytes() + b'{"code1": 1}\n')  # a malformed record, run again every round
    ref = tmp_path / "ref.jsonl"
    s_ref = run_collection("commit", str(inp), str(ref), params=PARAMS, seed=3,
                           llm_params=llm_params(tmp_path, "simulator", "ref"))
    capsys.readouterr()
    monkeypatch.setattr(rounds, "HOLD_BYTES", 0)
    out = tmp_path / "out.jsonl"
    s = run_collection("commit", str(inp), str(out), params=PARAMS, seed=3,
                       llm_params=batch_llm(tmp_path, "simulator", "b"))
    assert out.read_bytes() == ref.read_bytes() and s["batch.rounds"] >= 3
    same = [k for k in s_ref if not k.startswith(("requests.", "tokens.", "session."))]
    assert {k: s[k] for k in same} == {k: s_ref[k] for k in same} and s["bad_records"] == 1
    assert "skipped 1 malformed record(s)" in capsys.readouterr().err


def test_aiprogrammer_stage_in_batch_mode_gives_the_online_bytes(tmp_path):
    snippets = tmp_path / "snippets.json"
    snippets.write_text(json.dumps([f"def f{i}(x):\n    y = x * {i}\n    return y + {i}\n" for i in range(8)]))
    on = tmp_path / "on.jsonl"
    m_on = run_aiprogrammer(str(snippets), str(on), {}, llm_params(tmp_path, "simulator", "on"), seed=4)
    b = tmp_path / "b.jsonl"
    m_b = run_aiprogrammer(str(snippets), str(b), {}, batch_llm(tmp_path, "simulator", "b"), seed=4)
    assert b.read_bytes() == on.read_bytes() and m_b["histories"] == m_on["histories"]
    assert m_b["batch"]["lines"] == m_on["requests"]["sent"] and m_b["batch"]["rounds"] >= 2


# ------------------------------------------------------------------ bad input: one line
def test_a_server_without_the_batch_api_is_one_line_naming_the_ways_out(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 3)
    url, stop = serve_in_thread(batch_api=False)
    try:
        with pytest.raises(UserError, match=r"no Batch API .*404.*--mode online.*\"command\"") as e:
            run_collection("commit", str(inp), str(tmp_path / "o.jsonl"), params=PARAMS, seed=3,
                           llm_params=batch_llm(tmp_path, url, "batch"))
    finally:
        stop()
    assert "\n" not in str(e.value) and MODEL in str(e.value)
    assert not (tmp_path / "o.jsonl").exists()
    assert not list((tmp_path / "batch-batches").iterdir())  # no input file left for a job that never was
    with sqlite3.connect(tmp_path / "batch.sqlite") as db:
        assert db.execute("SELECT status FROM batch_jobs").fetchall() == [("done",)]


def test_a_refused_job_is_one_line_with_the_api_message(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 3)
    url, stop = serve_in_thread(batch_refuse="Enqueued token limit reached for this organization")
    try:
        with pytest.raises(UserError, match="refused the batch job .*400: Enqueued token limit reached") as e:
            run_collection("commit", str(inp), str(tmp_path / "o.jsonl"), params=PARAMS, seed=3,
                           llm_params=batch_llm(tmp_path, url, "batch"))
    finally:
        stop()
    assert "\n" not in str(e.value)


def test_a_failing_command_is_one_line_naming_the_command_and_its_log(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 3)
    command = f"{sys.executable} {STAND_IN} -i {{input}} -o {{output}} --model {{model}} --exit 3"
    llm = batch_llm(tmp_path, "http://127.0.0.1:9/v1", "cmd", {"command": command})
    with pytest.raises(UserError, match=r"sim_run_batch\.py .* exited with status 3; see its log (\S+\.log)") as e:
        run_collection("commit", str(inp), str(tmp_path / "o.jsonl"), params=PARAMS, seed=3, llm_params=llm)
    log = Path(str(e.value).rsplit("see its log ", 1)[1])
    assert "simulated failure of the batch command" in log.read_text()


def test_batch_mode_runs_in_one_process(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 3)
    with pytest.raises(UserError, match="--workers 2 works in online mode only"):
        run_collection("commit", str(inp), str(tmp_path / "o.jsonl"), params=PARAMS, seed=3, workers=2,
                       llm_params=batch_llm(tmp_path, "simulator", "b"))


def test_batch_lines_of_a_guided_model_carry_its_grammar_as_online_requests_do(tmp_path):
    """A model map entry with ``"guided"`` sends the role's grammar in every request body; a batch line is
    built by the same code (``Engine.request``), so it carries the same body as the online request."""
    inp = write_inputs(tmp_path / "commit.jsonl", 12)
    plain_out, _, plain_bodies = online_reference(tmp_path, inp, "plain")
    url, stop = serve_in_thread()
    try:
        online = llm_params(tmp_path, url, "guided", entry={"guided": "llama.cpp"}, num_proc=8)
        ref = tmp_path / "guided.jsonl"
        run_collection("commit", str(inp), str(ref), params=PARAMS, seed=3, llm_params=online)
        guided_bodies = server_stats(url, bodies=True)["bodies"]["counts"]
    finally:
        stop()
    url, stop = serve_in_thread(batch_delay=0.01)
    try:
        llm = batch_llm(tmp_path, url, "guided_batch", entry={"guided": "llama.cpp"})
        out = tmp_path / "guided_batch.jsonl"
        run_collection("commit", str(inp), str(out), params=PARAMS, seed=3, llm_params=llm)
        submitted = server_stats(url, bodies=True)["batch"]["submitted"]
    finally:
        stop()
    assert not set(guided_bodies) & set(plain_bodies)  # the grammar field changes every body
    assert set(submitted) == set(guided_bodies)  # each batch line is the guided online body, byte for byte
    assert out.read_bytes() == ref.read_bytes() == plain_out.read_bytes()  # the simulator ignores grammars
