"""The commit source (SPEC 1.1, the ``prepare_commit`` stage): git history and commit datasets -> commit records.

A commit record is ``{"id", "code1", "code2", "lang", "git", "commit", "path", "source": "commit"}``: the
file before and after one commit, its language and the commit subject (SPEC 1 table); plus ``license``
(an SPDX id) when known: the licence file at the root of the repository at ``rev``
(:mod:`.licenses`), or a dataset row's ``license`` column (CommitPackFT has one). Records come from
a local git repository (:mod:`.git_history`) and/or dataset files with CommitPackFT / EditPackFT columns
(:mod:`.commit_datasets`); one :class:`RecordGate` applies the same limits to both, in this order:
language allow-list, per-language cap, identical before/after, file size, binary, undecodable.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..progress import Bar
from ..ranges import check_params
from ..records import write_records
from ..stats import Stats
from . import git_history as gh
from .commit_datasets import BAD_RECORD_POLICIES, normalise_lang, read_changes
from .languages import language_of
from .licenses import tree_license

# SPEC 9 and params.yaml section "prepare_commit"
DEFAULTS: dict[str, Any] = {
    "repo": ".",              # local git repository to mine ("" = none, datasets only)
    "rev": "HEAD",            # revision to walk back from; pin a commit sha for reproducible data
    "max_commits": 0,         # commits walked from rev along first parents (0 = no limit)
    "max_file_size": 200_000,  # bytes (UTF-8), either side; larger files skipped (0 = no limit)
    "max_per_lang": 30_000,   # records per language (SPEC 9; 0 = no limit)
    "langs": "",              # comma-separated allow-list ("" = every known language)
    "input_paths": "",        # comma-separated CommitPackFT / EditPackFT files (.json, .jsonl, .parquet)
    "on_bad_record": "skip",  # malformed dataset row: skip (counted) or fail
}

OUTPUT_SUFFIXES = (".jsonl", ".json", ".parquet")


def split_list(value: Any, name: str) -> list[str]:
    """A list parameter given as a comma-separated string or a YAML list of strings -> stripped, non-empty items.

    Raises :class:`UserError` naming ``prepare_commit.<name>`` for any other shape.
    """
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise UserError(f"prepare_commit.{name} must be a comma-separated string or a list of strings, "
                        f"got {value!r}; fix params.yaml or --{name}")
    return [v.strip() for v in items if v.strip()]


def _count(params: Mapping[str, Any], name: str) -> int:
    return check_params({name: params.get(name, DEFAULTS[name])}, "prepare_commit")[name]


@dataclass(frozen=True)
class CommitLimits:
    """The SPEC 1.1 limits. Counts are ints >= 0 where 0 means no limit; ``max_file_size`` is in bytes
    (UTF-8 for dataset strings); ``langs`` holds normalised language names (empty = every known language)."""

    max_commits: int = 0
    max_file_size: int = 200_000
    max_per_lang: int = 30_000
    langs: frozenset[str] = frozenset()
    on_bad_record: str = "skip"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CommitLimits:
        """Build from a resolved ``prepare_commit`` params mapping (missing keys take :data:`DEFAULTS`).

        Raises :class:`UserError` for a negative or non-integer count or an unknown ``on_bad_record``.
        """
        policy = params.get("on_bad_record", DEFAULTS["on_bad_record"])
        if policy not in BAD_RECORD_POLICIES:
            raise UserError(f"prepare_commit.on_bad_record must be skip or fail, got {policy!r}; "
                            f"fix params.yaml or --on_bad_record")
        return cls(
            max_commits=_count(params, "max_commits"),
            max_file_size=_count(params, "max_file_size"),
            max_per_lang=_count(params, "max_per_lang"),
            langs=frozenset(normalise_lang(x) for x in split_list(params.get("langs", ""), "langs")),
            on_bad_record=policy,
        )


class RecordGate:
    """Applies :class:`CommitLimits` to candidate file changes of every source of one run, counting into
    ``stats``: ``skipped.<reason>`` for each rejection, ``records`` and ``records_by_lang.<lang>`` for each
    accepted record. Each ``check_*`` method returns ``True`` when the candidate may go on."""

    def __init__(self, limits: CommitLimits, stats: Stats):
        self.limits = limits
        self.stats = stats
        self._per_lang: dict[str, int] = {}

    def _skip(self, reason: str) -> bool:
        self.stats.add(f"skipped.{reason}")
        return False

    def check_lang(self, lang: str) -> bool:
        """Unknown language (``""``) or one outside the allow-list -> ``skipped.language``; a language that
        already has ``max_per_lang`` records -> ``skipped.lang_cap`` (checked before any content is read)."""
        if not lang or (self.limits.langs and lang not in self.limits.langs):
            return self._skip("language")
        if self.limits.max_per_lang and self._per_lang.get(lang, 0) >= self.limits.max_per_lang:
            return self._skip("lang_cap")
        return True

    def check_different(self, same: bool) -> bool:
        """``same`` (equal blob ids or equal strings, e.g. a mode-only change) -> ``skipped.identical``."""
        return self._skip("identical") if same else True

    def check_size(self, size1: int, size2: int) -> bool:
        """Either side larger than ``max_file_size`` bytes -> ``skipped.too_large``."""
        limit = self.limits.max_file_size
        return self._skip("too_large") if limit and max(size1, size2) > limit else True

    def check_decoded(self, reason: str) -> bool:
        """A non-empty decoding failure reason (``binary`` / ``undecodable``) -> ``skipped.<reason>``."""
        return self._skip(reason) if reason else True

    def accept(self, record: dict[str, Any]) -> dict[str, Any]:
        """Count ``record`` against its language's cap and return it."""
        lang = record["lang"]
        self._per_lang[lang] = self._per_lang.get(lang, 0) + 1
        self.stats.add("records")
        self.stats.add(f"records_by_lang.{lang}")
        return record

    @property
    def exhausted(self) -> bool:
        """True when an allow-list is given and every language in it has reached ``max_per_lang``:
        no further candidate can become a record."""
        cap = self.limits.max_per_lang
        return bool(cap and self.limits.langs) and all(self._per_lang.get(x, 0) >= cap for x in self.limits.langs)


