"""Sample provenance: ``prompt_version`` (what decides the replies) and ``license`` (where the source
knows it), and selecting samples by prompt version."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from proginstruct.cli.prepare_submit import DEFAULTS as SUBMIT_DEFAULTS
from proginstruct.cli.prepare_submit import run as prepare_submit_run
from proginstruct.cli.show import command as show
from proginstruct.collection.series import code_series
from proginstruct.roles.version import REPLY_PROTOCOL_VERSION, prompt_version, version_of
from proginstruct.sources.commit import DEFAULTS as COMMIT_DEFAULTS
from proginstruct.sources.commit import prepare_commit
from proginstruct.sources.licenses import detect_license, folder_license

from .gitrepo import Repo

ROOT = Path(__file__).resolve().parents[1]
MIT = (ROOT / "LICENSE").read_text().replace("2026 The proginstruct developers", "1999 Someone Else")


@pytest.fixture()
def prompts(tmp_path: Path) -> Path:
    folder = tmp_path / "prompts"
    shutil.copytree(Path(str(resources.files("proginstruct.roles").joinpath("prompts"))), folder)
    return folder


def test_prompt_version_follows_the_prompts_and_the_protocol(prompts):
    v = prompt_version()
    assert len(v) == 12 and int(v, 16) >= 0
    assert version_of(prompts, REPLY_PROTOCOL_VERSION) == v  # same files, same version
    judge = prompts / "judge.json"
    data = json.loads(judge.read_text())
    judge.write_text(json.dumps(data, indent=7).replace("\n", "\r\n"))  # layout only: same version
    assert version_of(prompts, REPLY_PROTOCOL_VERSION) == v
    data["examples"][0]["reply"] += " "  # a worked example changes
    judge.write_text(json.dumps(data))
    changed = version_of(prompts, REPLY_PROTOCOL_VERSION)
    assert changed != v
    assert version_of(prompts, REPLY_PROTOCOL_VERSION + 1) not in (v, changed)


def test_licence_detection_by_spdx_id(tmp_path):
    assert detect_license(MIT) == "MIT"
    assert detect_license("All rights reserved. Do not copy.") is None
    assert folder_license(tmp_path) is None
    (tmp_path / "COPYING").write_text(MIT)
    assert folder_license(tmp_path) == "MIT"
    assert folder_license(ROOT / "data/samples/codenet") == "MIT"  # the shipped sample's licence file


def test_series_carry_the_record_licence():
    import random

    rec = {"code1": "a\n", "code2": "b\n", "lang": "python", "git": "x", "license": "Apache-2.0"}
    assert code_series("commit", rec, random.Random(1), 1.0).license == "Apache-2.0"
    assert code_series("commit", {**rec, "license": None}, random.Random(1), 1.0).license == ""


def test_commit_records_get_the_repository_licence_and_dataset_rows_their_own(tmp_path):
    (tmp_path / "repo").mkdir()
    repo = Repo(tmp_path / "repo")
    repo.write("a.py", "x = 1\n")
    repo.commit("c0", "start")
    repo.write("a.py", "x = 2\n")
    repo.commit("c1", "change")
    out = tmp_path / "records.jsonl"
    params = {**COMMIT_DEFAULTS, "langs": "python"}
    prepare_commit(str(repo.path), "HEAD", [], str(out), params)
    assert "license" not in orjson.loads(out.read_bytes().splitlines()[0])  # no licence file: none recorded
    repo.write("LICENSE", MIT)
    repo.write("a.py", "x = 3\n")
    repo.commit("c2", "licence")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"old_contents": "a", "new_contents": "b", "subject": "s", "lang": "Python",
                                "license": "bsd-3-clause"}) + "\n")
    prepare_commit(str(repo.path), "HEAD", [str(rows)], str(out), params)
    records = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [r.get("license") for r in records] == ["MIT", "MIT", "bsd-3-clause"]


def test_submit_records_get_the_folder_licence_else_the_param(tmp_path):
    root = tmp_path / "codenet"
    shutil.copytree(ROOT / "data/samples/codenet", root)
    cfg = {**SUBMIT_DEFAULTS, "root": str(root), "statements": str(root / "problem_descriptions.json")}
    out = tmp_path / "submit.jsonl"
    prepare_submit_run(cfg, str(out), progress=False)
    assert {orjson.loads(x)["license"] for x in out.read_bytes().splitlines()} == {"MIT"}
    (root / "LICENSE").unlink()
    prepare_submit_run(cfg, str(out), progress=False)
    assert {orjson.loads(x)["license"] for x in out.read_bytes().splitlines()} == {"Apache-2.0"}  # CodeNet's
    prepare_submit_run({**cfg, "license": ""}, str(out), progress=False)
    assert not any("license" in orjson.loads(x) for x in out.read_bytes().splitlines())


def test_show_selects_samples_by_prompt_version(tmp_path):
    snap = {"type": "code", "lang": "python", "code": "x = 1\n"}
    samples = [{"history": [], "current": snap, "user": "", "chat": "", "next": snap, "loc": None,
                "source": "commit", "id": f"s{i}", "prompt_version": v} for i, v in enumerate(["aaa", "bbb", "aaa"])]
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in samples))
    res = CliRunner().invoke(show, [str(path), "--prompt_version", "aaa", "-n", "0", "--no-color"])
    assert res.exit_code == 0
    assert "s0" in res.output and "s2" in res.output and "s1" not in res.output
