"""Scale benchmark (docs/benchmarks.md): the collect stage against the loopback simulator, next to bare
openai loops, and its memory on real-shaped commits.

Run: ``.venv/bin/python bench/scale.py`` (defaults: 1,000, 10,000 and 100,000 commit records, the
simulator instant and at 1 s latency, 512 requests in flight, ``collect.workers`` 1 and 2, then the
memory rows: 1,000 and 10,000 real-shaped commit records at 200 ms latency). Writes
``bench/results/scale.json``; ``--table`` prints the tables of docs/benchmarks.md from it. ``--memory``
runs only the memory rows, into ``bench/results/scale_memory.json`` under ``--label`` (``--code DIR``
runs them from another checkout, for a before/after comparison).

For every size and latency, in one run:

1. a fresh simulator server (``proginstruct.simulator.server``) in its own process;
2. **pipeline**, once per ``--workers`` setting: a child process runs ``run_collection`` (the
   ``collect@commit`` stage) on the synthetic records with a fresh reply cache, ``num_proc`` requests in
   flight, the aiohttp transport (the outputs of the settings must be identical, else the bench stops);
3. **bare loop** (``bare_loop``): a child process sends the same number of requests with the same openai
   client (``openai.AsyncOpenAI`` + ``DefaultAioHttpClient``, ``max_retries=0``) from ``num_proc``
   workers, cycling through request bodies that the pipeline builds for the same records (captured
   before the runs with the roles and the in-process simulator). It sends them as the engine does,
   through the client's ``post`` with orjson bytes, with Python's default garbage collector: the
   reference of the targets;
4. **bare GC-tuned** (``bare_loop_gc_tuned``): the same loop under the pipeline's garbage-collector
   settings (``proginstruct.llm.gc_tuning.throughput_gc``), to show what those settings alone are worth;
5. **create loop** (``bare_create``): the same with ``client.chat.completions.create(...)``, the
   idiomatic call, whose parameter transformation costs about 5 ms of CPU per 10 KB prompt; capped at
   ``--create_cap`` requests (default 10,000) because it is slow; per-request figures are steady-state.

Figures per run: ``samples_per_s``, ``requests_per_s`` (requests the server received / wall time of the
run phase), ``max_in_flight`` (most requests awaiting a reply in the client at once), ``cpu_ms_per_request``
(the child's ``time.process_time`` plus its finished workers' CPU from ``RUSAGE_CHILDREN``, over the run
phase, imports excluded, per request), ``peak_rss_mb`` (the largest process's ``ru_maxrss``),
``peak_tree_pss_mb`` / ``peak_tree_rss_mb`` (peak sums over the child and its workers, sampled every
0.2 s from ``/proc``), ``load`` (1-minute load average before the run: the machine is shared).
``ratio`` compares each pipeline setting with the bare loop; ``targets`` holds the checks where a target
applies (:data:`TARGET_LATENCY` with one worker: rate >= 85 % of the bare loop's, CPU per request
<= 1.5x; other rows are for information); ``ratio_vs_gc_tuned`` and ``ratio_vs_create`` compare with the
other loops. ``memory`` holds the memory rows and their targets (peak RSS <= 200 MB, and flat: the
largest size's peak within 20 % of the smallest's); ``targets_met`` summarizes all of them.

Synthetic commit records (rate rows): Python modules of 40-120 lines (functions with arithmetic, loops,
prints), changed by 1-4 edits (renamed identifiers, changed literals, inserted or deleted lines), with a
commit subject. Real-shaped records (memory rows, :func:`write_real_records`): one Python file of
5-100 KB per record (median about 16 KB), changed by 1-6 local edits. Both seeded: every run measures
the same input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil  # installed with dvc
from common import store_labelled

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "scale.json"
MEMORY_RESULTS = REPO / "bench" / "results" / "scale_memory.json"
BODY_POOL = 4000  # distinct request bodies the bare loop cycles through
TARGET_LATENCY = 1.0  # seconds: the rate and CPU targets apply at this latency, with one worker
RATE_TARGET, CPU_TARGET = 0.85, 1.5  # at least this share of the bare loop's rate; at most this x its CPU
RSS_TARGET_MB, FLAT_TARGET = 200.0, 1.2  # memory rows: peak RSS; largest size's peak / smallest size's

NAMES = ["total", "count", "items", "value", "result", "index", "buffer", "limit", "offset", "scale", "width",
         "height", "name", "path", "data", "rows", "cols", "score", "weight", "delta"]
FUNCS = ["load", "parse", "render", "update", "merge", "split", "check", "compute", "format", "collect"]


def _module(rng: random.Random) -> list[str]:
    lines = ["import math", "import os", ""]
    for f in rng.sample(FUNCS, rng.randint(3, 7)):
        a, b, c = rng.sample(NAMES, 3)
        lines += ["", f"def {f}_{a}({a}, {b}):", f'    """{f.capitalize()} the {a} with {b}."""']
        for _ in range(rng.randint(4, 12)):
            kind = rng.randrange(5)
            n = rng.randint(1, 99)
            if kind == 0:
                lines.append(f"    {c} = {a} * {n} + {b}")
            elif kind == 1:
                lines += [f"    for i in range({n}):", f"        {c} = {c} + i if i % 2 else {c} - {n}"]
            elif kind == 2:
                lines += [f"    if {a} > {n}:", f"        {a} = math.sqrt({a}) + {b}"]
            elif kind == 3:
                lines.append(f'    print("{f} {a}", {a}, {b})')
            else:
                lines.append(f"    {b} = os.path.join(str({b}), '{c}_{n}')")
        lines.append(f"    return {a}")
    return lines


def _edit(lines: list[str], rng: random.Random) -> tuple[list[str], str]:
    out = list(lines)
    subjects = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(4)
        i = rng.randrange(3, len(out))
        if kind == 0:  # change a literal
            out[i] = re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), out[i], count=1)
            subjects.append("tune constants")
        elif kind == 1:  # rename an identifier everywhere
            old, new = rng.sample(NAMES, 2)
            out = [re.sub(rf"\b{old}\b", new + "_v", ln) for ln in out]
            subjects.append(f"rename {old} to {new}_v")
        elif kind == 2 and out[i].startswith("    ") and not out[i].rstrip().endswith(":"):
            del out[i]
            subjects.append("drop a dead statement")
        else:
            indent = re.match(r"\s*", out[i]).group()
            out.insert(i + 1, f"{indent}log_{rng.choice(NAMES)} = {rng.randint(0, 9)}  # trace")
            subjects.append("add tracing")
    return out, "; ".join(dict.fromkeys(subjects)).capitalize()


def write_records(path: Path, n: int, seed: int = 7) -> None:
    """``n`` commit records (SPEC 1.1 shape) as JSONL at ``path``."""
    rng = random.Random(seed)
    with path.open("w") as fh:
        for k in range(n):
            a = _module(rng)
            b, subject = _edit(a, rng)
            if b == a:
                b = a + ["", "# end"]
            fh.write(json.dumps({"id": f"c{k:07d}:pkg/mod{k % 97}.py", "code1": "\n".join(a) + "\n",
                                 "code2": "\n".join(b) + "\n", "lang": "python", "git": subject}) + "\n")


def _real_module(rng: random.Random, size: int) -> list[str]:
    """A Python module of about ``size`` characters: functions of 6-40 statements, a few blank lines."""
    lines = ["import math", "import os", "import sys", ""]
    total, k = 0, 0
    while total < size:
        a, b, c = rng.sample(NAMES, 3)
        f = f"{rng.choice(FUNCS)}_{a}_{k}"
        k += 1
        body = [f"def {f}({a}, {b}):", f'    """{f.capitalize()} the {a} with {b}."""']
        for _ in range(rng.randint(6, 40)):
            kind = rng.randrange(6)
            n = rng.randint(1, 999)
            if kind == 0:
                body.append(f"    {c} = {a} * {n} + {b}")
            elif kind == 1:
                body += [f"    for i in range({n}):", f"        {c} = {c} + i if i % 2 else {c} - {n}"]
            elif kind == 2:
                body += [f"    if {a} > {n}:", f"        {a} = math.sqrt({a}) + {b}"]
            elif kind == 3:
                body.append(f'    print("{f} {a}", {a}, {b}, file=sys.stderr)')
            elif kind == 4:
                body.append(f"    {b} = os.path.join(str({b}), '{c}_{n}')")
            else:
                body.append(f"    # {c} is kept below {n} so that the {a} loop stays bounded")
        body += [f"    return {a}", "", ""]
        lines += body
        total += sum(len(x) + 1 for x in body)
    return lines


def _real_edit(lines: list[str], rng: random.Random) -> tuple[list[str], str]:
    """1-6 local edits, as a real commit makes: a changed literal, an inserted or deleted statement, a
    renamed local inside one function."""
    out = list(lines)
    subjects = []
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(4, len(out))
        kind = rng.randrange(4)
        if kind == 0 and re.search(r"\d", out[i]):
            out[i] = re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), out[i], count=1)
            subjects.append("tune constants")
        elif kind == 1 and out[i].startswith("    ") and not out[i].rstrip().endswith(":"):
            del out[i]
            subjects.append("drop a dead statement")
        elif kind == 2:
            old, new = rng.sample(NAMES, 2)
            for j in range(i, min(i + 12, len(out))):
                out[j] = re.sub(rf"\b{old}\b", new + "_v", out[j])
            subjects.append(f"rename {old} to {new}_v")
        else:
            indent = re.match(r"\s*", out[i]).group() or "    "
            out.insert(i + 1, f"{indent}log_{rng.choice(NAMES)} = {rng.randint(0, 9)}  # trace")
            subjects.append("add tracing")
    return out, "; ".join(dict.fromkeys(subjects)).capitalize()


def write_real_records(path: Path, n: int, seed: int = 11) -> None:
    """``n`` real-shaped commit records as JSONL at ``path``: one Python file of 5-100 KB per record
    (log-normal sizes, median about 16 KB, as in a public project's history), changed by 1-6 local edits."""
    rng = random.Random(seed)
    with path.open("w") as fh:
        for k in range(n):
            size = int(min(100_000, max(5_000, rng.lognormvariate(math.log(16_000), 0.7))))
            a = _real_module(rng, size)
            b, subject = _real_edit(a, rng)
            if b == a:
                b = a + ["# end"]
            fh.write(json.dumps({"id": f"r{k:07d}:pkg/mod{k % 97}.py", "code1": "\n".join(a) + "\n",
                                 "code2": "\n".join(b) + "\n", "lang": "python", "git": subject}) + "\n")


# ------------------------------------------------------------------------------------------ children
def child_bodies(args: argparse.Namespace) -> None:
    """Capture the messages the pipeline sends for the first records (roles + in-process simulator)."""
    from proginstruct.collection.collect import Roles, collect_record
    from proginstruct.collection.sample import CollectParams
    from proginstruct.llm.engine import RoleResult
    from proginstruct.records import read_records, record_id
    from proginstruct.seeding import derive_seed
    from proginstruct.simulator.replies import simulate_reply

    bodies: list[dict] = []

    class Recorder:
        async def ask(self, role, query, seed, stats=None):  # noqa: ANN001 - duck-typed Engine.ask
            messages = role.messages(query)
            bodies.append({"messages": messages, "seed": derive_seed(seed, role.name, 0) & 0x7FFFFFFF})
            verdict = role.check(query, simulate_reply(messages))
            return RoleResult(verdict.value, "m", 1) if verdict.ok else RoleResult(None, None, 1, verdict.reason)

    async def main() -> None:
        roles, params = Roles.default(), CollectParams(limit_one_block_prob=1.0)
        for _, rec in read_records(args.input):
            await collect_record(Recorder(), roles, "commit", rec, record_id(rec), seed=42, params=params)
            if len(bodies) >= args.n:
                break

    asyncio.run(main())
    with open(args.output, "w") as fh:
        for b in bodies[: args.n]:
            fh.write(json.dumps(b) + "\n")
    print(json.dumps({"bodies": min(len(bodies), args.n)}))


def child_bare(args: argparse.Namespace) -> None:
    """The bare loop: ``args.n`` requests through the openai client, ``args.concurrency`` in flight."""
    import openai
    import orjson

    from proginstruct.llm.gc_tuning import throughput_gc

    bodies = [json.loads(line) for line in open(args.bodies)]

    async def main() -> dict:
        http = openai.DefaultAioHttpClient() if args.transport == "aiohttp" else None
        client = openai.AsyncOpenAI(base_url=args.base, api_key="sim", max_retries=0, http_client=http,
                                    timeout=600.0)
        counter = iter(range(args.n))
        sampling = {"temperature": 0.2, "top_p": 0.95, "max_tokens": 3072, "frequency_penalty": 0.0,
                    "presence_penalty": 0.0}
        done = in_flight = most = 0

        async def worker() -> None:
            nonlocal done, in_flight, most
            for i in counter:
                in_flight += 1
                most = max(most, in_flight)
                b = bodies[i % len(bodies)]
                if args.mode == "raw":
                    raw = await client.post("/chat/completions", cast_to=bytes, content=orjson.dumps(
                        {"model": "proginstruct-simulator", "messages": b["messages"], "seed": b["seed"], **sampling}),
                        options={"headers": {"Content-Type": "application/json"}})
                    in_flight -= 1
                    if orjson.loads(raw)["choices"][0]["message"]["content"]:
                        done += 1
                    continue
                resp = await client.chat.completions.create(model="proginstruct-simulator",
                                                            messages=b["messages"], seed=b["seed"], **sampling)
                in_flight -= 1
                if resp.choices[0].message.content:
                    done += 1

        t0, c0 = time.perf_counter(), time.process_time()
        # "tuned": the pipeline's garbage-collector settings; "default": Python's
        with throughput_gc() if args.gc == "tuned" else contextlib.nullcontext():
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        await client.close()
        return {"wall_s": wall, "cpu_s": cpu, "replies": done, "max_in_flight": most}

    print(json.dumps(asyncio.run(main())))


def child_pipeline(args: argparse.Namespace) -> None:
    """The pipeline: ``run_collection`` of the commit records (the collect@commit stage's function)."""
    from proginstruct.cli.common import LLM_DEFAULTS
    from proginstruct.collection.collect import run_collection
    from proginstruct.collection.sample import CollectParams

    llm = {**LLM_DEFAULTS, "model_map": args.model_map, "cache_path": args.cache, "num_proc": args.concurrency,
           "http_transport": args.transport}
    import resource

    def children_cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    t0, c0, k0 = time.perf_counter(), time.process_time(), children_cpu()
    stats = run_collection("commit", args.input, args.output, params=CollectParams(limit_one_block_prob=1.0),
                           llm_params=llm, seed=42, workers=args.workers)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0 + children_cpu() - k0
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "samples": stats["samples"],
                      "requests_sent": stats["requests.sent"], "inputs": stats["inputs"],
                      "max_in_flight": stats["session.max_in_flight"]}))


