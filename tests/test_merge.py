"""The merge stage: order, exact duplicates, provenance, formats, the seed's merge_data form."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from proginstruct.cli.merge import command
from proginstruct.errors import BadRecord, UserError
from proginstruct.export.merge import content_key, merge_files
from proginstruct.export.parquet import SCHEMA, read_parquet, row_to_sample, sample_to_row

ROOT = Path(__file__).resolve().parents[1]


def sample(code: str, nxt: str, sid: str, source: str | None = "commit", loc=None, **extra) -> dict:
    snap = lambda c: {"type": "code", "lang": "python", "code": c}  # noqa: E731
    s = {"history": [snap("v0")], "current": snap(code), "user": "", "chat": "ok", "next": snap(nxt),
         "loc": loc, "id": sid, "seed": 7, "model": "m", **extra}
    if source is not None:
        s["source"] = source
    return s


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    a = write_jsonl(tmp_path / "commit.jsonl", [sample("a", "b", "c1", loc=1), sample("c", "d", "c2"),
                                                 sample("a", "b", "c3", loc=1)])  # c3 duplicates c1
    b = write_jsonl(tmp_path / "submit.jsonl", [sample("a", "b", "s1", source="submit", loc=[0, 1]),
                                                 sample("c", "d", "s2", source="submit"),  # = c2 but provenance
                                                 sample("e", "f", "s3", source=None)])
    return [a, b]


def test_merge_keeps_order_and_first_copy_and_provenance(tmp_path, inputs):
    out = tmp_path / "merged.jsonl"
    stats = merge_files(inputs, [out])
    got = read_jsonl(out)
    assert [s["id"] for s in got] == ["c1", "c2", "s1", "s3"]
    assert got[0] == read_jsonl(inputs[0])[0], "kept samples are unchanged"
    assert got[3]["source"] == "submit", "a sample without a source gets its file's stem"
    assert (stats["samples.in"], stats["duplicates"], stats["samples.out"]) == (6, 2, 4)
    assert stats["sources.commit"] == 2 and stats["sources.submit"] == 2


def test_duplicate_key_ignores_provenance_but_not_loc_or_text():
    base = sample("a", "b", "x")
    assert content_key(base) == content_key({**base, "id": "y", "source": "other", "seed": 1, "model": "z"})
    assert content_key(base) == content_key({k: v for k, v in base.items() if k != "loc"})
    assert content_key(base) != content_key({**base, "loc": 0})
    assert content_key(base) != content_key({**base, "chat": "other"})


def test_parquet_matches_jsonl_and_is_typed(tmp_path, inputs):
    out, pq = tmp_path / "m.jsonl", tmp_path / "m.parquet"
    merge_files(inputs, [out, pq])
    assert list(read_parquet(pq)) == read_jsonl(out)
    frame = pl.read_parquet(pq)
    assert frame.schema == SCHEMA
    assert frame["loc"].to_list() == [[1], None, [0, 1], None], "cursor [p], range [s, e], none null"
    odd = {**sample("a", "b", "x"), "id": 12, "note": {"k": [1]}}  # unexpected types survive in 'extra'
    assert row_to_sample(sample_to_row(odd)) == odd


def test_json_list_outputs_and_inputs(tmp_path, inputs):
    out = tmp_path / "merged.json"
    merge_files(inputs, [out])
    data = orjson.loads(out.read_bytes())
    assert [s["id"] for s in data] == ["c1", "c2", "s1", "s3"]
    again = tmp_path / "again.jsonl"
    merge_files([out], [again])
    assert read_jsonl(again) == data


def test_merge_is_byte_identical_on_rerun(tmp_path, inputs):
    merge_files(inputs, [tmp_path / "1.jsonl", tmp_path / "1.parquet"])
    merge_files(inputs, [tmp_path / "2.jsonl", tmp_path / "2.parquet"])
    assert (tmp_path / "1.jsonl").read_bytes() == (tmp_path / "2.jsonl").read_bytes()
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()


def test_bad_inputs(tmp_path, inputs):
    bad = write_jsonl(tmp_path / "bad.jsonl", [sample("a", "b", "x"), {"current": "oops"}])
    with pytest.raises(BadRecord, match=r"bad.jsonl: record 1: missing 'current'"):
        merge_files([bad], [tmp_path / "o.jsonl"])
    assert not (tmp_path / "o.jsonl").exists(), "no output is left behind"
    with pytest.raises(UserError, match="not found"):
        merge_files([tmp_path / "missing.jsonl"], [tmp_path / "o.jsonl"])
    with pytest.raises(UserError, match="also an input"):
        merge_files(inputs, [inputs[0]])
    with pytest.raises(UserError, match="listed twice"):
        merge_files([inputs[0], inputs[0]], [tmp_path / "o.jsonl"])
    with pytest.raises(UserError, match="unsupported output"):
        merge_files(inputs, [tmp_path / "o.csv"])


def test_seed_command_form(tmp_path, inputs):
    out, metrics = tmp_path / "all.json", tmp_path / "merge.json"
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / "merge_data.py"), str(out), *map(str, inputs),
                           "--metrics_path", str(metrics)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [s["id"] for s in orjson.loads(out.read_bytes())] == ["c1", "c2", "s1", "s3"]
    assert orjson.loads(metrics.read_bytes())["duplicates"] == 2
    assert "2 duplicates removed" in proc.stderr


def test_cli_reports_bad_input_in_one_line(tmp_path):
    res = CliRunner().invoke(command, [str(tmp_path / "o.jsonl"), str(tmp_path / "nope.jsonl")])
    assert res.exit_code == 2
    assert res.output.strip().startswith("error:") and "nope.jsonl" in res.output
    assert len(res.output.strip().splitlines()) == 1
