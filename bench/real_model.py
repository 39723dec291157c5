"""Real-model benchmark (docs/benchmarks.md): the LLM stages against a real OpenAI-compatible server.

Run (the local llama.cpp server of ``../shared/tools/local-llm.sh``, after ``make all`` made
``data/prepared/``)::

    bash ../shared/tools/local-llm.sh serve 8100        # prints the server's PID; kill PID when done
    .venv/bin/python bench/real_model.py                 # writes bench/results/real_model.json
    .venv/bin/python bench/real_model.py --table         # the table of docs/benchmarks.md from it

``--base`` / ``--model`` / ``--api_key`` point it at any OpenAI-compatible server (vLLM, sglang, a
hosted API); ``--guided`` lists the runs (default ``none,llama.cpp``: without and with grammar-guided
decoding; use ``vllm`` or ``sglang`` for those servers).

Input, small on purpose (prompt evaluation runs at about 50-100 tokens/s on a 2-core CPU): the
``--commits`` (12) smallest records of ``data/prepared/commit.jsonl`` (the default commit input, this
repository's history), the ``--snippets`` (6) shortest snippets of ``data/samples/snippets.json`` through
the programmer role and then collected like the aiprogrammer source, and the shipped CodeNet histories
(``data/prepared/submit.jsonl``). Params and seed come from ``params.yaml``; ``--max_tokens`` caps the
judge, instruction and chat replies and ``--programmer_max_tokens`` the programmer's.

Each run uses a fresh reply cache in a temporary folder and sends every request through a recording
proxy on 127.0.0.1, which forwards it unchanged and notes, per request: the role (from the system
message's marker), whether it carried a grammar, the HTTP status, ``usage`` and, from llama.cpp, the
``timings`` (``cache_n`` tokens of the prompt reused from the server's prefix cache, ``prompt_n``
evaluated, ``prompt_ms``, ``predicted_ms``).

Figures per run and role: ``calls``, ``attempts``, ``rejected`` (by reason), ``failed``, ``requests``,
``prompt_tokens_per_sample`` / ``completion_tokens_per_sample`` (the role's tokens over the stage's
samples: collected samples, or accepted histories for the programmer), ``cached_prefix_share``
(``sum(cache_n) / sum(cache_n + prompt_n)``; from ``usage.prompt_tokens_details.cached_tokens`` where a
server sends no timings), ``server_s_per_sample`` (``prompt_ms + predicted_ms``, else the request's wall
time), ``reasked`` (``attempts - calls``). Overall: ``samples_per_record``, ``judge_true_share`` (decisions
of accepted judge replies), ``no_change_share`` (samples whose ``next`` equals ``current`` over samples),
``wall_s``. A guided run completes only if the server accepted every grammar (an HTTP 400 to a grammar
stops it with one line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proginstruct.cli.common import LLM_DEFAULTS  # noqa: E402
from proginstruct.collection.collect import Roles, run_collection  # noqa: E402
from proginstruct.collection.sample import CollectParams  # noqa: E402
from proginstruct.roles.chat import ChatRole  # noqa: E402
from proginstruct.roles.instruction import InstructionRole  # noqa: E402
from proginstruct.roles.judge import JudgeRole  # noqa: E402
from proginstruct.simulator.protocol import detect_role  # noqa: E402
from proginstruct.sources.aiprogrammer import AIPROGRAMMER_DEFAULTS, run_aiprogrammer  # noqa: E402

RESULTS = REPO / "bench" / "results" / "real_model.json"
GRAMMAR_FIELDS = ("grammar", "structured_outputs", "ebnf")
ROLE_ORDER = ("programmer", "judge", "instruction", "chat")


class RecordingProxy:
    """A loopback HTTP proxy to ``upstream`` (an OpenAI base URL) that notes every chat completion."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.log: list[dict[str, Any]] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> str:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()
        return self.url

    async def _start(self) -> str:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1800))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw)
        headers = {"content-type": "application/json"}
        if "authorization" in request.headers:
            headers["authorization"] = request.headers["authorization"]
        start = time.perf_counter()
        async with self._session.post(self.upstream + "/chat/completions", data=raw, headers=headers) as r:
            data, status = await r.read(), r.status
        entry: dict[str, Any] = {"role": detect_role(body.get("messages") or []), "status": status,
                                 "wall_s": time.perf_counter() - start,
                                 "guided": any(k in body for k in GRAMMAR_FIELDS)}
        if status == 200:
            reply = json.loads(data)
            usage = reply.get("usage") or {}
            timings = reply.get("timings") or {}
            choice = reply["choices"][0]
            entry.update(prompt_tokens=usage.get("prompt_tokens", 0),
                         completion_tokens=usage.get("completion_tokens", 0),
                         cached_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens"),
                         finish_reason=choice.get("finish_reason"), timings=timings)
        else:
            entry["error"] = data[:300].decode("utf-8", "replace")
        self.log.append(entry)
        return web.Response(body=data, status=status, content_type="application/json")

    def stop(self) -> None:
        async def close() -> None:
            await self._session.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


