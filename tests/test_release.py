"""Releases and the dataset card (docs/datasets.md): refusals, the card's contents, the CLI.

The card and lock helpers are tested on hand-made folders (no git, no DVC); the release checks on one
tiny git + DVC project built once for the module (see :mod:`tests.releaseproject`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import orjson
import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from proginstruct.cli.release import card as card_command
from proginstruct.cli.release import release as release_command
from proginstruct.errors import UserError
from proginstruct.release.card import gather, license_note, project_license, render
from proginstruct.release.counts import count_records, model_counts
from proginstruct.release.lock import Entry, read_lock
from proginstruct.release.publish import check_card_path, release, tag_message
from proginstruct.release.remotes import s3_url
from proginstruct.release.report import source_counts
from proginstruct.release.tools import repo_root

from .releaseproject import ROOT, build, isolated_env, run

pytestmark = [pytest.mark.timeout(120), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _out(path: str, md5: str, size: int, **extra) -> dict:
    return {"path": path, "hash": "md5", "md5": md5, "size": size, **extra}


LOCK = {
    "schema": "2.0",
    "stages": {
        "prepare_commit": {"cmd": "x", "deps": [_out("stages/prepare_commit.py", "a" * 32, 1)],
                           "params": {"params.yaml": {"prepare_commit": {"repo": "/src/other", "rev": "v2",
                                                                         "input_paths": "editpack.jsonl"}}},
                           "outs": [_out("data/prepared/commit.jsonl", "b" * 32, 10)]},
        "collect@commit": {"cmd": "x", "deps": [_out("data/prepared/commit.jsonl", "b" * 32, 10),
                                                _out("model_map.json", "c" * 32, 5),
                                                _out("proginstruct/llm", "d" * 32 + ".dir", 9, nfiles=3)],
                           "params": {"params.yaml": {"seed": 3, "collect.commit": {"alpha": 0.9}}},
                           "outs": [_out("data/final/commit.jsonl", "e" * 32, 1234567),
                                    _out("metrics/collect_commit.json", "f" * 32, 3)]},
        "aiprogrammer": {"cmd": "x", "deps": [_out("my/snippets.json", "1" * 32, 4)],
                         "outs": [_out("data/prepared/aiprogrammer.jsonl", "5" * 32, 40)]},
        "area@aiprogrammer": {"cmd": "x", "deps": [_out("data/prepared/aiprogrammer.jsonl", "5" * 32, 40)],
                              "outs": [_out("data/final/aiprogrammer.jsonl", "2" * 32, 40)]},
        "merge": {"cmd": "x", "deps": [_out("data/final/aiprogrammer.jsonl", "2" * 32, 40)],
                  "outs": [_out("data/final/merged.jsonl", "6" * 32, 12), _out("data/dataset.parquet", "3" * 32, 77),
                           _out("data/export", "4" * 32 + ".dir", 88, nfiles=3)]},
    },
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A project folder without git: dvc.lock, final files, metrics, a model map holding a secret."""
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(LOCK))
    final = tmp_path / "data" / "final"
    final.mkdir(parents=True)
    (final / "commit.jsonl").write_bytes(b'{"model": "m-large"}\n\n{"model": "m-small"}\n{"model": "m-large"}\n')
    (final / "aiprogrammer.jsonl").write_bytes(b'{"model": "proginstruct-simulator"}\n')
    (final / "merged.jsonl").write_bytes(b'{"model": "m-large"}\n' * 4)  # the merged dataset: not a source
    pl.DataFrame({"a": [1, 2, 3, 4]}).write_parquet(tmp_path / "data" / "dataset.parquet")
    (tmp_path / "data" / "export").mkdir()
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "collect_commit.json").write_text('{"inputs": 7, "sample_types": {"C": 2, "H,C": 1}}')
    (tmp_path / "model_map.json").write_text('{"m-large": {"base": "https://api.example/v1", "api": "sk-TOPSECRET"},'
                                             ' "m-small": {"base": "http://127.0.0.1:9/v1", "api_env": "KEY"}}')
    return tmp_path


