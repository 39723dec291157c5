"""An interrupted collection resumes after the last record written and ends byte-identical."""

from __future__ import annotations

import orjson
import pytest

import proginstruct.collection.collect as collect_mod
from proginstruct.cli.common import LLM_DEFAULTS
from proginstruct.collection.sample import CollectParams
from proginstruct.errors import UserError
from proginstruct.records import write_records


def _records(n: int) -> list[dict]:
    recs = []
    for i in range(n):
        a = "\n".join(f"def f{j}(x):\n    return x + {j}\n" for j in range(6))
        b = a.replace("x + 1", f"x * {i + 2}").replace("x + 4", f"x - {i}") + f"\n# rev {i}\n"
        recs.append({"code1": a, "code2": b, "lang": "python", "git": f"Tune helpers #{i}"})
    return recs


@pytest.fixture
def setup(tmp_path):
    inp = tmp_path / "commit.jsonl"
    write_records(inp, _records(30))
    (tmp_path / "mm.json").write_text('{"sim": {"base": "simulator"}}')
    llm = {**LLM_DEFAULTS, "model_map": str(tmp_path / "mm.json"), "num_proc": 4, "window": 3}
    params = CollectParams(limit_one_block_prob=1.0, max_per_sample=2)
    return tmp_path, inp, llm, params


def test_interrupted_run_resumes_and_matches_a_clean_run(setup, monkeypatch):
    tmp_path, inp, llm, params = setup
    clean = tmp_path / "clean.jsonl"
    s_clean = collect_mod.run_collection("commit", str(inp), str(clean), params=params, seed=1,
                                         llm_params={**llm, "cache_path": str(tmp_path / "c1.sqlite")})

    real = collect_mod.collect_record
    calls = {"n": 0}

    async def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt  # like Ctrl-C in the middle of the run
        return await real(*args, **kwargs)

    out = tmp_path / "out.jsonl"
    llm2 = {**llm, "cache_path": str(tmp_path / "c2.sqlite")}
    monkeypatch.setattr(collect_mod, "collect_record", crashing)
    with pytest.raises(KeyboardInterrupt):
        collect_mod.run_collection("commit", str(inp), str(out), params=params, seed=1, llm_params=llm2)
    assert not out.exists()  # nothing that looks finished
    idx = out.with_name("out.jsonl.partial.idx").read_bytes().splitlines()
    done_before = len(idx) - 1
    assert 0 < done_before < 30

    monkeypatch.setattr(collect_mod, "collect_record", real)
    resumed_calls = {"n": 0}

    async def counting(*args, **kwargs):
        resumed_calls["n"] += 1
        return await real(*args, **kwargs)

    monkeypatch.setattr(collect_mod, "collect_record", counting)
    s2 = collect_mod.run_collection("commit", str(inp), str(out), params=params, seed=1, llm_params=llm2)
    assert resumed_calls["n"] == 30 - done_before  # only the missing records ran again
    assert out.read_bytes() == clean.read_bytes()
    assert s2["samples"] == s_clean["samples"] and s2["inputs"] == 30
    assert not out.with_name("out.jsonl.partial").exists()


def test_bad_records_policy(setup):
    tmp_path, _, llm, params = setup
    inp = tmp_path / "bad.json"
    inp.write_bytes(orjson.dumps([_records(1)[0], {"code1": "x"}]))
    llm = {**llm, "cache_path": str(tmp_path / "c3.sqlite")}
    out = tmp_path / "o.json"
    with pytest.raises(UserError, match=r"bad\.json: record 1: missing or non-string field 'code2'"):
        collect_mod.run_collection("commit", str(inp), str(out), params=params, seed=1, llm_params=llm,
                                   on_bad_record="fail")
    assert not out.exists()
    stats = collect_mod.run_collection("commit", str(inp), str(out), params=params, seed=1, llm_params=llm,
                                       on_bad_record="skip")
    assert stats["bad_records"] == 1 and stats["inputs"] == 2
    assert isinstance(orjson.loads(out.read_bytes()), list)


def test_empty_input_and_unknown_model(setup):
    tmp_path, _, llm, params = setup
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(UserError, match="no input records"):
        collect_mod.run_collection("commit", str(empty), str(tmp_path / "o.jsonl"), params=params, seed=1,
                                   llm_params=llm)
    inp = tmp_path / "commit.jsonl"
    with pytest.raises(UserError, match='model "gpt-x" is not in the model map'):
        collect_mod.run_collection("commit", str(inp), str(tmp_path / "o.jsonl"), params=params, seed=1,
                                   llm_params={**llm, "models": "gpt-x"})
    assert not (tmp_path / "o.jsonl").exists()