# ------------------------------------------------------------------------------------------ parent
def _pin(cpus: set[int] | None):  # noqa: ANN202 - a Popen preexec_fn or None
    """A ``preexec_fn`` that restricts the child (and the processes it starts) to ``cpus``. (A preexec_fn
    is unsafe while other threads run; the bench starts its children while only its main thread does: the
    memory sampler of a child is joined before the next one starts.)"""
    return None if not cpus else (lambda: os.sched_setaffinity(0, cpus))


def _server(latency: float, cpus: set[int] | None = None) -> tuple[subprocess.Popen, str]:
    code = ("import sys; from proginstruct.simulator.server import serve; import asyncio; "
            "asyncio.run(serve('127.0.0.1', 0, on_start=lambda u: print(u, flush=True), latency=float(sys.argv[1])))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(latency)], stdout=subprocess.PIPE, text=True,
                            preexec_fn=_pin(cpus))
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"simulator did not start (got {url!r})")
    return proc, url


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def _post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST", data=b""), timeout=30).read()


def _tree_memory_kb(root: int) -> tuple[int, int, int]:
    """(summed RSS, summed PSS, processes) of ``root`` and its descendants in kB (psutil reads
    ``/proc/<pid>/smaps_rollup``); processes that end while being read are skipped."""
    try:
        procs = [psutil.Process(root)]
        procs += procs[0].children(recursive=True)
    except psutil.NoSuchProcess:
        return 0, 0, 0
    rss = pss = n = 0
    for p in procs:
        try:
            m = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss, pss, n = rss + m.rss // 1024, pss + m.pss // 1024, n + 1
    return rss, pss, n