def test_lock_released_files_are_the_leaves_inputs_skip_code_and_outputs(folder):
    lock = read_lock(folder)
    # data/final/ outputs always (aiprogrammer.jsonl although merge reads it), other outputs when nothing reads them
    assert [e.path for e in lock.released()] == ["data/final/aiprogrammer.jsonl", "data/final/commit.jsonl",
                                                 "data/final/merged.jsonl", "data/dataset.parquet", "data/export"]
    assert [e.path for e in lock.inputs()] == ["model_map.json", "my/snippets.json"]
    assert lock.params() == {"collect.commit": {"alpha": 0.9}, "prepare_commit": LOCK["stages"]["prepare_commit"][
        "params"]["params.yaml"]["prepare_commit"], "seed": 3}
    export = lock.released()[-1]
    assert export.is_dir and export.nfiles == 3 and export.stage == "merge"


def test_lock_released_treats_a_folder_dependency_as_consuming_its_files(folder):
    data = yaml.safe_load((folder / "dvc.lock").read_text())
    data["stages"]["pack"] = {"cmd": "x", "deps": [_out("data/export", "9" * 32 + ".dir", 1, nfiles=2)],
                              "outs": [_out("data/pack.tar", "8" * 32, 1)]}
    data["stages"]["merge"]["outs"].append(_out("data/export/extra.jsonl", "7" * 32, 1))
    (folder / "dvc.lock").write_text(yaml.safe_dump(data))
    assert [e.path for e in read_lock(folder).released()] == [
        "data/final/aiprogrammer.jsonl", "data/final/commit.jsonl", "data/final/merged.jsonl", "data/dataset.parquet",
        "data/pack.tar"]


@pytest.mark.parametrize(("text", "message"), [
    (None, "not found; run 'dvc repro'"),
    ("stages: [unclosed", "not valid YAML"),
    ("schema: '1.0'\nstages: {}\n", "not a DVC 3 lock file"),
])
def test_read_lock_errors_name_the_file_and_the_fix(tmp_path, text, message):
    if text is not None:
        (tmp_path / "dvc.lock").write_text(text)
    with pytest.raises(UserError, match=message) as err:
        read_lock(tmp_path)
    assert str(tmp_path / "dvc.lock") in str(err.value) and "\n" not in str(err.value)


def test_count_records_per_format(tmp_path, folder):
    (tmp_path / "list.json").write_text('[{"a": 1}, {"a": 2}]')
    (tmp_path / "notes.txt").write_text("x")
    assert count_records(folder / "data/final/commit.jsonl") == 3  # the blank line is not a record
    assert count_records(folder / "data/dataset.parquet") == 4
    assert count_records(tmp_path / "list.json") == 2
    assert count_records(folder / "data/export") is None and count_records(tmp_path / "notes.txt") is None
    with pytest.raises(UserError, match="missing from the workspace; run 'dvc pull'"):
        count_records(tmp_path / "absent.jsonl")
    assert model_counts([folder / "data/final/commit.jsonl"]) == {"m-large": 2, "m-small": 1}
    (tmp_path / "bad.jsonl").write_text('{"model": "a"}\n{oops\n')
    with pytest.raises(UserError, match=r"bad.jsonl: line 2 is not valid JSON"):
        model_counts([tmp_path / "bad.jsonl"])