class CountingJudge(JudgeRole):
    """The judge role, counting the decisions of the replies it accepts (for the judge's True share)."""

    def __init__(self) -> None:
        super().__init__()
        self.decisions: Counter[bool] = Counter()

    def check(self, query: Any, reply: str) -> Any:
        verdict = super().check(query, reply)
        if verdict.ok:
            self.decisions.update(verdict.value)
        return verdict


def _inputs(tmp: Path, commits: int, snippets: int, submits: int) -> dict[str, Path]:
    prepared = REPO / "data" / "prepared"
    need = [prepared / "commit.jsonl", prepared / "submit.jsonl", REPO / "data" / "samples" / "snippets.json"]
    missing = [str(p) for p in need if not p.is_file()]
    if missing:
        sys.exit(f"error: {', '.join(missing)} not found; run `make all` first (it prepares the inputs)")
    rows = [json.loads(line) for line in (prepared / "commit.jsonl").open() if line.strip()]
    rows.sort(key=lambda r: (len(r["code1"]) + len(r["code2"]), r["id"]))
    commit = tmp / "commit.jsonl"
    commit.write_text("".join(json.dumps(r) + "\n" for r in rows[:commits]))
    snips = json.loads((REPO / "data" / "samples" / "snippets.json").read_text())
    snips = sorted(snips, key=lambda s: (len(s["content"]), s["content"]))[:snippets]
    snippet_file = tmp / "snippets.json"
    snippet_file.write_text(json.dumps(snips))
    submit = tmp / "submit.jsonl"
    lines = [line for line in (prepared / "submit.jsonl").open() if line.strip()]
    submit.write_text("".join(lines[:submits] if submits >= 0 else lines))
    return {"commit": commit, "submit": submit, "snippets": snippet_file}


def _stats_dict(metrics: Any) -> dict[str, int]:
    """Flat dotted counters from a Stats object (already flat: a dict of dotted names) or a nested metrics
    dict."""
    flat: dict[str, int] = {}

    def walk(prefix: str, d: dict) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            elif isinstance(v, int | float):
                flat[f"{prefix}{k}"] = v
    walk("", metrics)
    return flat


