"""Bad flags never silently drop data: every numeric param has a range, checked in one place, with a
one-line error naming it; bad choices and truncated JSON inputs get one line too."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from proginstruct.area.loc import AreaParams
from proginstruct.cli import area, collect, estimate, prepare_commit, prepare_submit, simulate
from proginstruct.cli.common import LLM_DEFAULTS
from proginstruct.collection.sample import CollectParams
from proginstruct.errors import UserError
from proginstruct.quality.params import DEFAULTS as QUALITY_DEFAULTS
from proginstruct.ranges import RANGES, ParamError, check_params, numeric_names
from proginstruct.records import read_records, write_records
from proginstruct.sources.aiprogrammer import AIPROGRAMMER_DEFAULTS
from proginstruct.sources.submit import SubmitParams

from .scale_helpers import commit_records


@pytest.mark.parametrize("defaults", [LLM_DEFAULTS, collect.COLLECT_DEFAULTS, area.DEFAULTS, AIPROGRAMMER_DEFAULTS,
                                      prepare_submit.DEFAULTS, prepare_commit.DEFAULTS, simulate.DEFAULTS,
                                      QUALITY_DEFAULTS])
def test_every_numeric_param_of_every_stage_has_a_range(defaults):
    names = numeric_names(defaults)
    assert names and not [n for n in names if n not in RANGES]
    check_params(defaults)  # the defaults themselves are in range


def test_one_line_naming_the_param_what_it_must_be_and_the_fix():
    with pytest.raises(ParamError) as exc:
        check_params({"window": -1}, "llm")
    assert str(exc.value) == ("llm.window must be a non-negative integer, got -1; fix params.yaml (llm) "
                              "or --window")
    for name, bad in [("max_try", 0), ("num_proc", 2.5), ("top_p", 0.0), ("temperature", 3), ("alpha", 0),
                      ("use_user_prob", 1.5), ("loc_noisy_length", -3), ("max_per_problem", 0), ("port", 70000),
                      ("window_bytes", "lots"), ("max_retries", True)]:
        shown = bad if isinstance(bad, str) else repr(bad)  # a flag's text as typed
        with pytest.raises(ParamError, match=rf"^x\.{name} must be .*, got {shown}; fix params.yaml \(x\) or --{name}$"):
            check_params({name: bad}, "x")
    assert check_params({"num_proc": "8", "window": 512.0, "other": "kept"}) == {"num_proc": 8, "window": 512,
                                                                                 "other": "kept"}


def test_the_params_classes_share_the_probability_check():
    # the same helper, the same words, in every params class that has probabilities
    for build, name in [(lambda: CollectParams(use_user_prob=2.0), "collect.<source>.use_user_prob"),
                        (lambda: AreaParams(loc_noisy_prob=-0.1), "area.loc_noisy_prob"),
                        (lambda: SubmitParams(internal_similarity_threshold=1.5),
                         "prepare_submit.internal_similarity_threshold")]:
        with pytest.raises(ParamError, match=rf"^{name} must be a probability in \[0, 1\]"):
            build()
    assert isinstance(ParamError("x"), UserError) and isinstance(ParamError("x"), ValueError)


def _collect(tmp_path, *extra: str):
    inp = tmp_path / "commit.jsonl"
    if not inp.exists():
        write_records(inp, commit_records(3))
    mm = tmp_path / "mm.json"
    mm.write_text(json.dumps({"sim": {"base": "simulator"}}))
    return CliRunner().invoke(collect.command, ["--data_type", "commit", "--input_path", str(inp), "--output_path",
                                                str(tmp_path / "out.jsonl"), "--model_map", str(mm), "--cache_path",
                                                str(tmp_path / "c.sqlite"), "--params", str(tmp_path / "no.yaml"),
                                                *extra])


@pytest.mark.parametrize("flag, value, words", [
    ("--window", "-1", "llm.window must be a non-negative integer, got -1"),
    ("--max_try", "0", "llm.max_try must be an integer >= 1, got 0"),
    ("--window_bytes", "-5", "llm.window_bytes must be a non-negative integer, got -5"),
    ("--use_history_prob", "1.2", "collect.commit.use_history_prob must be a probability in [0, 1], got 1.2"),
    ("--workers", "0", "collect.commit.workers must be an integer >= 1, got 0"),
])
def test_collect_refuses_out_of_range_flags_with_one_line(tmp_path, flag, value, words):
    res = _collect(tmp_path, flag, value)
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert res.output.startswith(f"error: {words}; fix params.yaml") and f"or {flag}" in res.output
    assert not (tmp_path / "out.jsonl").exists()


def test_a_flag_that_is_not_a_number_gets_the_same_one_line(tmp_path):
    res = _collect(tmp_path, "--num_proc", "2.5")
    assert res.exit_code == 2 and res.output == ("error: llm.num_proc must be an integer >= 1, got 2.5; fix "
                                                 "params.yaml (llm) or --num_proc\n")
    res = _collect(tmp_path, "--temperature", "hot")
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "llm.temperature must be a number in [0, 2]" in \
        res.output


def test_params_yaml_values_are_checked_as_flags_are(tmp_path):
    (tmp_path / "params.yaml").write_text("llm:\n  max_retries: -2\n")
    res = _collect(tmp_path, "--params", str(tmp_path / "params.yaml"))
    assert res.exit_code == 2 and "llm.max_retries must be a non-negative integer, got -2" in res.output


def test_an_unknown_data_type_gets_one_line_naming_the_sources(tmp_path):
    res = CliRunner().invoke(collect.command, ["--data_type", "foo", "--input_path", "x.jsonl", "--output_path",
                                               str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2 and res.output == (
        "error: --data_type 'foo' is not a source; use one of commit, aiprogrammer, submit\n")
    res = CliRunner().invoke(estimate.command, ["--data_type", "foo", "--input_path", "x.jsonl"])
    assert res.exit_code == 2 and res.output == (
        "error: --data_type 'foo' is not an input type; use one of commit, aiprogrammer, submit, snippets\n")


def test_other_stages_check_their_ranges_in_the_same_place(tmp_path):
    res = CliRunner().invoke(area.command, ["--input_path", "x.jsonl", "--output_path", str(tmp_path / "o.jsonl"),
                                            "--use_loc_prob", "2"])
    assert res.exit_code == 2 and res.output.startswith("error: area.use_loc_prob must be a probability in [0, 1]")
    res = CliRunner().invoke(prepare_submit.command, ["--max_per_problem", "0", "--output_path",
                                                      str(tmp_path / "s.jsonl")])
    assert res.exit_code == 2 and "prepare_submit.max_per_problem must be an integer >= 1, got 0" in res.output
    res = CliRunner().invoke(prepare_commit.command, ["--max_commits", "-1", "--output_path",
                                                      str(tmp_path / "c.jsonl")])
    assert res.exit_code == 2 and "prepare_commit.max_commits must be a non-negative integer" in res.output
    assert res.output.count("\n") == 1


def test_a_truncated_json_input_names_the_file_the_position_and_what_happened(tmp_path):
    good = tmp_path / "good.json"
    write_records(good, commit_records(40))
    data = good.read_bytes()
    cut = tmp_path / "commit.json"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(UserError) as exc:
        list(read_records(cut))
    msg = str(exc.value)
    assert msg.startswith(f"{cut}: truncated or invalid JSON: the file ends inside record ") and "\n" not in msg
    assert f"(byte {len(data) * 2 // 3})" in msg
    broken = tmp_path / "broken.json"
    broken.write_bytes(data.replace(b'"lang":"python"', b'"lang":python', 1))
    with pytest.raises(UserError, match=r"broken.json: truncated or invalid JSON: at record 0, between bytes 0 and"):
        list(read_records(broken))
    mm = tmp_path / "mm.json"
    mm.write_text(json.dumps({"sim": {"base": "simulator"}}))
    res = CliRunner().invoke(collect.command, ["--data_type", "commit", "--input_path", str(cut), "--output_path",
                                               str(tmp_path / "out.jsonl"), "--model_map", str(mm), "--cache_path",
                                               str(tmp_path / "c.sqlite"), "--params", str(tmp_path / "no.yaml")])
    assert res.exit_code == 2 and "truncated or invalid JSON" in res.output
    assert [ln for ln in res.output.splitlines() if ln.startswith("error:")] == [f"error: {msg}"]