def test_card_from_the_final_files(folder):
    facts = gather(folder, "v1.2.3", date="2026-02-03")
    assert facts.commit == "(no commit)" and facts.counts_from == "the final files"
    assert [(s.name, s.samples) for s in facts.sources] == [("aiprogrammer", 1), ("commit", 3)]
    text = render(facts)
    assert text == render(gather(folder, "v1.2.3", date="2026-02-03"))  # deterministic
    assert text.startswith("# proginstruct dataset v1.2.3\n") and "2026-02-03: 4 samples from 2 source(s)" in text
    assert "| `data/final/commit.jsonl` | 3 | 1,234,567 B | `" + "e" * 32 + "` |" in text
    assert "| `data/dataset.parquet` | 4 | 77 B |" in text and "| `data/export` | 3 files | 88 B | `" + "4" * 32 + "` |" in text
    assert "| commit | 3 | - | 7 | C: 2, H,C: 1 |" in text and "| aiprogrammer | 1 | - | - | - |" in text
    assert "- `m-large`: 2 samples\n- `m-small`: 1 samples\n- `proginstruct-simulator`: 1 samples" in text
    assert "> **Simulated data.** 1 samples" in text
    assert "Model map at release: `m-large`, `m-small`." in text
    assert "sk-TOPSECRET" not in text and "api.example" not in text and "127.0.0.1:9" not in text
    assert "- input: git repository `/src/other` at `v2` (first parents)" in text
    assert "- input: commit dataset files `editpack.jsonl`" in text
    assert "- input: `my/snippets.json` (md5 `" + "1" * 32 + "`)" in text
    assert "collect.commit:\n  alpha: 0.9\n" in text and "seed: 3" in text
    assert "dvc get <repository-url> data/final/merged.jsonl --rev v1.2.3" in text  # the merged dataset first
    assert "The annotated git tag `v1.2.3`" in text


def test_card_prefers_the_report_counts_and_marks_an_unreleased_card(folder):
    (folder / "metrics" / "report.json").write_text(orjson.dumps({
        "commit": {"samples": 30, "languages": 4, "mix": {"C": 60.0, "H,C": 40.0}},
        "submit": {"samples": 10, "languages": 2}, "overall": {"samples": 40}}).decode())
    facts = gather(folder, date="2026-02-03")
    assert facts.counts_from == "metrics/report.json"
    assert [(s.name, s.samples) for s in facts.sources] == [("aiprogrammer", 1), ("commit", 30), ("submit", 10)]
    text = render(facts)
    assert "| commit | 30 | 4 | 7 | C: 60.0%, H,C: 40.0% |" in text and "| submit | 10 | 2 | - | - |" in text
    assert "# proginstruct dataset unreleased" in text and "--rev <tag>" in text and "annotated git tag" not in text
    assert "Simulated data" in text


@pytest.mark.parametrize(("report", "counts"), [
    ({"a": {"samples": 2}, "b": {"samples": 3, "mix": {}}, "overall": {"samples": 5}}, {"a": 2, "b": 3}),
    ({"a": {"samples": True}, "b": 3, "c": {"n": 1}, "overall": {"samples": 0}}, {}),
    ({}, {}),
])
def test_report_source_counts_shapes(report, counts):
    assert source_counts(report) == counts


def test_license_notes_and_the_project_license(tmp_path):
    shipped = [Entry("data/samples/snippets.json", "1", 1, None, "s"), Entry("model_map.json", "2", 1, None, "s")]
    mine = [Entry("corpus/snips.json", "1", 1, None, "s")]
    note = license_note("commit", [], {"prepare_commit": {"repo": "."}}, "MIT")
    assert note == "Code mined from this repository (proginstruct, MIT)."
    other = license_note("commit", [], {"prepare_commit": {"repo": "/x", "input_paths": "a.jsonl"}}, "MIT")
    assert "`/x`" in other and "CommitPackFT" in other and "MIT" not in other
    assert "written for this project (MIT)" in license_note("aiprogrammer", shipped, {}, "MIT")
    assert "Inputs supplied by the user" in license_note("aiprogrammer", mine, {})
    assert "Project CodeNet" in license_note("submit", [Entry("codenet", "1.dir", 1, 1, "p")], {})
    assert project_license(tmp_path) == "see LICENSE"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nlicense = { text = "BSD-3-Clause" }\n')
    assert project_license(tmp_path) == "BSD-3-Clause"
    assert project_license(ROOT) == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]


def test_tag_message_and_s3_url():
    assert tag_message("v1.0.0", {"submit": 2, "commit": 5}) == (
        "proginstruct dataset v1.0.0: 7 samples (commit 5, submit 2); data pinned by dvc.lock")
    assert s3_url("my-bucket", "/team/datasets/") == "s3://my-bucket/team/datasets"
    assert s3_url("my-bucket", "") == "s3://my-bucket"
    for bad in ("s3://my-bucket", "b", "My_Bucket", "bucket/path", ""):
        with pytest.raises(UserError, match="not a bucket name"):
            s3_url(bad)