class _TreeMemory(threading.Thread):
    """Samples the memory of a process tree every 0.2 s: peak sums of RSS and of PSS (shared pages, such as
    the modules a forked worker shares with its parent, split between the processes) and most processes."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.peak_rss, self.peak_pss, self.most = root, 0, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            rss, pss, n = _tree_memory_kb(self.root)
            self.peak_rss, self.peak_pss, self.most = max(self.peak_rss, rss), max(self.peak_pss, pss), max(self.most, n)


def _run_child(argv: list[str], cpus: set[int] | None = None, code: Path | None = None) -> tuple[dict, float]:
    """Run ``bench/scale.py <argv>`` in a child (on ``cpus``, default any; importing ``proginstruct`` from
    checkout ``code`` when given); returns its JSON line (plus ``load`` and the tree memory figures) and
    the largest process's peak RSS in MB (``ru_maxrss`` from ``os.wait4``)."""
    load = round(os.getloadavg()[0], 2)
    env = {**os.environ, "PYTHONPATH": str(code)} if code else None
    proc = subprocess.Popen([sys.executable, __file__, *argv], stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.DEVNULL, preexec_fn=_pin(cpus), env=env)
    mon = _TreeMemory(proc.pid)
    mon.start()
    out = proc.stdout.read()
    mon.stop.set()
    mon.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child {argv[0]} failed with status {proc.returncode}")
    return {**json.loads(out.strip().splitlines()[-1]), "load": load, "tree_rss_mb": round(mon.peak_rss / 1024, 1),
            "tree_pss_mb": round(mon.peak_pss / 1024, 1), "processes": mon.most}, usage.ru_maxrss / 1024