def _record(rid: str, code1: str, code2: str, lang: str, git: str, commit: str | None, path: str | None,
            license: str | None = None) -> dict:
    rec = {"id": rid, "code1": code1, "code2": code2, "lang": lang, "git": git,
           "commit": commit, "path": path, "source": "commit"}
    if license:
        rec["license"] = license
    return rec


def mine_repository(repo_path: str, rev: str, gate: RecordGate, *, progress: bool = False) -> Iterator[dict]:
    """Yield commit records from the first-parent history of ``rev`` in the git repository ``repo_path``.

    Newest commit first, files in path order within a commit; merge commits (``commits.merge_skipped``)
    and the root commit (``commits.root_skipped``) give no records but the walk goes on along first parents.
    Record id is ``"<commit sha>:<new path>"``, ``lang`` comes from the new path's extension, ``license``
    from the repository's licence file at ``rev`` when it is recognised. Counts
    ``commits.walked`` (merges included, at most ``max_commits``). Stops early once :attr:`RecordGate.exhausted`.
    Raises :class:`UserError` (at the first ``next``) for a missing repository or an unknown revision.
    """
    stats = gate.stats
    repo = gh.open_repository(repo_path)
    start = gh.resolve_commit(repo, rev, repo_path)
    license = tree_license(repo, start.tree)  # the repository's licence at rev, for every record
    limit = gate.limits.max_commits
    with Bar(desc="commits", unit="commit", total=limit or None, file=sys.stderr, disable=not progress,
             dynamic_ncols=True) as bar:
        for commit in gh.walk_first_parent(repo, start, limit):
            if gate.exhausted:
                break
            stats.add("commits.walked")
            bar.update()
            parents = commit.parent_ids
            if len(parents) > 1:
                stats.add("commits.merge_skipped")
                continue
            if not parents:
                stats.add("commits.root_skipped")
                continue
            parent = repo.get(parents[0])
            if parent is None:  # shallow clone boundary
                stats.add("commits.parent_missing")
                continue
            sha = str(commit.id)
            subject = gh.subject(commit)
            for change in gh.modified_files(parent, commit, stats):
                lang = language_of(change.new_path)
                if not (gate.check_lang(lang) and gate.check_different(change.old_id == change.new_id)):
                    continue
                old, new = gh.blob_bytes(repo, change.old_id), gh.blob_bytes(repo, change.new_id)
                if not gate.check_size(len(old), len(new)):
                    continue
                code1, why1 = gh.decode_text(old)
                code2, why2 = gh.decode_text(new)
                if not gate.check_decoded(why1 or why2):
                    continue
                assert code1 is not None and code2 is not None
                yield gate.accept(_record(f"{sha}:{change.new_path}", code1, code2, lang, subject, sha,
                                          change.new_path, license))