def run_once(args: argparse.Namespace, guided: str, inputs: dict[str, Path]) -> dict[str, Any]:
    """One run of the three sources with ``"guided": guided``; the figures of the module docstring."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    seed = int(params["seed"])
    proxy = RecordingProxy(args.base)
    url = proxy.start()
    tmp = Path(tempfile.mkdtemp(prefix=f"real-model-{guided}-"))
    mm = tmp / "model_map.json"
    mm.write_text(json.dumps({args.model: {"base": url, "api": args.api_key, "guided": guided}}))
    llm = {**LLM_DEFAULTS, "model_map": str(mm), "cache_path": str(tmp / "cache.sqlite"), "num_proc": 1,
           "max_tokens": args.max_tokens, "request_timeout": 1800.0}
    judge = CountingJudge()
    roles = Roles(judge, InstructionRole(), ChatRole())
    counters: Counter[str] = Counter()
    samples: dict[str, int] = {}
    records: dict[str, int] = {}
    start = time.perf_counter()
    try:
        histories = tmp / "aiprogrammer.jsonl"
        samples["programmer"] = 0
        if args.snippets > 0:
            metrics = run_aiprogrammer(str(inputs["snippets"]), str(histories), dict(AIPROGRAMMER_DEFAULTS),
                                       {**llm, "max_tokens": args.programmer_max_tokens}, seed)
            flat = _stats_dict(metrics)
            counters.update({k: v for k, v in flat.items() if k.startswith(("roles.", "rejected.", "errors."))})
            samples["programmer"] = sum(1 for line in histories.open() if line.strip())
        sources = [("commit", inputs["commit"]), ("submit", inputs["submit"]), ("aiprogrammer", histories)]
        for source, path in sources:
            if not path.is_file() or not path.read_text().strip():  # nothing to collect from (0 records)
                continue
            cp = {k: v for k, v in params["collect"][source].items() if k in CollectParams.__dataclass_fields__}
            st = run_collection(source, str(path), str(tmp / f"collect_{source}.jsonl"), params=CollectParams(**cp),
                                llm_params=llm, seed=seed, roles=roles)
            flat = _stats_dict(st)
            counters.update({k: v for k, v in flat.items()
                             if k.startswith(("roles.", "rejected.", "errors.", "draws.skipped.")) or
                             k in ("samples", "no_change_samples", "inputs", "chat_failed")})
            samples[source] = flat.get("samples", 0)
            records[source] = flat.get("inputs", 0)
    finally:
        proxy.stop()
    wall = time.perf_counter() - start
    return summarize(guided, proxy.log, counters, samples, records, judge.decisions, wall)


def summarize(guided: str, log: list[dict], counters: Counter, samples: dict[str, int], records: dict[str, int],
              decisions: Counter, wall: float) -> dict[str, Any]:
    """The figures of one run (module docstring) from the proxy's log and the stages' counters."""
    collected = sum(v for k, v in samples.items() if k != "programmer")
    per_role: dict[str, Any] = {}
    by_role: dict[str, list[dict]] = defaultdict(list)
    for e in log:
        by_role[e["role"]].append(e)
    for role in ROLE_ORDER:
        reqs = by_role.get(role, [])
        ok = [e for e in reqs if e["status"] == 200]
        denom = samples.get("programmer", 0) if role == "programmer" else collected
        cache_n = prompt_n = 0
        for e in ok:
            t = e.get("timings") or {}
            if "cache_n" in t:
                cache_n += t["cache_n"]
                prompt_n += t.get("prompt_n", 0)
            elif e.get("cached_tokens") is not None:
                cache_n += e["cached_tokens"]
                prompt_n += e["prompt_tokens"] - e["cached_tokens"]
        server_s = sum(((e.get("timings") or {}).get("prompt_ms", 0) + (e.get("timings") or {}).get("predicted_ms", 0))
                       / 1000 if e.get("timings") else e["wall_s"] for e in ok)
        calls = counters.get(f"roles.{role}.calls", 0)
        attempts = counters.get(f"roles.{role}.attempts", 0)
        per_role[role] = {
            "calls": calls, "attempts": attempts, "reasked": attempts - calls,
            "accepted": counters.get(f"roles.{role}.accepted", 0), "failed": counters.get(f"roles.{role}.failed", 0),
            "rejected": {k.split(".", 2)[2]: v for k, v in sorted(counters.items()) if k.startswith(f"rejected.{role}.")},
            "requests": len(reqs), "guided_requests": sum(e["guided"] for e in reqs),
            "http_errors": dict(Counter(str(e["status"]) for e in reqs if e["status"] != 200)),
            "finish_length": sum(e.get("finish_reason") == "length" for e in ok),
            "prompt_tokens_per_sample": _per(sum(e["prompt_tokens"] for e in ok), denom),
            "completion_tokens_per_sample": _per(sum(e["completion_tokens"] for e in ok), denom),
            "prompt_tokens_per_request": _per(sum(e["prompt_tokens"] for e in ok), len(ok)),
            "cached_prefix_share": _per(cache_n, cache_n + prompt_n, 3),
            "server_s_per_sample": _per(server_s, denom),
        }
    judged = decisions[True] + decisions[False]
    tot_cache = tot_prompt = 0
    for e in log:
        t = e.get("timings") or {}
        if e["status"] == 200 and "cache_n" in t:
            tot_cache += t["cache_n"]
            tot_prompt += t.get("prompt_n", 0)
    return {
        "guided": guided,
        "roles": per_role,
        "overall": {
            "records": records, "samples": samples, "samples_per_record": _per(collected, sum(records.values())),
            "judge_decisions": judged, "judge_true_share": _per(decisions[True], judged, 3),
            "no_change_samples": counters.get("no_change_samples", 0),
            "no_change_share": _per(counters.get("no_change_samples", 0), collected, 3),
            "skipped": {k.split(".", 2)[2]: v for k, v in sorted(counters.items()) if k.startswith("draws.skipped.")},
            "chat_failed": counters.get("chat_failed", 0),
            "requests": len(log), "cached_prefix_share": _per(tot_cache, tot_cache + tot_prompt, 3),
            "wall_s": round(wall, 1),
        },
    }


def _per(a: float, b: float, digits: int = 1) -> float | None:
    return round(a / b, digits) if b else None


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f} %"


def table(results: dict[str, Any]) -> str:
    """The markdown table of docs/benchmarks.md from a results file's content."""
    runs = results["runs"]
    out = [f"Model `{results['model']}` on {results['server']}; {results['input']}.", ""]
    head = "| run | role | calls | re-asked | rejected (reason: n) | failed | prompt tok/sample | completion tok/sample | cached prefix | server s/sample |"
    out += [head, "|" + "---|" * 10]
    for run in runs:
        for role in ROLE_ORDER:
            r = run["roles"][role]
            rej = ", ".join(f"{k}: {v}" for k, v in r["rejected"].items()) or "-"
            share = "-" if r["cached_prefix_share"] is None else f"{100 * r['cached_prefix_share']:.0f} %"
            per = [("-" if r[k] is None else f"{r[k]:g}") for k in
                   ("prompt_tokens_per_sample", "completion_tokens_per_sample", "server_s_per_sample")]
            out.append(f"| {run['guided']} | {role} | {r['calls']} | {r['reasked']} | {rej} | {r['failed']} | "
                       f"{per[0]} | {per[1]} | {share} | {per[2]} |")
    out += ["", "| run | samples / record | judge True share | no-change share | cached prefix (all) | wall |",
            "|---|---|---|---|---|---|"]
    for run in runs:
        o = run["overall"]
        out.append(f"| {run['guided']} | {o['samples_per_record']} | {_pct(o['judge_true_share'])} "
                   f"({o['judge_decisions']} decisions) | {_pct(o['no_change_share'])} | "
                   f"{_pct(o['cached_prefix_share'])} | {o['wall_s'] / 60:.1f} min |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="http://127.0.0.1:8100/v1", help="OpenAI-compatible base URL")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--api_key", default="EMPTY")
    ap.add_argument("--server", default="llama.cpp server (xllamacpp wheel), CPU, 2 cores, n_parallel 1",
                    help="what serves the model, for the results file and the table")
    ap.add_argument("--guided", default="none,llama.cpp", help="comma-separated runs: none, llama.cpp, vllm, sglang")
    ap.add_argument("--commits", type=int, default=12)
    ap.add_argument("--snippets", type=int, default=6)
    ap.add_argument("--submits", type=int, default=-1, help="CodeNet histories to use (-1 = all shipped)")
    ap.add_argument("--max_tokens", type=int, default=512)
    ap.add_argument("--programmer_max_tokens", type=int, default=1536)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--table", action="store_true", help="print the table from --out and exit")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(Path(args.out).read_text())))
        return
    tmp = Path(tempfile.mkdtemp(prefix="real-model-input-"))
    inputs = _inputs(tmp, args.commits, args.snippets, args.submits)
    n_submit = sum(1 for line in inputs["submit"].open() if line.strip())
    results = {
        "model": args.model, "server": args.server, "base": args.base,
        "input": (f"{args.commits} smallest commit records, {n_submit} CodeNet histories, "
                  f"{args.snippets} shortest snippets; max_tokens {args.max_tokens} "
                  f"(programmer {args.programmer_max_tokens})"),
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, python {platform.python_version()}",
        "runs": [],
    }
    for guided in [g.strip() for g in args.guided.split(",") if g.strip()]:
        print(f"run guided={guided} ...", file=sys.stderr)
        results["runs"].append(run_once(args, guided, inputs))
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
