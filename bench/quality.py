"""Benchmark for the quality stage on a synthetic merged dataset of realistic size.

Run: ``.venv/bin/python bench/quality.py`` (default 200,000 samples). Writes ``bench/results/quality.json``;
docs/quality.md ("Speed") shows the table.

The samples (in a temporary folder, removed afterwards unless ``--keep``) follow the default dataset
(``make all``) per source, in the paper's source mix (88.0K commit, 70.9K AI programmer, 60.5K online
judge): current code of the size measured there (characters, median / 90th percentile: commit 9,760 /
20,721, AI programmer 566 / 1,078, online judge 306 / 424; log-normal draws, commit capped at 60,000),
no history for 60 % of the samples and 1-30 earlier versions otherwise, an instruction for half, a chat
for almost all. The code is this repository's Python (commit), the shipped snippets in 12 languages (AI
programmer) and the shipped CodeNet-layout sources (online judge), with the next version one to three
line edits away (SPEC 3 edit series). Some samples trip a gate on purpose: 1 % are near-copies of one
of the last 100 samples (one line changed), 1 % delete a closing bracket in next (breaks the syntax of
code that parsed), 0.2 % carry a HumanEval prompt (contaminated); the long tail of commit histories
trips ``too_long``.

The stage runs as a child process, as ``dvc.yaml`` runs it (JSONL and Parquet outputs, metrics), with
its default ``--workers`` (the usable CPUs). Peak memory: the child's ``ru_maxrss`` (largest single
process), and the largest sums of RSS and of PSS over the child and its workers, sampled every 0.2 s
(forked workers share their parent's pages, which RSS counts in each process and PSS once; the 1 GB target
is checked on PSS). ``--libraries``
also times MinHash signatures and LSH lookups of datasketch against rensa on the first 5,000 samples'
shingles (needs ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
from scratch import scratch_folder, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proginstruct.blocks import edit_series  # noqa: E402
from proginstruct.cli.quality import default_workers  # noqa: E402
from proginstruct.sources.languages import language_of  # noqa: E402

# source -> (paper samples, median and 90th percentile of current code in characters, in the default dataset)
SOURCES = {"commit": (88_000, 9_760, 20_721), "aiprogrammer": (70_900, 566, 1_078), "submit": (60_500, 306, 424)}
MAX_CURRENT = 60_000


def pools() -> dict[str, list[tuple[str, str]]]:
    """(lang, code) per source: repository Python, shipped snippets, shipped CodeNet sources."""
    py = [p.read_text("utf-8") for p in sorted(ROOT.glob("proginstruct/**/*.py")) + sorted(ROOT.glob("tests/*.py"))]
    snippets = json.loads((ROOT / "data/samples/snippets.json").read_text("utf-8"))
    codenet = [(language_of(str(p)), p.read_text("utf-8", errors="replace"))
               for p in sorted((ROOT / "data/samples/codenet/data").rglob("*.*"))]
    return {"commit": [("python", t) for t in py if t.strip()],
            "aiprogrammer": [(s["lang"], s["content"]) for s in snippets],
            "submit": [(lang, t) for lang, t in codenet if lang and t.strip()]}


WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]+\b")
# keywords (and a few literals) of the pools' languages, never renamed so the code keeps parsing
KEYWORDS = frozenset("""
and as assert async await break case catch char class const continue def default defer del do double elif
else end enum except export extends extern false final finally float fn for from func go goto if impl
implements import in instanceof int interface is lambda let local long loop match mod module mut new nil
none None not null or package pass private protected pub public raise ref return select self Self short
signed sizeof static struct super switch template then this throw throws True False true try type typedef
typename union unless unsigned use using var void volatile where while with yield until begin elsif
function typeof string bool boolean byte include define ifdef ifndef endif std cout cin endl namespace
auto inline virtual override operator friend delete trait crate where dyn chan range map interface
fallthrough SELECT FROM WHERE INSERT INTO VALUES UPDATE SET DELETE CREATE TABLE PRIMARY KEY NOT NULL
AND OR ORDER BY GROUP JOIN ON AS LIMIT echo fi esac done elif local readonly printf exit println main
""".split())


def sized(pool: list[tuple[str, str]], lang: str, target: int, rng: random.Random) -> str:
    """Code in ``lang``: whole files of ``pool`` concatenated, the last one cut at a top-level line after
    ``target`` characters; every name that is not a keyword gets a suffix drawn for this sample (so samples
    made from the same few files are not near-duplicates of each other, as real samples are not)."""
    texts = [t for lg, t in pool if lg == lang]
    names: dict[str, str] = {}

    def rename(m: re.Match) -> str:
        w = m.group(0)
        if w in KEYWORDS:
            return w
        if w not in names:
            names[w] = f"{w}_{rng.randrange(36**3):x}"
        return names[w]

    out: list[str] = []
    size = 0
    while size < target:
        lines = WORD.sub(rename, rng.choice(texts)).split("\n")
        for k, line in enumerate(lines):
            if size >= target and k and not lines[k - 1].strip() and line[:1].isalpha():
                break  # cut at a top-level line after a blank one: the code stays whole
            out.append(line)
            size += len(line) + 1
    return "\n".join(out)


def edited(text: str, n: int, rng: random.Random) -> str:
    """``text`` with ``n`` random line edits (deletions, duplicated lines, renamed words)."""
    lines = text.split("\n")
    for _ in range(n):
        i = rng.randrange(len(lines))
        op = rng.random()
        if op < 0.3 and len(lines) > 2:
            del lines[i]
        elif op < 0.55:
            lines.insert(i, lines[rng.randrange(len(lines))])
        else:
            lines[i] = lines[i].replace("self", "this").replace("return", "yield").replace("int", "long") + " "
    return "\n".join(lines)


def make_samples(n: int, seed: int) -> Iterator[dict]:
    """``n`` samples of the mix described in the module doc, streamed."""
    rng = random.Random(seed)
    code = pools()
    humaneval = [json.loads(line)["prompt"] for line in gzip.open(ROOT / "data/benchmarks/HumanEval.jsonl.gz")]
    names = list(SOURCES)
    weights = [SOURCES[s][0] for s in names]
    recent: list[dict] = []
    for k in range(n):
        if recent and rng.random() < 0.01:  # a near-copy of a recent sample
            base = rng.choice(recent)
            nxt = base["next"]["code"].split("\n")
            i = rng.randrange(len(nxt))
            nxt[i] = nxt[i] + "  # tweak"
            yield {**base, "next": {**base["next"], "code": "\n".join(nxt)}, "id": f"near{k}"}
            continue
        source = rng.choices(names, weights)[0]
        _, median, p90 = SOURCES[source]
        sigma = math.log(p90 / median) / 1.2816
        target = min(MAX_CURRENT, max(40, int(rng.lognormvariate(math.log(median), sigma))))
        lang = rng.choice(code[source])[0]
        final = sized(code[source], lang, target, rng)
        steps = 1 if rng.random() < 0.6 else min(30, 1 + int(rng.expovariate(1 / 2.5)))
        older = edited(final, steps + rng.randint(0, 2), rng)
        versions = edit_series(older, final, rng)
        c = rng.randrange(len(versions) - 1) if len(versions) > 1 else 0
        history = versions[max(0, c - steps + 1):c] if steps > 1 else []
        current = versions[c]
        nxt = versions[-1] if rng.random() < 0.5 else versions[min(c + 1, len(versions) - 1)]
        if rng.random() < 0.01 and ")" in current and current.rfind(")") >= 0:
            j = nxt.rfind(")")  # break the syntax of next
            nxt = nxt[:j] + nxt[j + 1:] if j >= 0 else nxt
        if rng.random() < 0.002:
            prompt = rng.choice(humaneval)
            current, nxt = current + "\n" + prompt, nxt + "\n" + prompt
        snap = lambda c, lang=lang: {"type": "code", "lang": lang, "code": c}  # noqa: E731
        sample = {"history": [snap(h) for h in history], "current": snap(current),
                  "user": "" if rng.random() < 0.5 else "Please handle the empty input and keep the API. " * rng.randint(1, 3),
                  "chat": "I changed the loop so it stops at the end of the input and added a check.",
                  "next": snap(nxt), "loc": None, "source": source, "id": str(k), "model": "bench", "seed": k}
        recent = [*recent[-99:], sample]
        yield sample


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """Summed (RSS, PSS) in MB of ``pid`` and its child processes, from /proc (PSS counts a page shared by
    a forked worker and its parent once)."""
    rss = pss = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            pids += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, pss / 1024


def run(cmd: list[str], cwd: Path, err: Path) -> dict:
    """Run ``cmd`` in ``cwd`` (stderr to ``err``) and measure wall time, the largest process's peak RSS
    and the largest summed RSS and PSS of the process and its children (sampled every 0.2 s)."""
    peak = [0.0, 0.0]
    t0 = time.perf_counter()
    with err.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=fh)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                rss, pss = tree_memory_mb(proc.pid)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        t.join()
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[1]} failed:\n{err.read_text()[-2000:]}")
    # wait4's usage covers the child and the workers it reaped: the CPU the stage used, whatever the load
    cpu = usage.ru_utime + usage.ru_stime
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "peak_summed_rss_mb": round(peak[0], 1), "peak_summed_pss_mb": round(peak[1], 1),
            "summary": err.read_text().strip().splitlines()[-1]}


def libraries(path: Path, n: int = 5000) -> dict:
    """Seconds for MinHash signatures (128 permutations) and LSH query + insert of ``n`` samples'
    shingles with datasketch and with rensa (the stage's library)."""
    from datasketch import MinHash, MinHashLSH
    from rensa import RMinHash, RMinHashLSH

    from proginstruct.quality.neardup import lsh_bands, shingles

    docs = []
    with path.open("rb") as fh:
        for line in fh:
            s = orjson.loads(line)
            docs.append(shingles(s["current"]["code"], s["next"]["code"], 5))
            if len(docs) >= n:
                break
    out = {}
    t0 = time.perf_counter()
    sigs = []
    for d in docs:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([x.encode() for x in d])
        sigs.append(m)
    t1 = time.perf_counter()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for i, m in enumerate(sigs):
        lsh.query(m)
        lsh.insert(i, m)
    t2 = time.perf_counter()
    out["datasketch"] = {"signature_s": round(t1 - t0, 2), "lsh_s": round(t2 - t1, 2)}
    t0 = time.perf_counter()
    rs = []
    for d in docs:
        m = RMinHash(128, 1)
        m.update(d)
        rs.append(m)
    t1 = time.perf_counter()
    rl = RMinHashLSH(0.8, 128, lsh_bands(0.8, 128))
    for i, m in enumerate(rs):
        rl.query(m)
        rl.insert(i, m)
    t2 = time.perf_counter()
    out["rensa"] = {"signature_s": round(t1 - t0, 2), "lsh_s": round(t2 - t1, 2)}
    out["samples"] = len(docs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None, help="the stage's --workers (default: its own)")
    ap.add_argument("--libraries", action="store_true", help="also time datasketch against rensa")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--results", default=str(ROOT / "bench" / "results" / "quality.json"),
                    help="where to write the figures (JSON)")
    args = ap.parse_args()
    with scratch_folder("bench_quality_", args.keep) as work:
        t0 = time.perf_counter()
        merged = work / "merged.jsonl"
        with merged.open("wb") as fh:
            for sample in make_samples(args.samples, args.seed):
                fh.write(orjson.dumps(sample, option=orjson.OPT_SORT_KEYS) + b"\n")
        gen = round(time.perf_counter() - t0, 1)
        load_before = os.getloadavg()
        cmd = [sys.executable, str(ROOT / "stages/quality_filter.py"), "--input_path", str(merged),
               "--output_path", str(work / "final.jsonl"), "--also_write", str(work / "final.parquet"),
               "--metrics_path", str(work / "quality.json"), "--params", str(ROOT / "params.yaml")]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        result = run(cmd, ROOT, work / "stderr.txt")
        load_after = os.getloadavg()
        metrics = json.loads((work / "quality.json").read_text())
        out = {
            "samples": args.samples, "generate_seconds": gen, "stage": result,
            "samples_per_second": round(args.samples / result["seconds"]),
            "cpu_ms_per_sample": round(1000 * result["cpu_seconds"] / args.samples, 3),
            "targets": {"samples_per_second_at_least_1000": args.samples / result["seconds"] >= 1000,
                        "peak_memory_at_most_1gb": result["peak_summed_pss_mb"] <= 1024},
            "input_bytes": merged.stat().st_size,
            "bytes_per_sample": round(merged.stat().st_size / args.samples),
            "kept": metrics["kept"], "removed": metrics["removed"],
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "workers": args.workers or default_workers(),  # the stage's default
            "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in load_after],
        }
        if args.libraries:
            out["minhash_libraries"] = libraries(merged)
        write_results(args.results, out)


if __name__ == "__main__":
    main()
