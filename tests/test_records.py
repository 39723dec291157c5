"""Atomic writes and the resumable checkpointed writer."""

import orjson
import pytest

from proginstruct.errors import UserError
from proginstruct.records import CheckpointedWriter, read_records, record_id, write_records


def test_read_formats(tmp_path):
    (tmp_path / "a.json").write_text('[{"x": 1}, "s"]')
    (tmp_path / "a.jsonl").write_text('{"x": 1}\n\n"s"\n')
    assert list(read_records(tmp_path / "a.json")) == [(0, {"x": 1}), (1, "s")]
    assert list(read_records(tmp_path / "a.jsonl")) == [(0, {"x": 1}), (2, "s")]
    with pytest.raises(UserError, match="not found"):
        list(read_records(tmp_path / "missing.jsonl"))
    (tmp_path / "bad.jsonl").write_text('{"x": 1}\n{oops\n')
    with pytest.raises(UserError, match="line 2"):
        list(read_records(tmp_path / "bad.jsonl"))


def test_record_id_content_derived():
    assert record_id({"id": "abc", "x": 1}) == "abc"
    assert record_id({"b": 1, "a": 2}) == record_id({"a": 2, "b": 1})
    assert record_id("x") != record_id("y")


def test_write_records_json_and_jsonl(tmp_path):
    assert write_records(tmp_path / "o.json", iter([{"a": 1}, {"b": 2}])) == 2
    assert orjson.loads((tmp_path / "o.json").read_bytes()) == [{"a": 1}, {"b": 2}]
    write_records(tmp_path / "o.jsonl", [{"a": 1}])
    assert (tmp_path / "o.jsonl").read_bytes() == b'{"a":1}\n'
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_checkpoint_resume_truncates_torn_tail(tmp_path):
    out = tmp_path / "out.jsonl"
    w = CheckpointedWriter(out, "fp1")
    assert w.open() == 0
    w.write_record([{"i": 0}], {"samples": 1})
    w.write_record([], {"skipped": 1})
    w.write_record([{"i": 2}, {"i": 2.5}], {"samples": 2})
    w.close()
    # simulate a crash after the data of record 3 was written but before its index line
    with open(out.with_name("out.jsonl.partial"), "ab") as fh:
        fh.write(b'{"i":3}\n{"torn')
    assert not out.exists()
    w2 = CheckpointedWriter(out, "fp1")
    assert w2.open() == 3
    assert w2.done_stats == {"samples": 3, "skipped": 1}  # the three finished records' counters, summed
    w2.write_record([{"i": 3}], {})
    w2.finish()
    assert out.read_bytes() == b'{"i":0}\n{"i":2}\n{"i":2.5}\n{"i":3}\n'
    assert not out.with_name("out.jsonl.partial").exists()


def test_checkpoint_with_other_fingerprint_starts_over(tmp_path):
    out = tmp_path / "out.json"
    w = CheckpointedWriter(out, "old")
    w.open()
    w.write_record([{"i": 0}])
    w.close()
    w2 = CheckpointedWriter(out, "new")
    assert w2.open() == 0
    w2.write_record([{"i": 9}])
    w2.finish()
    assert orjson.loads(out.read_bytes()) == [{"i": 9}]


def test_a_checkpoint_without_finished_records_is_not_left_behind(tmp_path):
    out = tmp_path / "out.jsonl"
    w = CheckpointedWriter(out, "fp")
    w.open()
    w.close()  # e.g. the run failed before its first record finished
    assert list(tmp_path.iterdir()) == []
    w = CheckpointedWriter(out, "fp")
    w.open()
    w.finish()  # zero records (an empty shard) still gives a complete, empty output
    assert out.read_bytes() == b"" and list(tmp_path.iterdir()) == [out]
