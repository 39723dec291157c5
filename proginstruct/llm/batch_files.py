"""Batch input and output files (the OpenAI Batch API's JSONL format, which ``vllm run-batch`` reads too).

An input line is one request, the exact body an online request would send, its ``custom_id`` the
request's cache key (so an output line goes straight into the reply cache, whatever the order)::

    {"custom_id": "<cache key>", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

An output (or error) line answers one input line::

    {"id": "...", "custom_id": "<cache key>", "response": {"status_code": 200, "body": {chat.completion}},
     "error": null}

:class:`InputFiles` writes the pending lines of a round, one series of files per model, split at the
model's ``max_lines`` / ``max_bytes`` (:class:`~proginstruct.llm.model_map.BatchSpec`);
:func:`read_results` reads output and error files back; :func:`input_keys` lists an input file's keys.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from .wire import RETRY, WAIT, MalformedCompletion, parse_completion, status_action

ENDPOINT = "/v1/chat/completions"
_PREFIX = b'{"custom_id":"'
_KEY_END = len(_PREFIX) + 64  # where a cache key (64 hex digits) written by input_line ends


def input_line(key: str, body: bytes) -> bytes:
    """One input line (newline included) carrying ``body`` byte for byte."""
    return b"".join((_PREFIX, key.encode(), b'","method":"POST","url":"', ENDPOINT.encode(), b'","body":', body,
                     b"}\n"))


@dataclass
class InputFile:
    """One written input file: the ``model`` of every line, its ``path``, ``lines`` and ``size`` (bytes)."""

    model: str
    path: Path
    lines: int = 0
    size: int = 0


class InputFiles:
    """The pending requests of a round, written as batch input files under ``directory``.

    ``add`` writes a line unless its key was added since the last ``close`` (the same request asked by
    two records goes out once); ``close`` finishes every file and returns them in the order they were
    started. ``limits(model)`` gives ``(max_lines, max_bytes)`` of a model's files.
    """

    def __init__(self, directory: Path, limits):
        self.directory = directory
        self.limits = limits
        self.keys: set[str] = set()
        self._open: dict[str, tuple[InputFile, BinaryIO]] = {}
        self._done: list[InputFile] = []

    def __len__(self) -> int:
        """Lines added since the last :meth:`close`."""
        return len(self.keys)

    def add(self, model: str, key: str, body: bytes) -> None:
        """Queue one request of ``model`` under cache ``key`` (a no-op for a key already queued)."""
        if key in self.keys:
            return
        self.keys.add(key)
        line = input_line(key, body)
        max_lines, max_bytes = self.limits(model)
        cur = self._open.get(model)
        if cur is not None and (cur[0].lines >= max_lines or cur[0].size + len(line) > max_bytes):
            self._finish(model)
            cur = None
        if cur is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model)[:60]
            f = InputFile(model, self.directory / f"{slug}-{uuid.uuid4().hex[:12]}.jsonl")
            cur = self._open[model] = (f, f.path.open("wb"))
            self._done.append(f)
        f, fh = cur
        fh.write(line)
        f.lines += 1
        f.size += len(line)

    def _finish(self, model: str) -> None:
        _, fh = self._open.pop(model)
        fh.close()

    def close(self) -> list[InputFile]:
        """Close every file and return the files written since the last call (forgetting their keys)."""
        for model in list(self._open):
            self._finish(model)
        done, self._done = self._done, []
        self.keys.clear()
        return done

    def discard(self) -> None:
        """Close and delete the files not yet returned by :meth:`close` (an interrupted round)."""
        for f in self.close():
            f.path.unlink(missing_ok=True)


def input_keys(path: Path) -> list[str]:
    """The ``custom_id`` of every line of an input file, in file order (a torn last line is left out)."""
    keys = []
    with path.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break
            if line.startswith(_PREFIX) and line[_KEY_END:_KEY_END + 1] == b'"':  # by input_line: a 64-hex key
                keys.append(line[len(_PREFIX):_KEY_END].decode())
            else:
                keys.append(str(orjson.loads(line)["custom_id"]))
    return keys


@dataclass(frozen=True, slots=True)
class LineResult:
    """One answered line: ``key`` (its custom_id) and either a ``reply`` (the cache's reply dict) with its
    token ``usage`` ``(prompt, completion)``, or a fault ``kind`` (a ``faults.*`` name), the HTTP
    ``status`` (0 when none) and a ``detail`` for messages."""

    key: str
    reply: dict | None = None
    usage: tuple[int, int] = (0, 0)
    kind: str = ""
    status: int = 0
    detail: str = ""

    @property
    def action(self) -> str:
        """What the line's request does about its fault, as online (:func:`~proginstruct.llm.wire.status_action`
        of its HTTP status); :data:`~proginstruct.llm.wire.RETRY` for a fault without a status (a malformed
        reply, an error object, a missing line)."""
        return status_action(self.status)[1] if self.status else RETRY

    @property
    def retry(self) -> bool:
        """Whether sending the line again may help (:attr:`action` is ``RETRY`` or ``WAIT``)."""
        return self.action in (RETRY, WAIT)


def read_results(path: Path) -> Iterator[LineResult]:
    """The lines of an output or error file, in file order; unparsable lines (a torn last line, a line
    without ``custom_id``) are left out: their requests count as missing."""
    with path.open("rb") as fh:
        for raw in fh:
            try:
                obj = orjson.loads(raw)
                key = obj["custom_id"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if isinstance(key, str):
                yield parse_result(key, obj)


def parse_result(key: str, obj: dict) -> LineResult:
    """Read one output / error line object (``response`` with ``status_code`` and ``body``, or an
    ``error`` object with ``code`` and ``message``)."""
    response = obj.get("response") or {}
    status = response.get("status_code") if isinstance(response, dict) else None
    body = response.get("body") if isinstance(response, dict) else None
    if status == 200:
        try:
            reply, prompt, completion = parse_completion(body)
        except MalformedCompletion as e:
            return LineResult(key, kind="malformed_response", detail=str(e))
        return LineResult(key, reply, (prompt, completion))
    if isinstance(status, int):
        return LineResult(key, kind=status_action(status)[0], status=status, detail=_message(body) or _message(obj))
    err = obj.get("error") or {}
    code = str(err.get("code") or "error") if isinstance(err, dict) else "error"
    return LineResult(key, kind=f"batch_{re.sub(r'[^a-z0-9_]+', '_', code.lower())}", detail=_message(obj))


def _message(obj: object) -> str:
    """The ``error.message`` of an API error object, one line, or ``""``."""
    err = obj.get("error") if isinstance(obj, dict) else None
    msg = err.get("message") if isinstance(err, dict) else None
    return str(msg).splitlines()[0][:200] if msg else ""
