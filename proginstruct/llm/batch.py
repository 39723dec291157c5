"""Batch mode's pending requests and their jobs (``llm.mode: batch``; docs/models-and-scale.md "Batch inference").

In batch mode the engine never sends a request itself. A role call whose reply is not in the reply cache
hands the request to :meth:`BatchQueue.need`, which writes it as a line of the round's batch input files
(:mod:`~proginstruct.llm.batch_files`; the body byte for byte as online, the cache key as ``custom_id``)
and raises :class:`Pending`: the record waits. At the end of a round (:mod:`~proginstruct.llm.rounds`)
:meth:`BatchQueue.run_round` submits the files as jobs (:mod:`~proginstruct.llm.batch_jobs`), recording
each before it waits, polls them with a doubling interval and a progress bar of lines completed, and puts
every reply into the cache under its key, as an online reply would be. A line that failed (in the error
file, missing, or in a job that ended ``failed``, ``expired`` or ``cancelled``) is pending again in the
next round, as an online request is retried (SPEC 5): a 429 with no budget; a line the back end refused
(400, 413, 422) fails its role call at once; after ``1 + llm.max_retries`` tries of any other fault, and
at once for 401, 403, 404 and other 4xx, the run stops with one line (checkpoint and cache kept).

Counters (:attr:`BatchQueue.stats`): ``batch.rounds``, ``batch.jobs``, ``batch.lines`` (lines submitted),
``batch.failed_lines``, ``batch.attached_jobs`` (an earlier run's jobs waited for), ``batch.wait_seconds``,
``faults.<kind>`` per failed line, ``tokens.prompt`` / ``tokens.completion`` of the replies received.
:class:`EstimateSink` is the ``estimate`` mode's stand-in: it counts the requests instead.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..progress import Bar
from ..stats import Stats
from .batch_files import InputFile, InputFiles, LineResult, input_keys, read_results
from .batch_jobs import ApiBackend, CommandBackend, JobRow, JobState, JobStore
from .cache import ReplyCache
from .limits import estimate_tokens
from .model_map import ModelEntry, ModelMap
from .wire import FATAL_STATUS, REFUSE, STOP, WAIT

MODES = ("online", "batch", "estimate")
POLL_MAX = 60.0  # seconds: the longest wait between two polls


class Pending(Exception):
    """The reply a role call needs is not in the cache yet: its record waits for the next round.

    Never a rejected reply, a role failure or a skipped draw: it passes through the roles and the sampler
    up to the runner (:mod:`~proginstruct.llm.rounds`), which drops the record's partial work for this
    round. ``args[0]`` is the role's name.
    """


class EstimateSink:
    """``llm.mode: estimate``: counts the requests that are not cached, per role, without sending any.

    ``requests[role]`` and ``tokens[role]`` (prompt tokens estimated from the body's size,
    :func:`~proginstruct.llm.limits.estimate_tokens`); the same request asked twice counts once.
    """

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.tokens: Counter[str] = Counter()
        self._keys: set[str] = set()

    def need(self, entry: ModelEntry, key: str, body: bytes, role: str) -> str:
        """Count the request and raise :class:`Pending`."""
        if key not in self._keys:
            self._keys.add(key)
            self.requests[role] += 1
            self.tokens[role] += estimate_tokens(body)
        raise Pending(role)


class BatchQueue:
    """The pending requests of a batch-mode run and the jobs that answer them (see the module docstring).

    ``options`` is the engine's :class:`~proginstruct.llm.engine.EngineOptions` (``max_retries``,
    ``timeout``, ``batch_poll``). Input files go to ``<cache file stem>-batches/`` beside the cache and
    are deleted once their job's replies are in the cache.
    """

    def __init__(self, model_map: ModelMap, cache: ReplyCache, options: Any):
        self.model_map, self.cache, self.options = model_map, cache, options
        self.entries = {e.name: e for e in model_map.entries}
        self.directory = cache.path.with_name(cache.path.stem + "-batches")
        self.files = InputFiles(self.directory, self._limits)
        self.store = JobStore(cache.db)
        self.received: set[str] = set()  # keys whose reply a job of this run brought
        self.tries: Counter[str] = Counter()
        self.given_up: dict[str, str] = {}  # key -> fault kind: the role call fails on it
        self.counts = Stats()
        self.wait_seconds = 0.0
        self._api: dict[tuple[str, str], ApiBackend] = {}
        self._commands: dict[str, CommandBackend] = {}

    def _limits(self, model: str) -> tuple[int, int]:
        spec = self.entries[model].batch
        return spec.max_lines, spec.max_bytes

    @property
    def stats(self) -> Stats:
        """The session counters (see the module docstring)."""
        st = Stats(self.counts)
        st["batch.wait_seconds"] = round(self.wait_seconds)
        return st

    @property
    def queued(self) -> int:
        """Lines queued in this round so far."""
        return len(self.files)

    def need(self, entry: ModelEntry, key: str, body: bytes, role: str) -> str:
        """Queue a request whose reply is not cached and raise :class:`Pending`; returns the fault kind
        instead when the request was given up (the caller fails the role call with it)."""
        kind = self.given_up.get(key)
        if kind is not None:
            return kind
        self.files.add(entry.name, key, body)
        raise Pending(role)

    # ------------------------------------------------------------------ rounds
    async def attach(self) -> None:
        """Wait for the jobs an earlier run left unfinished and cache their replies (before round 1)."""
        rows = []
        for row in self.store.unfinished():
            if row.status == "submitting":
                self._drop(row, "its submission was interrupted before the job was recorded")
            elif row.model not in self.entries:
                self._drop(row, f'model "{row.model}" is no longer in {self.model_map.path}')
            else:
                rows.append(row)
        if rows:
            sys.stderr.write(f"batch: attaching to {len(rows)} unfinished job(s) of an earlier run "
                             f"({sum(r.lines for r in rows)} lines)\n")
            self.counts.add("batch.attached_jobs", len(rows))
            await self._wait(rows)

    async def run_round(self) -> None:
        """Submit the lines queued in this round as jobs, wait for them and cache their replies."""
        files = self.files.close()
        rows: list[JobRow] = []
        try:
            for f in files:
                rows.append(await self._submit(f))
        except BaseException:
            for f in files[len(rows) + 1:]:  # not recorded: nothing will attach to them
                f.path.unlink(missing_ok=True)
            raise
        await self._wait(rows)

    async def _submit(self, f: InputFile) -> JobRow:
        entry = self.entries[f.model]
        spec = entry.batch
        if spec.command:
            row = self.store.set(self.store.add("command", f.model, spec.command, f.path, f.lines), status="waiting")
            self._command(spec.command).submit(row)
        else:
            row = self.store.add("api", f.model, entry.base, f.path, f.lines)
            try:
                job_id = await self._api_for(entry, entry.base).submit(f.path)
            except UserError:  # refused: no job exists, nothing to attach to later
                self.store.set(row, status="done")
                f.path.unlink(missing_ok=True)
                raise
            row = self.store.set(row, status="waiting", job_id=job_id)
        self.counts.add("batch.jobs")
        self.counts.add("batch.lines", f.lines)
        return row

    def _api_for(self, entry: ModelEntry, base: str) -> ApiBackend:
        api = self._api.get((entry.name, base))
        if api is None:
            o = self.options
            api = self._api[(entry.name, base)] = ApiBackend(entry, base, retries=min(o.max_retries, 5),
                                                             timeout=o.timeout, window=entry.batch.completion_window)
        return api

    def _command(self, template: str) -> CommandBackend:
        return self._commands.setdefault(template, CommandBackend(template))

    async def _poll(self, row: JobRow) -> JobState:
        if row.backend == "command":
            return await self._command(row.target).poll(row)
        return await self._api_for(self.entries[row.model], row.target).poll(row.job_id)

    async def _wait(self, rows: list[JobRow]) -> None:
        """Poll ``rows`` until every job finished (the interval doubling from ``batch_poll`` up to
        :data:`POLL_MAX` seconds, a local command's end waking it at once), ingesting each as it finishes."""
        t0 = time.monotonic()
        done = {r.id: 0 for r in rows}
        delay = max(self.options.batch_poll, 0.001)
        bar = Bar(total=sum(r.lines for r in rows), desc=f"batch: {len(rows)} job(s)", unit="line",
                  dynamic_ncols=True, mininterval=0.5)
        try:
            while rows:
                left = []
                for row in rows:
                    state = await self._poll(row)
                    if state.finished:
                        await self._ingest(row, state)
                        done[row.id] = row.lines
                    else:
                        done[row.id] = min(state.done, row.lines)
                        left.append(row)
                bar.update(sum(done.values()) - bar.n)
                rows = left
                if rows:
                    running = [t for c in self._commands.values() for t in c.tasks.values()]
                    if running:
                        await asyncio.wait(running, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                    else:
                        await asyncio.sleep(delay)
                    delay = min(2 * delay, POLL_MAX)
        finally:
            bar.close()
            self.wait_seconds += time.monotonic() - t0

    async def _ingest(self, row: JobRow, state: JobState) -> None:
        """Cache the replies of a finished job, count its failed and missing lines, mark it done."""
        inp = Path(row.input_path)
        results: list[Path] = []
        if row.backend == "api":
            api = self._api_for(self.entries[row.model], row.target)
            for file_id, suffix in ((state.output, "out"), (state.errors, "err")):
                if file_id:
                    results.append(row.output_path(suffix))
                    await api.download(file_id, results[-1])
        elif row.output_path().exists():
            results.append(row.output_path())
        wanted = set(input_keys(inp)) if inp.exists() else set()
        got: set[str] = set()
        failed: Counter[str] = Counter()
        for path in results:
            for res in read_results(path):
                if res.key not in wanted or res.key in got:
                    continue
                got.add(res.key)
                if res.reply is not None:
                    self.cache.put(res.key, row.model, res.reply)
                    self.received.add(res.key)
                    self.counts.add("tokens.prompt", res.usage[0])
                    self.counts.add("tokens.completion", res.usage[1])
                else:
                    self._failed(row, res)
                    failed[res.kind] += 1
        kind = "batch_missing" if state.status == "completed" else f"batch_{state.status}"
        for key in wanted - got:
            self._failed(row, LineResult(key, kind=kind, detail=state.message))
            failed[kind] += 1
        self.cache.flush()
        self.store.set(row, status="done")
        if state.status != "completed" or failed:
            what = ", ".join(f"{k} {n}" for k, n in sorted(failed.items()))
            why = f" ({state.message})" if state.message else ""
            Bar.write(f"batch: job {row.job_id or row.input_path} of model \"{row.model}\" ended {state.status}"
                      f"{why}; {sum(failed.values())} of {row.lines} line(s) go back to pending ({what or 'none'})",
                      file=sys.stderr)  # above the progress bar, not inside its line
        for path in (inp, *results, row.output_path("log")):
            path.unlink(missing_ok=True)

    def _failed(self, row: JobRow, res: LineResult) -> None:
        """A line failed (``res``: its fault ``kind``, HTTP ``status``, 0 for none): as online (SPEC 5), a
        429 goes back to pending with no budget, a line the back end refused (400, 413, 422) fails its role
        call, and 401/403/404, other 4xx, or any other fault once the line was tried ``1 + llm.max_retries``
        times stop the run (:class:`~proginstruct.errors.UserError`; checkpoint and cache kept)."""
        key, kind, status, detail = res.key, res.kind, res.status, res.detail
        self.counts.add("batch.failed_lines")
        self.counts.add(f"faults.{kind}")
        where = f'{self.model_map.path}: model "{row.model}" at {row.target}'
        if status in FATAL_STATUS:
            raise UserError(f"{where} answered a batch line {status} ({detail}): {FATAL_STATUS[status]}; check its "
                            "\"api\" key, the model name and the base URL")
        action = res.action
        if action == WAIT:
            return
        if action == REFUSE:
            self.given_up[key] = kind
            return
        stopped = ("the run stopped (checkpoint and reply cache kept): run the same command again to resume once "
                   "the back end answers")
        if action == STOP:
            raise UserError(f"{where} answered a batch line {status} ({detail}); {stopped}")
        self.tries[key] += 1
        if self.tries[key] > self.options.max_retries:
            last = f"{kind}: {detail}" if detail else kind
            raise UserError(f"{where}: a batch line failed {self.tries[key]} times (llm.max_retries "
                            f"{self.options.max_retries}); last error: {last}; {stopped}, or raise llm.max_retries")

    def _drop(self, row: JobRow, why: str) -> None:
        """Forget a recorded job whose replies cannot be had; its lines are rendered again when needed."""
        sys.stderr.write(f"batch: dropping job {row.job_id or row.input_path} of model \"{row.model}\": {why}; "
                         "its lines go out again in the next round\n")
        self.store.set(row, status="done")
        Path(row.input_path).unlink(missing_ok=True)

    async def aclose(self) -> None:
        """Stop local commands, close API clients, delete an unsubmitted round's input files."""
        self.files.discard()
        for c in self._commands.values():
            await c.aclose()
        for api in self._api.values():
            await api.aclose()
