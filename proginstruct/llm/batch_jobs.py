"""Batch jobs: where they are recorded, and the two back ends that run them.

- :class:`JobStore`: the ``batch_jobs`` table of the reply-cache database. A job is recorded *before*
  its input is uploaded (status ``submitting``), gets its job id once the API accepted it (``waiting``),
  and is marked ``done`` once its replies are in the cache. A run that was killed, and any later run on
  the same cache, attaches to the ``waiting`` jobs instead of submitting their lines again.
- :class:`ApiBackend`: the Batch API of a model's base URL through the official ``openai`` client
  (``files.create`` with ``purpose="batch"``, ``batches.create`` on ``/v1/chat/completions``,
  ``batches.retrieve``, ``files.content``), the client retrying transient faults itself.
- :class:`CommandBackend`: a local command per input file (``vllm run-batch -i {input} -o {output}
  --model {model}``), one at a time, its output and errors sent to a log next to the input file.

Every problem no rerun can fix is a one-line :class:`~proginstruct.errors.UserError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shlex
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import openai

from ..errors import UserError
from .batch_files import ENDPOINT
from .model_map import ModelEntry

FINISHED = ("completed", "failed", "expired", "cancelled")
NO_BATCH_API = "use --mode online, or give the model a local \"batch\": {\"command\": ...} back end"


@dataclass(frozen=True, slots=True)
class JobRow:
    """One recorded job: local ``id``, ``backend`` (``api`` | ``command``), ``model``, ``target`` (the base
    URL, or the command template), ``input_path``, ``lines``, ``job_id`` (the API's batch id; ``""`` for a
    command) and ``status`` (``submitting`` | ``waiting`` | ``done``)."""

    id: int
    backend: str
    model: str
    target: str
    input_path: str
    lines: int
    job_id: str
    status: str

    def output_path(self, suffix: str = "out") -> Path:
        """Where this job's output (``out``), error (``err``) file or ``log`` goes: beside the input."""
        p = Path(self.input_path)
        return p.with_name(f"{p.stem}.{suffix}.{'log' if suffix == 'log' else 'jsonl'}")