def _utf8_size(text: str) -> int:
    """Size of ``text`` in UTF-8 bytes (ASCII text is not re-encoded)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", errors="surrogatepass"))


def read_datasets(paths: Sequence[str], gate: RecordGate, notes: list[str] | None = None, *,
                  progress: bool = False) -> Iterator[dict]:
    """Yield commit records from CommitPackFT / EditPackFT files, file by file in row order, through ``gate``.

    A string with a NUL character in its first 8000 characters is ``skipped.binary``, one that cannot be
    encoded as UTF-8 (a lone surrogate) ``skipped.undecodable``. Malformed rows follow
    ``limits.on_bad_record`` (see :func:`.commit_datasets.read_changes`).
    """
    for path in paths:
        rows = read_changes(path, gate.limits.on_bad_record, gate.stats, notes)
        for change in Bar(rows, desc=Path(path).name, unit="row", file=sys.stderr, disable=not progress,
                          dynamic_ncols=True):
            if gate.exhausted:
                break
            if not (gate.check_lang(change.lang) and gate.check_different(change.code1 == change.code2)):
                continue
            if not gate.check_size(_utf8_size(change.code1), _utf8_size(change.code2)):
                continue
            why = ""
            for code in (change.code1, change.code2):
                if "\x00" in code[: gh.BINARY_SNIFF_BYTES]:
                    why = why or "binary"
                elif not code.isascii():
                    try:
                        code.encode("utf-8")
                    except UnicodeEncodeError:
                        why = why or "undecodable"
            if not gate.check_decoded(why):
                continue
            yield gate.accept(_record(change.id, change.code1, change.code2, change.lang, change.git,
                                      change.commit, change.path, change.license))


def _check_paths(input_paths: Sequence[str], output_path: str) -> None:
    """Fail before any work for an unusable output suffix or a missing / unsupported input file."""
    if Path(output_path).suffix.lower() not in OUTPUT_SUFFIXES:
        raise UserError(f"{output_path}: unsupported output format; use one of {', '.join(OUTPUT_SUFFIXES)} "
                        f"(--output_path)")
    for p in input_paths:
        if not Path(p).is_file():
            raise UserError(f"{p}: input file not found; fix prepare_commit.input_paths in params.yaml or --input_paths")
        if Path(p).suffix.lower() not in (".json", ".jsonl", ".ndjson", ".parquet"):
            raise UserError(f"{p}: unsupported input format; use .json, .jsonl or .parquet "
                            f"(prepare_commit.input_paths)")


def summary(stats: Stats) -> str:
    """One line for stderr: records (by language), commits walked, and skips by reason, e.g.
    ``"812 commit records (go 3, python 809) from 120 commits; skipped: identical 2, language 40"``."""
    by_lang = sorted((k.split(".", 1)[1], v) for k, v in stats.items() if k.startswith("records_by_lang."))
    langs = ", ".join(f"{k} {v}" for k, v in by_lang)
    parts = [f"{stats['records']} commit records" + (f" ({langs})" if langs else "")]
    if stats["commits.walked"]:
        parts[0] += f" from {stats['commits.walked']} commits ({stats['commits.merge_skipped']} merges skipped)"
    if stats["rows.read"]:
        parts[0] += f" and {stats['rows.read']} dataset rows"
    parts.append(_skipped(stats))
    return "; ".join(parts)


def _skipped(stats: Stats) -> str:
    skipped = sorted((k.split(".", 1)[1], v) for k, v in stats.items() if k.startswith("skipped.") and v)
    return "skipped: " + (", ".join(f"{k} {v}" for k, v in skipped) or "none")


def prepare_commit(repo: str | None, rev: str, input_paths: Sequence[str], output_path: str,
                   params: Mapping[str, Any], *, progress: bool = False, notes: list[str] | None = None) -> Stats:
    """Write the commit records of SPEC 1.1 to ``output_path`` (``.jsonl``, ``.json`` or ``.parquet``), atomically.

    ``repo`` (skipped when ``None`` or ``""``) is mined from revision ``rev`` first, then every dataset file
    of ``input_paths`` in order; ``params`` holds the limits (see :data:`DEFAULTS` and
    :meth:`CommitLimits.from_params`). Records are streamed to a temporary file renamed into place, so
    on any error no output file is created or replaced. Human notes (e.g. the first malformed row of a
    file) are appended to ``notes``. Returns the counters: ``commits.walked``, ``commits.merge_skipped``,
    ``commits.root_skipped``, ``files.seen``, ``rows.read``, ``records``, ``records_by_lang.<lang>``,
    ``skipped.<reason>``. Raises :class:`UserError` for bad params, a missing repository / revision /
    input file, a malformed row under ``on_bad_record: fail``, or when no record results.
    """
    limits = CommitLimits.from_params(params)
    _check_paths(input_paths, output_path)
    if not repo and not input_paths:
        raise UserError("no commit source: set prepare_commit.repo (a git repository) and/or "
                        "prepare_commit.input_paths (dataset files) in params.yaml or --repo / --input_paths")
    stats = Stats()
    gate = RecordGate(limits, stats)
    sources: list[Iterator[dict]] = []
    if repo:
        sources.append(mine_repository(repo, rev, gate, progress=progress))
    sources.append(read_datasets(input_paths, gate, notes, progress=progress))
    records = chain.from_iterable(sources)
    first = next(records, None)  # surfaces repository / revision errors before the output is opened
    if first is None:
        where = " and ".join(([f"{repo}@{rev}"] if repo else []) + ([", ".join(input_paths)] if input_paths else []))
        walked = f"{stats['commits.walked']} commits walked, " if repo else ""
        raise UserError(f"no commit records from {where} ({walked}{_skipped(stats)}); check langs / rev / "
                        f"max_commits / input_paths in the prepare_commit section of params.yaml")
    write_records(output_path, chain([first], records))
    if gate.exhausted and notes is not None:
        notes.append(f"every language of langs reached max_per_lang={limits.max_per_lang}; stopped early")
    return stats