def _figures(res: dict, rss: float, server: dict) -> dict:
    req = server["requests"]
    out = {"wall_s": round(res["wall_s"], 3), "requests": req,
           "requests_per_s": round(req / res["wall_s"], 1), "max_in_flight": res["max_in_flight"],
           "cpu_ms_per_request": round(1000 * res["cpu_s"] / req, 3), "peak_rss_mb": round(rss, 1)}
    out["peak_tree_rss_mb"] = res.get("tree_rss_mb")  # summed over the processes (sampled every 0.2 s)
    out["peak_tree_pss_mb"] = res.get("tree_pss_mb")
    out["processes"] = res.get("processes")
    out["load"] = res.get("load")
    if "samples" in res:
        out["samples"] = res["samples"]
        out["samples_per_s"] = round(res["samples"] / res["wall_s"], 1)
    return out


def _compare(pipeline: dict, bare: dict, applies: bool) -> tuple[dict, dict]:
    """``(ratios, targets)`` of a pipeline run against a reference loop; ``targets`` is empty unless a
    target ``applies`` to the row (:data:`TARGET_LATENCY`, one worker, against the bare loop)."""
    rate = pipeline["requests_per_s"] / bare["requests_per_s"]
    cpu = pipeline["cpu_ms_per_request"] / bare["cpu_ms_per_request"]
    targets = {"rate_at_least_85pct": rate >= RATE_TARGET, "cpu_at_most_1_5x": cpu <= CPU_TARGET} if applies else {}
    return {"requests_per_s": round(rate, 3), "cpu_per_request": round(cpu, 3)}, targets


