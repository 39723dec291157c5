"""Sharding over machines: ``--shard k/n`` splits the input by record id; merging the parts gives the one-machine bytes."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner

from proginstruct.cli import main
from proginstruct.collection.collect import run_collection
from proginstruct.collection.sample import CollectParams
from proginstruct.collection.shards import merge_shards, parse_shard, sample_record_id, shard_of
from proginstruct.errors import UserError
from proginstruct.records import read_records, record_id

from .scale_helpers import commit_records, llm_params

PARAMS = CollectParams(limit_one_block_prob=1.0, max_per_sample=2)


def test_parse_shard_and_assignment():
    assert parse_shard("") is None and parse_shard(" 2/3 ") == (2, 3)
    for bad in ("0/3", "4/3", "x/2", "3", "1/0"):
        with pytest.raises(UserError, match="'k/n' with 1 <= k <= n"):
            parse_shard(bad)
    ids = [f"r{i}" for i in range(3000)]
    parts = [shard_of(r, 3) for r in ids]
    assert parts == [shard_of(r, 3) for r in ids]  # stable
    assert all(900 < parts.count(k) < 1100 for k in (1, 2, 3))  # balanced


def test_three_shards_merge_to_the_single_machine_output(tmp_path):
    # a .json list input (streamed), records with and without an "id"
    recs = commit_records(24)
    for r in recs[::3]:
        del r["id"]
    inp = tmp_path / "commit.json"
    inp.write_bytes(orjson.dumps(recs))
    llm = llm_params(tmp_path, "simulator", "cache")  # the parts share the cache, as they would share servers
    whole = tmp_path / "whole.jsonl"
    s_whole = run_collection("commit", str(inp), str(whole), params=PARAMS, seed=5, llm_params=llm)

    parts, inputs = [], 0
    for k in (1, 2, 3):
        part = tmp_path / f"part{k}.jsonl"
        s = run_collection("commit", str(inp), str(part), params=PARAMS, seed=5, llm_params=llm, shard=f"{k}/3")
        inputs += s["inputs"]
        rids = {sample_record_id(x) for _, x in read_records(part)}
        assert rids and all(shard_of(r, 3) == k for r in rids)
        parts.append(str(part))
    assert inputs == s_whole["inputs"] == 24

    merged = tmp_path / "merged.jsonl"
    assert merge_shards(str(inp), parts, str(merged)) == s_whole["samples"]
    assert merged.read_bytes() == whole.read_bytes()
    assert {record_id(r) for r in recs} == {sample_record_id(x) for _, x in read_records(merged)}

    with pytest.raises(UserError, match="belongs to part"):
        merge_shards(str(inp), [parts[1], parts[0], parts[2]], str(tmp_path / "bad.jsonl"))
    assert not (tmp_path / "bad.jsonl").exists()


def test_shard_from_params_yaml_and_flag(tmp_path):
    inp = tmp_path / "commit.jsonl"
    inp.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in commit_records(12)))
    llm = llm_params(tmp_path, "simulator", "cli")
    (tmp_path / "params.yaml").write_text("collect:\n  shard: 2/2\n  commit:\n    limit_one_block_prob: 1.0\n")
    base = ["collect", "--data_type", "commit", "--input_path", str(inp), "--model_map", llm["model_map"],
            "--cache_path", llm["cache_path"], "--params", str(tmp_path / "params.yaml")]
    runner = CliRunner()
    r2 = runner.invoke(main, [*base, "--output_path", str(tmp_path / "p2.jsonl")])
    assert r2.exit_code == 0, r2.output
    assert "(shard 2/2)" in r2.output
    r1 = runner.invoke(main, [*base, "--output_path", str(tmp_path / "p1.jsonl"), "--shard", "1/2"])
    assert r1.exit_code == 0, r1.output
    bad = runner.invoke(main, [*base, "--output_path", str(tmp_path / "x.jsonl"), "--shard", "3/2"])
    assert bad.exit_code == 2 and "error: --shard / collect.shard must be 'k/n'" in bad.output
    merged = runner.invoke(main, ["merge-shards", "--input_path", str(inp), "--output_path",
                                  str(tmp_path / "all.jsonl"), str(tmp_path / "p1.jsonl"), str(tmp_path / "p2.jsonl")])
    assert merged.exit_code == 0, merged.output
    ids = [sample_record_id(x) for _, x in read_records(tmp_path / "all.jsonl")]
    order = [r["id"] for r in commit_records(12)]
    assert ids == sorted(ids, key=order.index) and len(set(ids)) > 6