def test_repo_root_needs_git_and_dvc(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(UserError, match="not inside a git repository; run this from the recipe's clone"):
        repo_root(tmp_path)
    run(tmp_path, "git", "init", "-q")
    with pytest.raises(UserError, match=r"not a DVC project \(no .dvc folder\)"):
        repo_root(tmp_path)


# ---- the release checks, on a real (tiny) git + DVC project --------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("release")
    with pytest.MonkeyPatch.context() as mp:
        for k, v in isolated_env(base / "home").items():
            mp.setenv(k, v)
        yield build(base / "proj", n=2)


def _refused(project: Path, version: str, message: str) -> None:
    head = run(project, "git", "rev-parse", "HEAD")
    with pytest.raises(UserError, match=message) as err:
        release(project, version)
    assert "\n" not in str(err.value)
    assert run(project, "git", "rev-parse", "HEAD") == head and run(project, "git", "tag") in ("", "v9.9.9")
    assert not (project.parent / "proginstruct-dvc-storage").exists()


def test_release_refuses_a_bad_version_or_an_existing_tag(project):
    _refused(project, "1.0", r"VERSION='1.0': expected MAJOR.MINOR.PATCH")
    run(project, "git", "tag", "v9.9.9")
    try:
        _refused(project, "9.9.9", "tag v9.9.9 already exists")
    finally:
        run(project, "git", "tag", "-d", "v9.9.9")


def test_release_refuses_a_dirty_tree(project):
    (project / "notes.txt").write_text("scratch\n")
    try:
        _refused(project, "1.0.0", r"the git tree is not clean \(notes.txt\); commit or remove")
    finally:
        (project / "notes.txt").unlink()
    params = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(params.replace("n: 2", "n: 4"))
    try:
        _refused(project, "1.0.0", r"not clean \(params.yaml\)")
    finally:
        (project / "params.yaml").write_text(params)


def test_release_refuses_a_stale_lock(project):
    params = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(params.replace("n: 2", "n: 4"))
    run(project, "git", "commit", "-q", "-am", "Change params without dvc repro")
    try:
        _refused(project, "1.0.0", r"dvc.lock: out of date for bundle, prepare \('dvc status' is not clean\); "
                                   "run 'dvc repro'")
    finally:
        (project / "params.yaml").write_text(params)
        run(project, "git", "commit", "-q", "-am", "Back")


def test_card_path_must_stay_outside_dvc_outputs(project):
    check_card_path(project, "data/final/README.md")
    with pytest.raises(UserError, match="inside 'data/export', which stage bundle tracks"):
        check_card_path(project, "data/export/README.md")


def test_cli_release_without_push_then_card(project, monkeypatch):
    monkeypatch.chdir(project)
    runner = CliRunner()
    bad = runner.invoke(release_command, ["1.0"])
    assert bad.exit_code == 2 and bad.output.startswith("error: VERSION='1.0'") and bad.output.count("\n") == 1
    (project / "data" / "final" / "README.md").write_text("a card preview (make card) does not block a release\n")
    res = runner.invoke(release_command, ["1.0.0", "--no-push"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("v1.0.0: proginstruct dataset v1.0.0: 4 samples (commit 2, submit 2)")
    assert "data NOT pushed (--no-push)" in res.output
    assert not (project.parent / "proginstruct-dvc-storage").exists()
    assert run(project, "git", "cat-file", "-t", "v1.0.0") == "tag" and run(project, "git", "status", "--porcelain") == ""
    assert run(project, "git", "show", "v1.0.0:data/final/README.md").startswith("# proginstruct dataset v1.0.0\n")
    res = runner.invoke(card_command, ["--output", "CARD.md", "--date", "2026-03-04"])
    assert res.exit_code == 0, res.output
    text = (project / "CARD.md").read_text()
    assert text.startswith("# proginstruct dataset unreleased") and "| **total** | **4** |" in text