def _median_figures(reps: list[dict]) -> dict:
    """One figure set from repeated runs: the median of each rate and CPU figure (the middle run of an odd
    count), the largest memory and in-flight figures; the runs themselves under ``"runs"``."""
    if len(reps) == 1:
        return dict(reps[0])
    out = dict(reps[0])
    for k in ("wall_s", "requests_per_s", "cpu_ms_per_request", "samples_per_s", "load"):
        if k in out and out[k] is not None:
            out[k] = round(statistics.median(r[k] for r in reps), 3)
    for k in ("peak_rss_mb", "peak_tree_rss_mb", "peak_tree_pss_mb", "max_in_flight", "processes"):
        if out.get(k) is not None:
            out[k] = max(r[k] for r in reps)
    out["runs"] = reps
    return out


def bench_one(work: Path, size: int, latency: float, concurrency: int, transport: str, create_cap: int,
              workers: list[int], repeats: int = 1, server_cpus: set[int] | None = None,
              client_cpus: set[int] | None = None) -> dict:
    """One size and latency: ``repeats`` rounds of (bare loop, then the pipeline once per ``workers``
    setting), each figure the median of its rounds; then the GC-tuned and create reference loops once.
    ``server_cpus`` / ``client_cpus``: CPUs the simulator / the measured loops are restricted to
    (``None``: any), so that on a larger machine the simulator need not share the client's cores.

    Alternating the bare loop and the pipeline within a round, and taking medians, keeps the slow drifts
    of a shared VM (10-30 % between runs minutes apart) out of the ratios. Every pipeline run starts from
    an empty reply cache and must give the same output bytes (all rounds, all worker settings)."""
    records = work / f"commit_{size}.jsonl"
    if not records.exists():
        write_records(records, size)
    bodies = work / "bodies.jsonl"
    if not bodies.exists():
        _run_child(["_bodies", "--input", str(records), "--output", str(bodies), "--n", str(BODY_POOL)])
    proc, url = _server(latency, server_cpus)
    root = url[: -len("/v1")]
    pipe_reps: dict[str, list[dict]] = {f"workers={w}": [] for w in workers}
    bare_reps: list[dict] = []
    outs: set[bytes] = set()
    n = 0
    try:
        mm = work / "model_map.json"
        mm.write_text(json.dumps({"proginstruct-simulator": {"base": url, "api": "sim"}}))

        def bare_run(extra: list[str], mode: str = "raw", requests: int = 0) -> dict:
            """One reference loop of ``requests`` requests (default: as many as the pipeline sent)."""
            _post(root + "/stats/reset")
            res, rss = _run_child(["_bare", "--base", url, "--bodies", str(bodies), "--n", str(requests or n),
                                   "--concurrency", str(concurrency), "--transport", transport, "--mode", mode,
                                   *extra], client_cpus)
            return _figures(res, rss, _get(root + "/stats"))

        for rnd in range(repeats):
            if n:  # the bare loop sends as many requests as the pipeline did (known after the first run)
                bare_reps.append(bare_run([]))
            for w in workers:
                cache = work / f"cache_{size}_{latency}_{w}.sqlite"
                out = work / f"out_{size}_{latency}_{w}.jsonl"
                for p in (cache, out, Path(f"{cache}-wal"), Path(f"{cache}-shm")):
                    p.unlink(missing_ok=True)
                _post(root + "/stats/reset")
                pres, prss = _run_child(["_pipeline", "--input", str(records), "--output", str(out), "--model_map",
                                         str(mm), "--cache", str(cache), "--concurrency", str(concurrency),
                                         "--transport", transport, "--workers", str(w)], client_cpus)
                pipe_reps[f"workers={w}"].append(_figures(pres, prss, _get(root + "/stats")))
                outs.add(out.read_bytes())
                n = n or pipe_reps[f"workers={w}"][0]["requests"]
            if rnd == 0:
                bare_reps.append(bare_run([]))  # round 1: pipeline first (n unknown before), then the bare loop
        if len(outs) != 1:
            raise SystemExit("the pipeline's output differs between rounds or worker settings")
        bare = _median_figures(bare_reps)
        bare_gc = bare_run(["--gc", "tuned"])
        create = bare_run([], "create", min(n, create_cap) if create_cap else n)
    finally:
        proc.kill()
        proc.wait()
    pipelines = {key: _median_figures(reps) for key, reps in pipe_reps.items()}
    run = {"records": size, "latency_s": latency, "concurrency": concurrency, "transport": transport,
           "rounds": repeats, "pipeline": pipelines, "bare_loop": bare, "bare_loop_gc_tuned": bare_gc,
           "bare_create": create}
    run["targets"] = {}
    for name, ref in (("", bare), ("_vs_gc_tuned", bare_gc), ("_vs_create", create)):
        run["ratio" + name] = {}
        for key, pipe in pipelines.items():
            applies = not name and latency == TARGET_LATENCY and key == "workers=1"
            run["ratio" + name][key], targets = _compare(pipe, ref, applies)
            if targets:
                run["targets"][key] = targets
    return run


