"""Commit records from dataset files with CommitPackFT / EditPackFT columns (SPEC 1.1, second source).

Columns used: ``old_contents -> code1``, ``new_contents -> code2``, ``subject -> git``, ``lang`` (normalised
by :func:`normalise_lang`), for the record id ``commit`` plus ``new_file`` (or ``old_file``) when present, and
``license`` (CommitPackFT's SPDX id of the original repository's licence) when present.
Files are ``.json`` (a list), ``.jsonl`` or ``.parquet``, read through :func:`proginstruct.records.read_records`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import BadRecord, UserError
from ..records import read_records, record_id
from ..stats import Stats

REQUIRED = ("old_contents", "new_contents", "subject", "lang")
BAD_RECORD_POLICIES = ("skip", "fail")

# spellings that lower-casing alone does not bring to the SPEC 0 names (python, c++, c#, javascript, ...)
LANG_ALIASES: dict[str, str] = {
    "py": "python", "python3": "python", "python2": "python",
    "js": "javascript", "node": "javascript", "nodejs": "javascript",
    "ts": "typescript",
    "cpp": "c++", "cxx": "c++", "c plus plus": "c++",
    "csharp": "c#", "c sharp": "c#",
    "golang": "go", "rs": "rust", "rb": "ruby", "kt": "kotlin",
    "sh": "shell", "bash": "shell", "zsh": "shell",
    "objc": "objective-c", "obj-c": "objective-c", "objective c": "objective-c", "objc++": "objective-c++",
}


def normalise_lang(name: str) -> str:
    """Lower-case language name in the SPEC 0 spelling: ``"C++" -> "c++"``, ``"C#" -> "c#"``,
    ``"JavaScript" -> "javascript"``, ``"cpp" -> "c++"``, ``"golang" -> "go"``; surrounding whitespace
    dropped and inner whitespace collapsed; unknown names are only lower-cased (``"Emacs Lisp" -> "emacs lisp"``)."""
    key = " ".join(name.lower().split())
    return LANG_ALIASES.get(key, key)


@dataclass(frozen=True, slots=True)
class DatasetChange:
    """One row of a commit dataset: ``id``, ``code1``/``code2`` (before/after), ``lang`` (normalised),
    ``git`` (the commit subject), and ``commit``/``path``/``license`` when the row has them (else ``None``)."""

    id: str
    code1: str
    code2: str
    lang: str
    git: str
    commit: str | None
    path: str | None
    license: str | None = None


def parse_row(row: Any) -> DatasetChange:
    """Map one CommitPackFT / EditPackFT row to a :class:`DatasetChange`.

    The id is ``"<commit>:<new_file>"`` (``old_file`` when there is no ``new_file``) when those columns are
    strings, else :func:`records.record_id` of the row. Raises ``ValueError`` with a short reason
    (``"missing field 'old_contents'"``, ``"field 'lang' is int, expected a string"``) for a malformed row.
    """
    if not isinstance(row, dict):
        raise ValueError(f"expected an object with fields {', '.join(REQUIRED)}, got {type(row).__name__}")
    for name in REQUIRED:
        if row.get(name) is None:
            raise ValueError(f"missing field '{name}'")
        if not isinstance(row[name], str):
            raise ValueError(f"field '{name}' is {type(row[name]).__name__}, expected a string")
    commit = row.get("commit") if isinstance(row.get("commit"), str) else None
    path = next((row[k] for k in ("new_file", "old_file") if isinstance(row.get(k), str) and row[k]), None)
    rid = f"{commit}:{path}" if commit and path else record_id(row)
    return DatasetChange(
        id=rid,
        code1=row["old_contents"],
        code2=row["new_contents"],
        lang=normalise_lang(row["lang"]),
        git=row["subject"].strip().split("\n", 1)[0].strip(),
        commit=commit,
        path=path,
        license=(row["license"].strip() or None) if isinstance(row.get("license"), str) else None,
    )


def read_changes(path: str, on_bad_record: str, stats: Stats, notes: list[str] | None = None) -> Iterator[DatasetChange]:
    """Yield the well-formed rows of dataset file ``path`` in file order.

    A malformed row (SPEC 1) is counted as ``skipped.bad_record`` under ``on_bad_record="skip"`` (and one
    summary line per file naming the first such row is appended to ``notes``), or raises
    :class:`~proginstruct.errors.BadRecord` (``"FILE: record I: missing field 'x'; fix the file or set
    on_bad_record: skip"``, ``I`` 0-based) under ``"fail"``. Counts ``rows.read`` per row. Raises
    :class:`UserError` for a missing or unreadable file or an unknown policy.
    """
    if on_bad_record not in BAD_RECORD_POLICIES:
        raise UserError(f"on_bad_record must be skip or fail, got {on_bad_record!r}; "
                        f"fix prepare_commit.on_bad_record in params.yaml or --on_bad_record")
    bad = 0
    first_bad = ""
    for index, row in read_records(path):
        stats.add("rows.read")
        try:
            change = parse_row(row)
        except ValueError as e:
            if on_bad_record == "fail":
                raise BadRecord(path, index, f"{e}; fix the file or set on_bad_record: skip") from None
            stats.add("skipped.bad_record")
            bad += 1
            first_bad = first_bad or f"record {index}: {e}"
            continue
        yield change
    if bad and notes is not None:
        notes.append(f"{path}: skipped {bad} malformed record{'s' if bad > 1 else ''} (first: {first_bad})")