class JobStore:
    """The ``batch_jobs`` table in the reply-cache database ``db`` (an open autocommit connection)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        db.execute("CREATE TABLE IF NOT EXISTS batch_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, backend TEXT, "
                   "model TEXT, target TEXT, input_path TEXT, lines INTEGER, job_id TEXT, status TEXT, "
                   "created REAL)")

    def add(self, backend: str, model: str, target: str, input_path: Path, lines: int) -> JobRow:
        """Record a job about to be submitted (status ``submitting``)."""
        cur = self.db.execute("INSERT INTO batch_jobs (backend, model, target, input_path, lines, job_id, status, "
                              "created) VALUES (?, ?, ?, ?, ?, '', 'submitting', ?)",
                              (backend, model, target, str(input_path), lines, time.time()))
        return JobRow(cur.lastrowid, backend, model, target, str(input_path), lines, "", "submitting")

    def set(self, row: JobRow, *, status: str, job_id: str | None = None) -> JobRow:
        """Update a job's status (and job id); returns the updated row."""
        row = dataclasses.replace(row, status=status, job_id=row.job_id if job_id is None else job_id)
        self.db.execute("UPDATE batch_jobs SET status = ?, job_id = ? WHERE id = ?", (status, row.job_id, row.id))
        return row

    def unfinished(self) -> list[JobRow]:
        """Jobs not ``done``, oldest first."""
        rows = self.db.execute("SELECT id, backend, model, target, input_path, lines, job_id, status FROM batch_jobs "
                               "WHERE status != 'done' ORDER BY id").fetchall()
        return [JobRow(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class JobState:
    """A polled job: ``status`` (an API status; ``lost`` when the job no longer exists), ``done`` lines
    (completed or failed so far), the ``output`` and ``errors`` file ids when finished, a ``message``."""

    status: str
    done: int = 0
    output: str = ""
    errors: str = ""
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED or self.status == "lost"


class ApiBackend:
    """The Batch API at ``base`` for ``entry`` (``base`` ``"simulator"``: the in-process simulator).

    ``retries`` and ``timeout`` (seconds) go to the client, which retries 5xx, 429 and connection faults
    with its own backoff.
    """

    def __init__(self, entry: ModelEntry, base: str, *, retries: int, timeout: float, window: str):
        self.entry, self.base, self.window = entry, base, window
        kw: dict = {"max_retries": retries, "timeout": timeout or None}
        if base == "simulator":
            from ..simulator.transport import simulator_http_client

            kw.update(base_url="http://simulator.invalid/v1", http_client=simulator_http_client())
        else:
            kw["base_url"] = base
        self.client = openai.AsyncOpenAI(api_key=entry.api_key, **kw)

    def _where(self) -> str:
        return f'model "{self.entry.name}" at {self.base}'

    def _error(self, e: Exception, doing: str) -> UserError:
        if isinstance(e, openai.NotFoundError):
            return UserError(f"{self._where()}: no Batch API ({doing} answered 404); {NO_BATCH_API}")
        if isinstance(e, openai.APIStatusError):
            body = e.body if isinstance(e.body, dict) else {}
            msg = str(body.get("message") or e.message or e).splitlines()[0][:300]
            return UserError(f"{self._where()}: the Batch API refused {doing} ({e.status_code}: {msg})")
        return UserError(f"{self._where()}: cannot reach the Batch API while {doing} ({type(e).__name__}: "
                         f"{str(e)[:160]}); run the same command again to attach to the submitted jobs")

    async def submit(self, path: Path) -> str:
        """Upload ``path`` and create its job; returns the batch id. ``UserError`` when refused."""
        try:
            f = await self.client.files.create(file=path, purpose="batch")
        except openai.APIError as e:
            raise self._error(e, f"the upload of {path}") from None
        try:
            job = await self.client.batches.create(input_file_id=f.id, endpoint=ENDPOINT,
                                                   completion_window=self.window)
        except openai.APIError as e:
            raise self._error(e, f"the batch job for {path}") from None
        return job.id

    async def poll(self, job_id: str) -> JobState:
        """The job's state (``lost`` when the API does not know the id)."""
        try:
            job = await self.client.batches.retrieve(job_id)
        except openai.NotFoundError:
            return JobState("lost", message="the API no longer knows this job")
        except openai.APIError as e:
            raise self._error(e, f"polling job {job_id}") from None
        counts = job.request_counts
        done = (counts.completed + counts.failed) if counts else 0
        errs = job.errors.data if job.errors and job.errors.data else []
        message = "; ".join(str(x.message) for x in errs[:3] if x.message)
        return JobState(job.status, done, job.output_file_id or "", job.error_file_id or "", message)

    async def download(self, file_id: str, path: Path) -> None:
        """Stream file ``file_id`` to ``path``."""
        try:
            async with self.client.files.with_streaming_response.content(file_id) as resp:
                await resp.stream_to_file(path)
        except openai.APIError as e:
            raise self._error(e, f"the download of file {file_id}") from None

    async def aclose(self) -> None:
        await self.client.close()


class CommandBackend:
    """A local command (``template`` with ``{input}``, ``{output}``, ``{model}``) run once per input file,
    one file at a time, output and errors to the job's log. A job of an earlier, killed run cannot be
    attached to while it runs: its output file, if any, is read as it is."""

    def __init__(self, template: str):
        self.template = template
        self._lock = asyncio.Lock()
        self.tasks: dict[int, asyncio.Task] = {}

    def argv(self, row: JobRow) -> list[str]:
        """The command line of a job (the template split like a shell line, placeholders replaced)."""
        subst = {"{input}": row.input_path, "{output}": str(row.output_path()), "{model}": row.model}
        out = []
        for part in shlex.split(self.template):
            for k, v in subst.items():
                part = part.replace(k, v)
            out.append(part)
        return out

    def submit(self, row: JobRow) -> None:
        """Start the job (it waits for the jobs started before it)."""
        self.tasks[row.id] = asyncio.ensure_future(self._run(row))

    async def _run(self, row: JobRow) -> None:
        async with self._lock:
            argv, log = self.argv(row), row.output_path("log")
            row.output_path().unlink(missing_ok=True)
            with log.open("wb") as fh:
                try:
                    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                                stdout=fh, stderr=asyncio.subprocess.STDOUT)
                except OSError as e:
                    raise UserError(f"batch command {shlex.join(argv)!r} for model \"{row.model}\" could not start "
                                    f"({e.strerror or e}); fix \"batch\": {{\"command\": ...}} in the model map") from None
                try:
                    code = await proc.wait()
                except BaseException:
                    with contextlib.suppress(ProcessLookupError):
                        proc.terminate()
                    raise
            if code != 0:
                raise UserError(f"batch command {shlex.join(argv)!r} for model \"{row.model}\" exited with status "
                                f"{code}; see its log {log}")

    async def poll(self, row: JobRow) -> JobState:
        """``completed`` once the command ended (its ``UserError`` raised here when it failed); a job with
        no task in this process (an earlier run's) is ``completed`` when its output file exists, else
        ``lost``."""
        task = self.tasks.get(row.id)
        if task is None:
            return JobState("completed") if row.output_path().exists() else JobState("lost")
        if not task.done():
            return JobState("in_progress")
        del self.tasks[row.id]
        task.result()
        return JobState("completed")

    async def aclose(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
