"""Sharing datasets through DVC remotes (docs/datasets.md), offline, on a tiny project in a temporary folder.

One module-scoped set-up: build the project, release v0.1.0 (push to the default remote beside the
repository, card, annotated tag), change a parameter, release v0.2.0. Then: a fresh clone pulls every
output byte for byte (at both tags), the same through an S3-compatible server on loopback (moto) with
dvc-s3, and ``dvc get`` / ``dvc import`` fetch a tagged version into another folder, by path and by
``file://`` URL.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner
from dvc.repo import Repo

from proginstruct.cli.release import remote_s3
from proginstruct.release import dvcops
from proginstruct.release.publish import release
from proginstruct.release.remotes import configure_s3

from .releaseproject import build, isolated_env, outputs, repro, run

pytestmark = [pytest.mark.timeout(180), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("sharing")
    with pytest.MonkeyPatch.context() as mp:
        for k, v in isolated_env(base / "home").items():
            mp.setenv(k, v)
        proj = build(base / "proj", n=3)
        r1 = release(proj, "0.1.0", date="2026-01-02")
        v1 = outputs(proj)
        params = yaml.safe_load((proj / "params.yaml").read_text())
        params["make"]["n"] = 5
        (proj / "params.yaml").write_text(yaml.safe_dump(params))
        repro(proj)
        run(proj, "git", "commit", "-q", "-am", "Five items")
        r2 = release(proj, "0.2.0", date="2026-01-03")
        yield SimpleNamespace(base=base, proj=proj, storage=base / "proginstruct-dvc-storage",
                              r1=r1, r2=r2, v1=v1, v2=outputs(proj), mp=mp)


def _storage_files(storage: Path) -> set[str]:
    return {p.relative_to(storage).as_posix() for p in storage.rglob("*") if p.is_file()}


def _cache_md5s(files: dict[str, bytes]) -> set[str]:
    """md5 of every DVC-cached file (metrics are ``cache: false``: git keeps them)."""
    return {hashlib.md5(b).hexdigest() for path, b in files.items() if not path.startswith("metrics/")}


def test_release_pushes_to_the_default_remote_beside_the_repository(shared):
    assert shared.r1.pushed == 6 and shared.r2.pushed == 6  # items, 2 finals, export listing + 2 files
    stored = {p.rsplit("/", 2)[-2] + p.rsplit("/", 1)[-1] for p in _storage_files(shared.storage)}
    # every output file of both versions is in the folder remote (content-addressed by md5)
    assert _cache_md5s(shared.v1) | _cache_md5s(shared.v2) <= stored
    assert shared.v1["data/final/commit.jsonl"] != shared.v2["data/final/commit.jsonl"]


def test_tags_are_annotated_on_the_card_commit_whose_lock_pins_the_data(shared):
    proj = shared.proj
    for r, n in ((shared.r1, 3), (shared.r2, 5)):
        assert run(proj, "git", "cat-file", "-t", r.tag) == "tag"
        assert run(proj, "git", "rev-parse", f"{r.tag}^{{commit}}") == r.commit
        assert run(proj, "git", "rev-parse", f"{r.commit}^") == r.parent
        # the tagged commit adds only the card; dvc.lock is the recipe commit's
        assert run(proj, "git", "show", "--name-only", "--format=", r.commit) == "data/final/README.md"
        assert run(proj, "git", "show", f"{r.tag}:dvc.lock") == run(proj, "git", "show", f"{r.parent}:dvc.lock")
        message = run(proj, "git", "tag", "-l", "--format=%(contents)", r.tag)
        assert f"{2 * n} samples (commit {n}, submit {n})" in message
    assert shared.r1.message.startswith("proginstruct dataset v0.1.0: 6 samples")


def test_card_at_the_tag_names_files_counts_models_params_and_licenses(shared):
    card = run(shared.proj, "git", "show", "v0.1.0:data/final/README.md")
    lock = yaml.safe_load(run(shared.proj, "git", "show", "v0.1.0:dvc.lock"))
    export = lock["stages"]["bundle"]["outs"][0]
    assert card.startswith("# proginstruct dataset v0.1.0\n")
    assert "2026-01-02" in card and shared.r1.parent[:12] in card
    assert f"| `data/export` | 2 files | {export['size']:,} B | `{export['md5'].removesuffix('.dir')}` |" in card
    assert "| commit | 3 | - | 3 | C: 3 |" in card and "| **total** | **6** |" in card
    final = {o["path"]: o for o in lock["stages"]["final@commit"]["outs"]}["data/final/commit.jsonl"]
    assert f"| `data/final/commit.jsonl` | 3 | {final['size']:,} B | `{final['md5']}` |" in card
    assert "data/prepared" not in card.split("## Samples")[0]  # intermediate outputs are not released
    assert "- `tiny-coder`: 4 samples\n- `proginstruct-simulator`: 2 samples" in card
    assert "> **Simulated data.** 2 samples" in card
    assert "make:\n  n: 3\nseed: 7" in card
    assert "- input: `inputs/commit.txt` (md5 `" in card and "license:" in card
    assert "sk-SECRET" not in card and "127.0.0.1:1" not in card  # model map: names only
    assert "dvc get <repository-url> data/final/commit.jsonl --rev v0.1.0" in card


def test_fresh_clone_pulls_every_output_byte_for_byte_at_each_tag(shared):
    clone = shared.base / "clone"  # beside proj: the relative default remote is the same folder
    run(shared.base, "git", "clone", "-q", str(shared.proj), str(clone))
    assert not (clone / "data" / "export").exists()
    run(clone, "dvc", "pull", "-q")
    assert outputs(clone) == shared.v2
    run(clone, "git", "checkout", "-q", "v0.1.0")
    with Repo(str(clone)) as repo:  # the same pull in process (a CLI call costs a second of imports)
        repo.pull()
    assert outputs(clone) == shared.v1
    assert dvcops.status(clone) == {}


@pytest.fixture(scope="module")
def s3(shared):
    """A moto S3 server on 127.0.0.1 (free port) with one bucket; dummy credentials in the environment."""
    import boto3  # the test extra installs them (dvc-s3, moto[server]); imported here to keep collection fast
    from moto.server import ThreadedMotoServer

    shared.mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    shared.mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    shared.mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        shared.mp.delenv(var, raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="proginstruct-test")
    yield SimpleNamespace(endpoint=endpoint, client=client, bucket="proginstruct-test")
    server.stop()


def test_s3_compatible_remote_roundtrip_byte_for_byte(shared, s3, monkeypatch):
    url = configure_s3(shared.proj, s3.bucket, "datasets/proginstruct", s3.endpoint, default=False)
    assert url == "s3://proginstruct-test/datasets/proginstruct"
    assert dvcops.push(shared.proj, "s3") == 6  # what 'make release' / 'make push' do, in process
    keys = [o["Key"] for o in s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]]
    assert keys and all(k.startswith("datasets/proginstruct/files/md5/") for k in keys)
    # nothing about S3 (bucket, endpoint, credentials) is committed; config.local is untracked
    assert "s3" not in run(shared.proj, "git", "show", "HEAD:.dvc/config")
    assert "testing" not in (shared.proj / ".dvc" / "config.local").read_text()
    assert run(shared.proj, "git", "status", "--porcelain") == ""

    clone = shared.base / "clone_s3"
    run(shared.base, "git", "clone", "-q", str(shared.proj), str(clone))
    monkeypatch.chdir(clone)
    res = CliRunner().invoke(remote_s3, [], env={"PROGINSTRUCT_S3_BUCKET": s3.bucket,
                                                 "PROGINSTRUCT_S3_PREFIX": "datasets/proginstruct",
                                                 "PROGINSTRUCT_S3_ENDPOINT_URL": s3.endpoint})
    assert res.exit_code == 0, res.output
    assert "remote 's3' -> s3://proginstruct-test/datasets/proginstruct" in res.output
    run(clone, "dvc", "pull", "-q")  # the clone's default is now s3
    assert outputs(clone) == shared.v2
    # dvc get through a git URL, naming the S3 storage (as the README shows)
    run(shared.base, "dvc", "get", shared.proj.as_uri(), "data/final/submit.jsonl", "--rev", "v0.2.0",
        "-o", "from_s3.jsonl", "--remote", "s3", "--remote-config", f"url={url}", f"endpointurl={s3.endpoint}")
    assert (shared.base / "from_s3.jsonl").read_bytes() == shared.v2["data/final/submit.jsonl"]
    assert not _storage_files(clone / ".dvc" / "cache") - {
        p.relative_to(shared.proj / ".dvc" / "cache").as_posix() for p in (shared.proj / ".dvc" / "cache").rglob("*")
        if p.is_file()}


def test_dvc_get_and_import_a_tagged_version_into_another_folder(shared):
    consumer = shared.base / "elsewhere" / "consumer"
    consumer.mkdir(parents=True)
    run(consumer, "git", "init", "-q", "-b", "main")
    Repo.init(str(consumer)).close()
    path = "data/final/commit.jsonl"
    url = shared.proj.as_uri()  # file:///...
    storage = f"url={shared.storage}"
    # a local path: DVC reads the repository's remote config where it lives
    run(consumer, "dvc", "get", str(shared.proj), path, "--rev", "v0.1.0", "-o", "by_path.jsonl")
    # a git URL (file://, https://, ssh) is cloned to a temporary folder: name the storage explicitly
    run(consumer, "dvc", "get", url, "data/export", "--rev", "v0.2.0", "-o", "export", "--remote-config", storage)
    run(consumer, "dvc", "import", url, path, "--rev", "v0.1.0", "-o", "imported.jsonl", "--remote-config", storage)
    assert (consumer / "by_path.jsonl").read_bytes() == shared.v1[path]
    assert (consumer / "imported.jsonl").read_bytes() == shared.v1[path]
    got = {f"data/export/{p.name}": p.read_bytes() for p in (consumer / "export").iterdir()}
    assert got == {k: v for k, v in shared.v2.items() if k.startswith("data/export/")} and len(got) == 2
    assert got["data/export/blob.bin"] != shared.v1["data/export/blob.bin"]
    dep = yaml.safe_load((consumer / "imported.jsonl.dvc").read_text())["deps"][0]
    assert dep["repo"] == {"url": url, "rev": "v0.1.0", "rev_lock": shared.r1.commit,
                           "remote": {"url": str(shared.storage)}}
