"""The ``aiprogrammer`` stage (SPEC 1 "programmer output", SPEC 5 programmer role): snippets -> histories.

For each snippet a persona is drawn from ``derive_rng(seed, "aiprogrammer", snippet id)`` (uniform over
novice, ordinary, expert); the programmer role of that persona is asked through the engine (re-asked up
to ``max_try`` times); an accepted history becomes one output record::

    {"content": str, "output": [str, ...], "persona": str, "model": str, "id": str, "lang": str,
     "source": "aiprogrammer", "path": str}        # "path" only for directory inputs

``output`` is oldest first and its last version is exactly ``content``. ``lang`` is the snippet's language,
else the info string of the last fenced block of the accepted reply, normalised
(:func:`~proginstruct.sources.languages.normalize_language`), else ``""`` (SPEC 4). A snippet whose role fails is
dropped and counted under ``dropped.<reason>``.

Metrics (``metrics_path``): ``snippets.in`` / ``snippets.read``, ``histories.out``, ``skipped.<reason>``
(reader), ``dropped.<reason>``, the engine's counters (``rejected.programmer.<rule>``, ``requests.*`` ...)
and per persona ``persona.<p>.{snippets, histories, dropped, attempts, versions, rejected.<rule>}`` with
``attempts_per_history`` and ``mean_versions`` (floats) added.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..llm.engine import Engine
from ..llm.rounds import run_records
from ..ranges import check_params
from ..records import CheckpointedWriter, atomic_write_json, dumps, file_sha256
from ..roles.programmer import PERSONAS, ProgrammerRole, SnippetQuery
from ..seeding import derive_rng, derive_seed
from ..stats import Stats
from .languages import normalize_language
from .snippets import Snippet, read_snippets

SOURCE = "aiprogrammer"

# params.yaml section "aiprogrammer" (snippet reading; see proginstruct.sources.snippets)
AIPROGRAMMER_DEFAULTS: dict[str, Any] = {
    "split": "file",            # directory inputs: "file" (whole files) or "definitions" (top-level units)
    "min_lines": 10,            # directory inputs: shortest snippet kept, in lines
    "max_lines": 120,           # directory inputs: longest snippet kept, in lines
    "text_column": "content",   # field / column holding the code in .json objects, .jsonl, .parquet
    "on_bad_record": "skip",    # skip | fail
}

# llm params that do not change any reply (left out of the checkpoint fingerprint)
_NOT_IN_FINGERPRINT = ("num_proc", "window", "window_bytes", "cache_path", "max_retries", "request_timeout",
                       "http_transport", "mode", "batch_poll")


def choose_persona(seed: int, snippet_id: str) -> str:
    """The persona for a snippet: uniform over :data:`~proginstruct.roles.programmer.PERSONAS`, drawn from
    ``derive_rng(seed, "aiprogrammer", snippet_id)``."""
    return derive_rng(seed, SOURCE, snippet_id).choice(PERSONAS)


async def program_snippet(engine: Engine, snippet: Snippet, *, seed: int,
                          roles: Mapping[str, Any] | None = None) -> tuple[list[dict], dict[str, int]]:
    """Ask for one snippet's history: ``([record], counters)`` when accepted, ``([], counters)`` when the
    role failed. ``roles`` maps persona -> role object (default :class:`ProgrammerRole` per persona)."""
    persona = choose_persona(seed, snippet.id)
    role = roles[persona] if roles else ProgrammerRole(persona)
    st = Stats()
    st.add("snippets.in")
    st.add(f"persona.{persona}.snippets")
    result = await engine.ask(role, SnippetQuery(snippet.content, snippet.lang),
                              derive_seed(seed, SOURCE, snippet.id), stats=st)
    for key, n in list(st.items()):
        if key.startswith("rejected."):
            st.add(f"persona.{persona}.rejected.{key.split('.', 2)[-1]}", n)
    if not result.ok:
        st.add(f"dropped.{result.reason or 'unknown'}")
        st.add(f"persona.{persona}.dropped")
        return [], dict(st)
    versions = list(result.value)
    st.add("histories.out")
    st.add(f"persona.{persona}.histories")
    st.add(f"persona.{persona}.attempts", result.attempts)
    st.add(f"persona.{persona}.versions", len(versions))
    lang = snippet.lang or normalize_language(getattr(result.value, "info", ""))  # SPEC 4
    record = {"content": snippet.content, "output": versions, "persona": persona, "model": result.model,
              "id": snippet.id, "lang": lang, "source": SOURCE}
    if snippet.path:
        record["path"] = snippet.path
    return [record], dict(st)


def read_input(input_path: str, params: Mapping[str, Any], stats: Stats | None = None) -> list[Snippet]:
    """The snippets of ``input_path`` (:func:`~proginstruct.sources.snippets.read_snippets`, input order)
    read with the ``aiprogrammer`` params ``params`` (keys of :data:`AIPROGRAMMER_DEFAULTS`, missing ones
    defaulted); counters go to ``stats``. Raises :class:`UserError` as ``read_snippets`` does."""
    p = {**AIPROGRAMMER_DEFAULTS, **params}
    return list(read_snippets(input_path, text_column=str(p["text_column"]), split=str(p["split"]),
                              min_lines=int(p["min_lines"]), max_lines=int(p["max_lines"]),
                              on_bad_record=str(p["on_bad_record"]), stats=stats))


def summarize(stats: Stats) -> dict:
    """``stats.nested()`` plus per persona ``attempts_per_history`` and ``mean_versions`` (rounded floats;
    absent when the persona has no history)."""
    tree = stats.nested()
    for persona, node in tree.get("persona", {}).items():
        n = stats[f"persona.{persona}.histories"]
        if n:
            node["attempts_per_history"] = round(stats[f"persona.{persona}.attempts"] / n, 4)
            node["mean_versions"] = round(stats[f"persona.{persona}.versions"] / n, 4)
    return tree


def run_aiprogrammer(input_path: str, output_path: str, params: Mapping[str, Any],
                     llm_params: Mapping[str, Any], seed: int, metrics_path: str | None = None, *,
                     roles: Mapping[str, Any] | None = None) -> dict:
    """Write the histories of every snippet of ``input_path`` to ``output_path`` and return the metrics.

    ``params``: the keys of :data:`AIPROGRAMMER_DEFAULTS`; ``llm_params``: the keys of
    ``proginstruct.cli.common.LLM_DEFAULTS``. ``output_path`` ``.jsonl`` is streamed, ``.json`` becomes a
    JSON list; it appears only when complete, and an interrupted run with the same inputs, params and
    model map resumes; ``llm.mode: batch`` runs in rounds of batch jobs with the same output
    (:mod:`~proginstruct.llm.rounds`). Metrics are written atomically to ``metrics_path`` when given.
    Raises :class:`UserError` for unreadable or empty inputs, bad params, a malformed record under
    ``on_bad_record: fail``, or a model-map / server problem.
    """
    p = check_params({**AIPROGRAMMER_DEFAULTS, **params}, "aiprogrammer")
    reader_stats = Stats()
    snippets = read_input(input_path, p, reader_stats)
    if not snippets:
        raise UserError(f"{input_path}: no snippets to work on ({dict(reader_stats) or 'empty input'}); "
                        "check the input or aiprogrammer.min_lines / max_lines / text_column")
    fingerprint = _fingerprint(snippets, p, llm_params, seed)
    role_map = dict(roles) if roles else {persona: ProgrammerRole(persona) for persona in PERSONAS}

    stats = Stats()

    async def main() -> None:
        engine = Engine.from_params(dict(llm_params))
        window = int(llm_params.get("window") or 0) or 4 * int(llm_params["num_proc"])

        async def one(index: int, snippet: Snippet) -> tuple[list[dict], dict[str, int]]:
            return await program_snippet(engine, snippet, seed=seed, roles=role_map)

        try:
            await run_records(lambda: enumerate(snippets), one, CheckpointedWriter(output_path, fingerprint),
                              engine, window=window, total=len(snippets), desc="aiprogrammer",
                              window_bytes=int(llm_params.get("window_bytes") or 0), stats=stats)
            stats.merge([engine.batch.stats] if engine.batch is not None else [])
        finally:
            await engine.aclose()

    try:
        asyncio.run(main())
    except (UserError, KeyboardInterrupt) as e:  # a stop: the counters of the records written, incomplete
        if metrics_path:
            stats.update(reader_stats)
            atomic_write_json(metrics_path, {**summarize(stats), "complete": False, "error": str(e) or "interrupted"})
        raise
    stats.update(reader_stats)
    metrics = {**summarize(stats), "complete": True}
    if metrics_path:
        atomic_write_json(metrics_path, metrics)
    return metrics


def _fingerprint(snippets: list[Snippet], params: Mapping[str, Any], llm_params: Mapping[str, Any],
                 seed: int) -> str:
    """Identity of a run's output: snippets, params, seed, model map and reply-changing llm params."""
    h = hashlib.sha256()
    for s in snippets:
        h.update(dumps([s.id, s.lang, s.path, s.content]))
    mm = Path(str(llm_params.get("model_map", "")))
    return hashlib.sha256(dumps({
        "snippets": h.hexdigest(), "params": dict(params), "seed": seed,
        "model_map": file_sha256(mm) if mm.is_file() else "",
        "llm": {k: v for k, v in llm_params.items() if k not in _NOT_IN_FINGERPRINT},
    })).hexdigest()
