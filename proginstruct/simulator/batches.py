"""The simulated model's Files and Batches endpoints: the Batch API subset the engine's batch mode uses.

:class:`BatchService` keeps uploaded files and batch jobs in memory and answers, through
:meth:`BatchService.handle` (method, path, content type, body bytes -> status, body bytes, content type):

- ``POST /v1/files`` (multipart: ``file``, ``purpose``) -> a file object;
- ``GET /v1/files/{id}`` -> the file object; ``GET /v1/files/{id}/content`` -> its bytes;
- ``POST /v1/batches`` (``input_file_id``, ``endpoint``, ``completion_window``) -> a batch object;
- ``GET /v1/batches/{id}`` -> the batch; ``POST /v1/batches/{id}/cancel`` -> the batch, ``cancelling``.

A job completes ``delay`` seconds after its creation (its ``request_counts`` grow linearly meanwhile).
Each input line is answered as the online endpoint answers its body (:func:`answer_line`, the simulator's
reply); the output lines come in shuffled order. Fault injection (:class:`BatchOptions`): a share of lines
answered 500 in the error file, jobs that end ``expired`` (half their lines answered, the rest missing) or
``failed`` (no output), a refusal of every job, and no Batch API at all (404).

The in-process transport (:mod:`proginstruct.simulator.transport`) and the loopback server
(:mod:`proginstruct.simulator.server`) both answer through one service. :func:`answer_file` is the
``vllm run-batch`` stand-in of the tests: an input file in, the output file out.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import orjson

from .api import completion_response, error_body, parse_body

ENDPOINT = "/v1/chat/completions"
_ROUTE = re.compile(r"^(?:/v1)?/(files|batches)(?:/([^/]+))?(?:/(content|cancel))?/?$")


@dataclass(frozen=True)
class BatchOptions:
    """Batch behaviour: ``delay`` seconds from creation to completion; ``fail_lines`` the probability
    that a line is answered 500 in the error file (drawn per line, in processing order, from
    ``random.Random(seed)``); the first ``expire_jobs`` jobs end ``expired`` and the next ``fail_jobs``
    end ``failed``; ``refuse``: when not empty, every job creation is answered 400 with this message;
    ``enabled`` False: 404 on every Files and Batches path (a server without the Batch API). The loopback
    server checks the values (:class:`~proginstruct.simulator.server.ServerOptions`)."""

    delay: float = 0.0
    fail_lines: float = 0.0
    expire_jobs: int = 0
    fail_jobs: int = 0
    refuse: str = ""
    enabled: bool = True
    seed: int = 0


def body_digest(body: Any) -> str:
    """SHA-256 of a request body as compact JSON: the bytes the engine sends online, so batch and
    online counters of the same request agree."""
    return hashlib.sha256(orjson.dumps(body)).hexdigest()


def answer_line(raw: bytes, n: int, *, fail: bool = False) -> tuple[bool, dict]:
    """``(ok, output line object)`` for one input line: a 200 ``response`` with the completion the online
    endpoint would give, or (``fail``, or a body the endpoint refuses) an error ``response``. ``n``
    numbers the ``id``. Raises ``ValueError`` for a line that is not JSON with a ``custom_id``."""
    line = parse_body(raw)
    cid = line.get("custom_id")
    if not isinstance(cid, str):
        raise ValueError("input line without a 'custom_id'")
    out = {"id": f"batch_req_{n}", "custom_id": cid, "response": None, "error": None}
    if fail:
        out["response"] = {"status_code": 500, "request_id": f"req_{n}",
                           "body": error_body("simulated batch line failure", "server_error")}
        return False, out
    try:
        body = line.get("body")
        if line.get("url") != ENDPOINT or not isinstance(body, dict):
            raise ValueError(f"a line must POST a body object to {ENDPOINT}")
        payload = completion_response(body)
    except ValueError as err:
        out["response"] = {"status_code": 400, "request_id": f"req_{n}", "body": error_body(str(err))}
        return False, out
    out["response"] = {"status_code": 200, "request_id": f"req_{n}", "body": payload}
    return True, out


def answer_file(input_path: str | Path, output_path: str | Path, *, seed: int = 0) -> int:
    """Answer every line of a batch input file into ``output_path`` (shuffled with ``seed``), as
    ``vllm run-batch`` writes its output; returns the number of lines."""
    lines = [ln for ln in Path(input_path).read_bytes().splitlines() if ln.strip()]
    outs = [orjson.dumps(answer_line(raw, n)[1]) + b"\n" for n, raw in enumerate(lines)]
    random.Random(seed).shuffle(outs)
    Path(output_path).write_bytes(b"".join(outs))
    return len(outs)


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """The fields of a ``multipart/form-data`` body, name -> bytes (stdlib ``email`` parser)."""
    msg = BytesParser(policy=policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = part.get_payload(decode=True) or b""
    return fields


class BatchService:
    """Files and batch jobs of one simulated server (see the module docstring); ``clock`` in seconds."""

    def __init__(self, options: BatchOptions | None = None, clock=time.monotonic):
        self.options = options or BatchOptions()
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        """Forget every file and job, zero the counters, re-seed the line faults."""
        self.rng = random.Random(self.options.seed)
        self.files: dict[str, dict] = {}
        self.data: dict[str, bytes] = {}
        self.jobs: dict[str, dict] = {}
        self.started: dict[str, float] = {}
        self._ids = itertools.count(1)
        self.submitted: dict[str, int] = {}  # body digest -> lines submitted with it
        self.delivered: dict[str, int] = {}  # body digest -> 200 answers downloaded
        self.digests: dict[str, str] = {}  # custom_id -> body digest (of the latest submission)
        self.failed_lines = 0

    def snapshot(self, bodies: bool = False) -> dict[str, Any]:
        """Counters: ``files``, ``jobs``, ``job_ids`` and ``job_lines`` (in creation order), ``by_status``,
        ``lines`` (submitted), ``failed_lines``; with ``bodies`` also ``submitted`` and ``delivered`` (body
        digest -> lines submitted with it, 200 answers downloaded for it)."""
        by_status: dict[str, int] = {}
        for job in self.jobs.values():
            by_status[job["status"]] = by_status.get(job["status"], 0) + 1
        out: dict[str, Any] = {"files": len(self.files), "jobs": len(self.jobs), "job_ids": list(self.jobs),
                               "job_lines": [j["request_counts"]["total"] for j in self.jobs.values()],
                               "by_status": by_status, "lines": sum(self.submitted.values()),
                               "failed_lines": self.failed_lines}
        if bodies:
            out["submitted"], out["delivered"] = dict(self.submitted), dict(self.delivered)
        return out

    # ------------------------------------------------------------------ HTTP surface
    def handle(self, method: str, path: str, content_type: str, body: bytes) -> tuple[int, bytes, str]:
        """``(status, body, content type)`` for one Files / Batches request (404 for other paths)."""
        m = _ROUTE.match(path)
        if not self.options.enabled or m is None:
            return _json(404, error_body(f"no route for {method} {path}", "not_found"))
        kind, ident, action = m.groups()
        try:
            if kind == "files":
                if method == "POST" and ident is None:
                    return _json(200, self._upload(content_type, body))
                if method == "GET" and ident in self.files:
                    if action == "content":
                        self._count_delivered(ident)
                        return 200, self.data[ident], "application/octet-stream"
                    return _json(200, self.files[ident])
            elif method == "POST" and ident is None:
                return _json(200, self._create(parse_body(body)))
            elif ident in self.jobs and (method, action) in (("GET", None), ("POST", "cancel")):
                job = self._advance(ident)
                if action == "cancel" and job["status"] in ("validating", "in_progress"):
                    self.jobs[ident]["status"] = job["status"] = "cancelling"
                return _json(200, job)
        except ValueError as err:
            return _json(400, error_body(str(err)))
        return _json(404, error_body(f"no such {kind[:-1]}: {ident}", "not_found"))

    def _upload(self, content_type: str, body: bytes) -> dict:
        fields = parse_multipart(content_type, body)
        if "file" not in fields or fields.get("purpose", b"").decode() != "batch":
            raise ValueError("expected a multipart upload with a 'file' and purpose 'batch'")
        return self._add_file(fields["file"], "batch")

    def _add_file(self, data: bytes, purpose: str) -> dict:
        fid = f"file-sim{next(self._ids)}"
        self.files[fid] = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                           "filename": f"{fid}.jsonl", "purpose": purpose, "status": "processed"}
        self.data[fid] = data
        return self.files[fid]

    def _create(self, req: dict) -> dict:
        o = self.options
        if o.refuse:
            raise ValueError(o.refuse)
        fid = req.get("input_file_id")
        if fid not in self.files:
            raise ValueError(f"input file {fid!r} not found")
        if req.get("endpoint") != ENDPOINT or req.get("completion_window") != "24h":
            raise ValueError(f"endpoint must be {ENDPOINT} and completion_window '24h'")
        lines = [ln for ln in self.data[fid].splitlines() if ln.strip()]
        for ln in lines:
            line = orjson.loads(ln)
            digest = body_digest(line.get("body"))
            self.submitted[digest] = self.submitted.get(digest, 0) + 1
            self.digests[str(line.get("custom_id"))] = digest
        bid = f"batch_sim{next(self._ids)}"
        n = len(self.jobs)
        end = "expired" if n < o.expire_jobs else ("failed" if n < o.expire_jobs + o.fail_jobs else "completed")
        self.jobs[bid] = {"id": bid, "object": "batch", "endpoint": ENDPOINT, "input_file_id": fid,
                          "completion_window": "24h", "created_at": int(time.time()), "status": "in_progress",
                          "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                          "output_file_id": None, "error_file_id": None, "errors": None, "_end": end}
        self.started[bid] = self.clock()
        return _public(self.jobs[bid])

    def _advance(self, bid: str) -> dict:
        """The job as of now: finish it when its delay has passed, or when it is being cancelled."""
        job = self.jobs[bid]
        counts = job["request_counts"]
        if job["status"] == "cancelling":
            job["status"] = "cancelled"
        elif job["status"] == "in_progress":
            elapsed = self.clock() - self.started[bid]
            delay = self.options.delay
            if elapsed >= delay:
                self._finish(job)
            else:
                counts["completed"] = int(counts["total"] * elapsed / delay)
        return _public(job)

    def _finish(self, job: dict) -> None:
        end = job["_end"]
        job["status"] = end
        counts = job["request_counts"]
        if end == "failed":
            job["errors"] = {"object": "list", "data": [{"code": "invalid_request", "line": 1,
                                                         "message": "simulated validation failure"}]}
            counts["completed"] = counts["failed"] = 0
            return
        lines = [ln for ln in self.data[job["input_file_id"]].splitlines() if ln.strip()]
        if end == "expired":
            lines = lines[: len(lines) // 2]
        outs, errs = [], []
        for n, raw in enumerate(lines):
            ok, obj = answer_line(raw, n, fail=self.rng.random() < self.options.fail_lines)
            (outs if ok else errs).append(orjson.dumps(obj) + b"\n")
        self.rng.shuffle(outs)
        self.failed_lines += len(errs)
        counts["completed"], counts["failed"] = len(outs), len(errs)
        if outs:
            job["output_file_id"] = self._add_file(b"".join(outs), "batch_output")["id"]
        if errs:
            job["error_file_id"] = self._add_file(b"".join(errs), "batch_output")["id"]

    def _count_delivered(self, fid: str) -> None:
        if self.files[fid]["purpose"] != "batch_output":
            return
        for ln in self.data[fid].splitlines():
            obj = orjson.loads(ln)
            if (obj.get("response") or {}).get("status_code") == 200:
                digest = self.digests.get(obj["custom_id"], "")
                self.delivered[digest] = self.delivered.get(digest, 0) + 1


def _public(job: dict) -> dict:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _json(status: int, payload: dict) -> tuple[int, bytes, str]:
    return status, orjson.dumps(payload), "application/json"
