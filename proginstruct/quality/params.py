"""Parameters of the quality stage (params.yaml section ``quality``, docs/quality.md).

:data:`DEFAULTS` is the single source of the defaults; :func:`quality_params` validates resolved values
into a :class:`QualityParams`. Every check failure is a one-line :class:`UserError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import UserError
from ..ranges import check_params

GATES = ("too_long", "breaks_syntax", "contaminated", "near_duplicate")

# the default decontamination sets, shipped under data/benchmarks/ (their licences: data/benchmarks/README.md)
DEFAULT_SETS: list[dict[str, Any]] = [
    {"name": "humaneval", "path": "data/benchmarks/HumanEval.jsonl.gz", "fields": ["prompt", "canonical_solution"]},
    {"name": "apeval", "path": "data/benchmarks/apeval.json", "fields": ["history", "current", "user"]},
]

DEFAULTS: dict[str, Any] = {
    "too_long": True,               # gate 1 on/off
    "max_input_chars": 64_000,      # history code + current code + user, characters (code points)
    "max_output_chars": 32_000,     # next code + chat, characters
    "breaks_syntax": True,          # gate 2 on/off
    "contaminated": True,           # gate 3 on/off
    "decontam_ngram": 13,           # n of the shared token n-gram
    "decontaminate": DEFAULT_SETS,  # [{path, fields, name?}, ...]: JSON, JSONL (optionally .gz) or Parquet
    "near_duplicate": True,         # gate 4 on/off
    "near_dup_threshold": 0.8,      # MinHash-estimated Jaccard similarity at or above which a sample is a near-duplicate
    "near_dup_num_perm": 128,       # MinHash permutations
    "near_dup_shingle": 5,          # words per shingle
    "near_dup_seed": 1,             # MinHash seed (fixed: the same params give the same bytes)
    "on_bad_record": "skip",        # malformed sample: skip (counted as bad_records) or fail
}

HELPS: dict[str, str] = {
    "too_long": "gate 1: remove samples whose input or output is over the limits",
    "max_input_chars": "gate 1: most characters of history code + current code + user",
    "max_output_chars": "gate 1: most characters of next code + chat",
    "breaks_syntax": "gate 2: remove samples whose current parses and whose next does not (tree-sitter)",
    "contaminated": "gate 3: remove samples sharing a token n-gram with a decontamination set",
    "decontam_ngram": "gate 3: tokens per n-gram (a token is a lower-cased run of ASCII letters, digits, _)",
    "decontaminate": "gate 3: the decontamination sets as a JSON/YAML list of {path, fields, name}",
    "near_duplicate": "gate 4: remove later samples whose current + next are near-duplicates of a kept one",
    "near_dup_threshold": "gate 4: estimated Jaccard similarity of word shingles counted as near-duplicate",
    "near_dup_num_perm": "gate 4: MinHash permutations",
    "near_dup_shingle": "gate 4: words per shingle",
    "near_dup_seed": "gate 4: MinHash seed",
    "on_bad_record": "'skip' (count and warn) or 'fail' (stop at the first malformed sample)",
}


@dataclass(frozen=True)
class DecontamSet:
    """One decontamination set: ``name`` (metrics key ``contaminated.<name>``), ``path`` (JSON list, JSONL,
    either optionally gzip-compressed, or Parquet) and the record ``fields`` whose texts make an item."""

    name: str
    path: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class QualityParams:
    """Resolved, validated parameters of the quality stage, built by :func:`quality_params` (the defaults
    and units: :data:`DEFAULTS`; ``sets`` is its ``decontaminate`` list as :class:`DecontamSet` entries)."""

    too_long: bool
    max_input_chars: int
    max_output_chars: int
    breaks_syntax: bool
    contaminated: bool
    decontam_ngram: int
    sets: tuple[DecontamSet, ...]
    near_duplicate: bool
    near_dup_threshold: float
    near_dup_num_perm: int
    near_dup_shingle: int
    near_dup_seed: int
    on_bad_record: str


def _fail(key: str, why: str) -> UserError:
    return UserError(f"quality.{key}: {why}; fix params.yaml section 'quality' or --{key}")


def _bool(values: dict[str, Any], key: str) -> bool:
    v = values[key]
    if not isinstance(v, bool):
        raise _fail(key, f"must be true or false, got {v!r}")
    return v


def decontam_sets(value: Any) -> tuple[DecontamSet, ...]:
    """The ``decontaminate`` list as :class:`DecontamSet` entries. ``value`` is a list of mappings
    ``{path: str, fields: [str, ...] | "a,b", name: str (default: the file name without suffixes)}``, or a
    JSON/YAML string holding one (as a flag gives it). Raises :class:`UserError` for any other shape or two
    sets with one name."""
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value) if value.strip() else []
        except yaml.YAMLError:
            raise _fail("decontaminate", "is not a JSON/YAML list") from None
    if value is None:
        value = []
    if not isinstance(value, list):
        raise _fail("decontaminate", f"must be a list of {{path, fields}} entries, got {value!r}")
    out: list[DecontamSet] = []
    for k, entry in enumerate(value):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not entry["path"].strip():
            raise _fail("decontaminate", f"entry {k} must be a mapping with a 'path' string, got {entry!r}")
        fields = entry.get("fields")
        if isinstance(fields, str):
            fields = [f.strip() for f in fields.split(",") if f.strip()]
        if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f for f in fields):
            raise _fail("decontaminate", f"entry {k} ({entry['path']}) needs 'fields', a non-empty list of names")
        path = entry["path"].strip()
        name = entry.get("name") or path.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise _fail("decontaminate", f"entry {k} ({path}): name {name!r} must be letters, digits, - or _")
        if any(s.name == name for s in out):
            raise _fail("decontaminate", f"two sets are named {name!r}; give one a different 'name'")
        out.append(DecontamSet(name=name, path=path, fields=tuple(fields)))
    return tuple(out)


def quality_params(values: dict[str, Any]) -> QualityParams:
    """Validate resolved values (keys of :data:`DEFAULTS`) into :class:`QualityParams`.

    Raises :class:`UserError` naming the key for a value of the wrong type or out of range: limits and
    counts must be integers >= 1 (``near_dup_num_perm`` >= 2, ``near_dup_seed`` >= 0), ``near_dup_threshold``
    in (0, 1], the switches booleans, ``on_bad_record`` ``skip`` or ``fail``.
    """
    values = check_params(values, "quality")  # the numeric ranges, as for every stage (proginstruct/ranges.py)
    threshold = values["near_dup_threshold"]
    if values["on_bad_record"] not in ("skip", "fail"):
        raise _fail("on_bad_record", f"must be 'skip' or 'fail', got {values['on_bad_record']!r}")
    return QualityParams(
        too_long=_bool(values, "too_long"),
        max_input_chars=values["max_input_chars"],
        max_output_chars=values["max_output_chars"],
        breaks_syntax=_bool(values, "breaks_syntax"),
        contaminated=_bool(values, "contaminated"),
        decontam_ngram=values["decontam_ngram"],
        sets=decontam_sets(values["decontaminate"]),
        near_duplicate=_bool(values, "near_duplicate"),
        near_dup_threshold=float(threshold),
        near_dup_num_perm=values["near_dup_num_perm"],
        near_dup_shingle=values["near_dup_shingle"],
        near_dup_seed=values["near_dup_seed"],
        on_bad_record=values["on_bad_record"],
    )