def memory_row(work: Path, size: int, latency: float, concurrency: int, code: Path | None = None,
               client_cpus: set[int] | None = None) -> dict:
    """One memory row: the collection of ``size`` real-shaped commit records (:func:`write_real_records`)
    at default settings (``concurrency`` requests in flight, the default windows, one worker, a fresh
    reply cache) against the simulator at ``latency`` seconds, from checkout ``code`` (default: this
    one). Figures: wall time, requests, peak summed PSS and RSS of the process tree (sampled every 0.2 s)
    and ``ru_maxrss``, and the output's SHA-256 (equal across code versions and sizes' prefixes)."""
    import hashlib

    records = work / f"real_{size}.jsonl"
    if not records.exists():
        write_real_records(records, size)
    proc, url = _server(latency)
    root = url[: -len("/v1")]
    try:
        mm = work / "model_map_memory.json"
        mm.write_text(json.dumps({"proginstruct-simulator": {"base": url, "api": "sim"}}))
        cache, out = work / f"cache_real_{size}.sqlite", work / f"out_real_{size}.jsonl"
        for p in (cache, out, Path(f"{cache}-wal"), Path(f"{cache}-shm")):
            p.unlink(missing_ok=True)
        res, rss = _run_child(["_pipeline", "--input", str(records), "--output", str(out), "--model_map", str(mm),
                               "--cache", str(cache), "--concurrency", str(concurrency)], client_cpus, code)
        fig = _figures(res, rss, _get(root + "/stats"))
    finally:
        proc.kill()
        proc.wait()
    input_mb = records.stat().st_size / 1e6
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.unlink()
    return {"records": size, "input_mb": round(input_mb, 1), "latency_s": latency, "concurrency": concurrency,
            "code": str(code or REPO), "wall_s": fig["wall_s"], "requests": fig["requests"],
            "samples": fig.get("samples"), "peak_tree_pss_mb": fig["peak_tree_pss_mb"],
            "peak_tree_rss_mb": fig["peak_tree_rss_mb"], "peak_rss_mb": fig["peak_rss_mb"],
            "rss_at_most_200mb": fig["peak_rss_mb"] <= RSS_TARGET_MB, "output_sha256": digest, "load": fig["load"]}


def memory_rows(work: Path, args: argparse.Namespace) -> list[dict]:
    """The memory rows of ``--memory_sizes`` (printed as they finish)."""
    rows = []
    code = Path(args.code).resolve() if args.code else None
    for size in (int(x) for x in args.memory_sizes.split(",") if x.strip()):
        row = memory_row(work, size, args.memory_latency, args.concurrency, code,
                         _cpus(args.client_cpus, "--client_cpus"))
        print(f"memory: {size} real-shaped records ({row['input_mb']} MB), {row['latency_s']:g} s latency: "
              f"{row['wall_s']} s, peak RSS {row['peak_rss_mb']} MB (tree PSS {row['peak_tree_pss_mb']}, RSS "
              f"{row['peak_tree_rss_mb']})", flush=True)
        rows.append(row)
    return rows


def memory_main(args: argparse.Namespace) -> None:
    """``--memory``: the memory rows alone, stored in ``--memory_out`` under ``--label``."""
    with tempfile.TemporaryDirectory(prefix="proginstruct-memory-") as tmp:
        rows = memory_rows(Path(tmp), args)
    store_labelled(Path(args.memory_out), args.label,
                   {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "rows": rows})


