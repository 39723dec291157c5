"""Estimate before a run (docs/models-and-scale.md "Estimate before a run"): the first round's requests and prompt
tokens per role, counted without sending anything, and projected to the whole input when sampled."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from proginstruct.cli import main
from proginstruct.collection.collect import run_collection
from proginstruct.estimate import estimate
from proginstruct.simulator.server import serve_in_thread

from .scale_helpers import PARAMS, batch_llm, llm_params, param_flags, server_stats, write_inputs

FLAGS = [*param_flags(PARAMS), "--seed", "3"]


def _rows(text: str) -> dict[str, list[int]]:
    """role -> the numbers of its row in an estimate report."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"  (chat|instruction|judge|programmer|total)\s+(.*)", line)
        if m:
            out[m.group(1)] = [int(x) for x in re.findall(r"\d+", m.group(2))]
    return out


def test_estimate_counts_the_first_round_a_batch_run_submits(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 20)
    llm = llm_params(tmp_path, "simulator", "est")
    runner = CliRunner()
    args = ["estimate", "--data_type", "commit", "--input_path", str(inp), "--model_map", llm["model_map"],
            "--cache_path", llm["cache_path"], "--params", str(tmp_path / "none.yaml"), *FLAGS]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    rows = _rows(res.output)
    assert "20 records, all rendered" in res.output and set(rows) == {"chat", "instruction", "judge", "total"}
    assert rows["total"][0] == sum(rows[r][0] for r in ("chat", "instruction", "judge"))
    url, stop = serve_in_thread()
    try:
        run_collection("commit", str(inp), str(tmp_path / "b.jsonl"), params=PARAMS, seed=3,
                       llm_params=batch_llm(tmp_path, url, "b"))
        first_job = server_stats(url)["batch"]["job_lines"][0]
    finally:
        stop()
    assert rows["total"][0] == first_job  # exactly the lines of the batch run's first round
    # --mode estimate on collect prints the same and writes nothing
    out = tmp_path / "never.jsonl"
    res2 = runner.invoke(main, ["collect", "--data_type", "commit", "--input_path", str(inp), "--output_path",
                                str(out), "--mode", "estimate", *args[5:]])
    assert res2.exit_code == 0 and res2.output == res.output and not out.exists()


def test_a_large_input_is_sampled_and_projected(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 30)
    llm = llm_params(tmp_path, "simulator", "est")
    est = estimate("commit", str(inp), llm_params=llm, seed=3, params=PARAMS, sample=10)
    assert (est.total, est.rendered, est.scale) == (30, 10, 3.0)
    assert est.waiting + est.complete == 10 and sum(est.requests.values()) > 0
    rows = _rows(est.render())
    for role, n in est.requests.items():
        assert rows[role] == [n, est.tokens[role], 3 * n, 3 * est.tokens[role]]
    full = estimate("commit", str(inp), llm_params=llm, seed=3, params=PARAMS, sample=1000)
    assert full.rendered == 30 and "projected" not in full.render()


def test_estimate_of_the_aiprogrammer_stage(tmp_path):
    snippets = tmp_path / "snippets.json"
    snippets.write_text(json.dumps([f"def f{i}(x):\n    return x * {i}\n" for i in range(5)]))
    llm = llm_params(tmp_path, "simulator", "est")
    res = CliRunner().invoke(main, ["aiprogrammer", "--input_path", str(snippets), "--output_path",
                                    str(tmp_path / "o.jsonl"), "--mode", "estimate", "--model_map",
                                    llm["model_map"], "--cache_path", llm["cache_path"]])
    assert res.exit_code == 0, res.output
    assert _rows(res.output)["programmer"][0] == 5 and not (tmp_path / "o.jsonl").exists()