def _cpus(spec: str, flag: str) -> set[int] | None:
    """``"0,1"`` -> ``{0, 1}``; ``""`` -> ``None`` (any CPU). Exits with a message for a malformed list or
    CPUs this process may not run on."""
    if not spec.strip():
        return None
    allowed = os.sched_getaffinity(0)
    try:
        cpus = {int(c) for c in spec.split(",")}
    except ValueError:
        cpus = set()
    if not cpus or not cpus <= allowed:
        raise SystemExit(f"{flag}: {spec!r} must be a comma-separated list of CPUs among {sorted(allowed)}")
    return cpus


def _mark(good: bool | None) -> str:
    return "" if good is None or good else " ✗"


def table(results: dict) -> str:
    """The markdown tables of a results dict: one row per size, latency and worker setting (✗ marks a
    missed target; rows without a target have none), then the memory rows."""
    head = ("| records | latency | workers | samples/s | req/s | bare req/s | rate vs bare | CPU ms/req "
            "| bare CPU ms/req | CPU vs bare | bare GC-tuned: req/s, CPU ms/req | create loop: req/s, CPU ms/req "
            "| most in flight | peak MB (PSS; RSS) |\n|" + "---|" * 14)
    rows = [head]
    for r in results.get("runs", []):
        b, g, c = r["bare_loop"], r["bare_loop_gc_tuned"], r["bare_create"]
        for key, p in r["pipeline"].items():
            ratio, ok = r["ratio"][key], r["targets"].get(key, {})
            rows.append(
                f"| {r['records']:,} | {r['latency_s']:g} s | {key.split('=')[1]} | {p['samples_per_s']:,.0f} "
                f"| {p['requests_per_s']:,.0f} | {b['requests_per_s']:,.0f} "
                f"| {100 * ratio['requests_per_s']:.0f} %{_mark(ok.get('rate_at_least_85pct'))} "
                f"| {p['cpu_ms_per_request']:.2f} | {b['cpu_ms_per_request']:.2f} "
                f"| {ratio['cpu_per_request']:.3f}x{_mark(ok.get('cpu_at_most_1_5x'))} "
                f"| {g['requests_per_s']:,.0f}, {g['cpu_ms_per_request']:.2f} "
                f"| {c['requests_per_s']:,.0f}, {c['cpu_ms_per_request']:.2f} | {p['max_in_flight']} "
                f"| {p['peak_tree_pss_mb']:.0f}; {p['peak_tree_rss_mb']:.0f} |")
    memory = results.get("memory", {}).get("rows", [])
    if memory:
        rows += ["", memory_table(memory)]
    return "\n".join(rows)


def memory_table(rows: list[dict]) -> str:
    """Markdown table of memory rows (real-shaped commits; ✗ marks a peak RSS above the target)."""
    out = ["| records | input MB | latency | wall s | requests | samples | peak RSS MB | peak PSS MB (tree) |",
           "|---|---|---|---|---|---|---|---|"]
    for m in rows:
        out.append(f"| {m['records']:,} | {m['input_mb']:.0f} | {m['latency_s']:g} s | {m['wall_s']:.1f} "
                   f"| {m['requests']:,} | {m['samples']:,} | {m['peak_rss_mb']:.0f}{_mark(m['rss_at_most_200mb'])} "
                   f"| {m['peak_tree_pss_mb']:.0f} |")
    return "\n".join(out)


def memory_targets(rows: list[dict]) -> dict:
    """``rss_at_most_200mb`` (every row) and ``flat_for_10x`` (the largest size's peak RSS within
    :data:`FLAT_TARGET` of the smallest size's, when the sizes differ by 10x or more)."""
    out = {"rss_at_most_200mb": all(m["rss_at_most_200mb"] for m in rows)}
    small, large = min(rows, key=lambda m: m["records"]), max(rows, key=lambda m: m["records"])
    if large["records"] >= 10 * small["records"]:
        out["flat_for_10x"] = large["peak_rss_mb"] <= FLAT_TARGET * small["peak_rss_mb"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    b = sub.add_parser("_bodies")
    b.add_argument("--input")
    b.add_argument("--output")
    b.add_argument("--n", type=int)
    c = sub.add_parser("_bare")
    c.add_argument("--base")
    c.add_argument("--bodies")
    c.add_argument("--n", type=int)
    c.add_argument("--concurrency", type=int)
    c.add_argument("--transport", default="aiohttp")
    c.add_argument("--mode", default="create", choices=["create", "raw"])
    c.add_argument("--gc", default="default", choices=["default", "tuned"])
    p = sub.add_parser("_pipeline")
    for name in ("--input", "--output", "--model_map", "--cache"):
        p.add_argument(name)
    p.add_argument("--concurrency", type=int)
    p.add_argument("--transport", default="aiohttp")
    p.add_argument("--workers", type=int, default=1)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--latencies", default="0,1")
    ap.add_argument("--concurrency", type=int, default=512)
    ap.add_argument("--transport", default="aiohttp", choices=["aiohttp", "httpx"])
    ap.add_argument("--create_cap", type=int, default=10000, help="most requests of the create loop (0 = same)")
    ap.add_argument("--workers", default="1,2", help="collect.workers settings of the pipeline, comma-separated")
    ap.add_argument("--repeats", type=int, default=3,
                    help="rounds of (bare loop, pipeline) per size and latency; figures are medians")
    ap.add_argument("--repeat_up_to", type=int, default=10000,
                    help="larger sizes run one round (a 100,000-record row takes about 15 minutes instant, 20 at 1 s latency)")
    ap.add_argument("--server_cpus", default="", help="CPUs for the simulator, e.g. 2,3 (default: any)")
    ap.add_argument("--client_cpus", default="", help="CPUs for the pipeline and the loops, e.g. 0,1 (default: any)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--table", action="store_true", help="print the docs/benchmarks.md tables of --out and exit")
    ap.add_argument("--memory", action="store_true",
                    help="run only the memory rows (real-shaped commits) into --memory_out under --label")
    ap.add_argument("--memory_sizes", default="1000,10000", help="records of the memory rows ('' = none)")
    ap.add_argument("--memory_latency", type=float, default=0.2, help="simulator latency of the memory rows, s")
    ap.add_argument("--memory_out", default=str(MEMORY_RESULTS))
    ap.add_argument("--code", default="", help="checkout the pipeline runs from (memory rows; default: this one)")
    ap.add_argument("--label", default="after", help="name of the memory rows' run in --memory_out")
    args = ap.parse_args()
    if args.table:
        return print(table(json.loads(Path(args.out).read_text())))
    if args.memory:
        return memory_main(args)
    if args.cmd == "_bodies":
        return child_bodies(args)
    if args.cmd == "_bare":
        return child_bare(args)
    if args.cmd == "_pipeline":
        return child_pipeline(args)
    runs: list[dict] = []
    workers = [int(w) for w in args.workers.split(",")]
    server_cpus, client_cpus = _cpus(args.server_cpus, "--server_cpus"), _cpus(args.client_cpus, "--client_cpus")
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_before": os.getloadavg()[0], "server_cpus": sorted(server_cpus or ()),
                          "client_cpus": sorted(client_cpus or ())}, "runs": runs}

    def save() -> None:
        rate_rows = [t for x in runs for t in x["targets"].values()]
        met = {name: all(t[name] for t in rate_rows) for name in ("rate_at_least_85pct", "cpu_at_most_1_5x")
               if rate_rows}
        met.update(result.get("memory", {}).get("targets", {}))
        result["targets_met"] = met
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="proginstruct-scale-") as tmp:
        for size in (int(s) for s in args.sizes.split(",") if s.strip()):
            for latency in (float(x) for x in args.latencies.split(",")):
                t0 = time.monotonic()
                rounds = args.repeats if size <= args.repeat_up_to else 1
                r = bench_one(Path(tmp), size, latency, args.concurrency, args.transport, args.create_cap, workers,
                              rounds, server_cpus, client_cpus)
                runs.append(r)
                for key, p in r["pipeline"].items():
                    print(f"{size:>7} records, latency {latency:g} s, {key}: pipeline {p['requests_per_s']} req/s "
                          f"{p['cpu_ms_per_request']} ms CPU/req {p['peak_tree_pss_mb']} MB PSS; ratios "
                          f"{r['ratio'][key]} targets {r['targets'].get(key, '(none for this row)')}", flush=True)
                print(f"   bare {r['bare_loop']['requests_per_s']} req/s {r['bare_loop']['cpu_ms_per_request']} ms; "
                      f"bare GC-tuned {r['bare_loop_gc_tuned']['requests_per_s']} req/s "
                      f"{r['bare_loop_gc_tuned']['cpu_ms_per_request']} ms; create "
                      f"{r['bare_create']['requests_per_s']} req/s {r['bare_create']['cpu_ms_per_request']} ms "
                      f"({time.monotonic() - t0:.0f} s)", flush=True)
                save()
        if args.memory_sizes.strip():
            rows = memory_rows(Path(tmp), args)
            result["memory"] = {"rows": rows, "targets": memory_targets(rows)}
            save()
    print(f"targets met: {result.get('targets_met')}\n-> {args.out}")

if __name__ == "__main__":
    main()
