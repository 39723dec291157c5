"""Decontamination: does a sample share a token n-gram with an item of a benchmark set?

A token is a lower-cased run of ASCII letters, digits and underscores; an n-gram is ``n`` consecutive
tokens of one text (n-grams never span two texts). An item of a set is one record of its file: the texts
of the set's ``fields``, joined with a newline in the listed order (so HumanEval's prompt + canonical
solution is the whole function). A field value that is a list contributes each element, a snapshot
(a mapping with ``code``) its code, another mapping its values in key order; ``null`` contributes nothing.

Matching is exact. For speed, every window of a sample is first hashed (numpy, vectorised) and only the
windows whose hash is also a benchmark n-gram's are compared token by token, so the result does not depend
on the hash function (Python's string hash is salted per process).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import UserError
from .params import DecontamSet

# bytes.translate table: ASCII letters to lower case, digits and "_" kept, every other byte a space
TOKEN_TABLE = bytes(c + 32 if 65 <= c <= 90 else c if (97 <= c <= 122 or 48 <= c <= 57 or c == 95) else 32
               for c in range(256))
_MUL = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier of the polynomial window hash
_BITMAP_SIZE = 1 << 22  # bits of the key bitmap (a power of two; 4 MB as numpy bools)


def tokenize(text: str) -> list[bytes]:
    """The tokens of ``text`` as ASCII bytes: lower-cased runs of ``[A-Za-z0-9_]`` (any other character,
    non-ASCII ones included, separates tokens)."""
    return text.encode("utf-8", "surrogatepass").translate(TOKEN_TABLE).split()


def _field_texts(value: Any) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _field_texts(v)
    elif isinstance(value, dict):
        if isinstance(value.get("code"), str):
            yield value["code"]
        else:
            for k in sorted(value):
                yield from _field_texts(value[k])
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


def _records(path: Path) -> Iterator[Any]:
    """The records of a decontamination file by suffix: ``.parquet``, ``.jsonl``/``.ndjson`` or ``.json``
    (a list), the JSON ones optionally gzip-compressed (``.jsonl.gz``). Raises ``OSError`` /
    ``ValueError`` (caught by :func:`load_items`)."""
    suffixes = [s.lower() for s in path.suffixes]
    gz = suffixes[-1:] == [".gz"]
    kind = suffixes[-2] if gz and len(suffixes) >= 2 else (suffixes[-1] if suffixes else "")
    if kind == ".parquet" and not gz:
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
        return
    data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    if kind in (".jsonl", ".ndjson"):
        for line in data.splitlines():
            if line.strip():
                yield orjson.loads(line)
    elif kind == ".json":
        value = orjson.loads(data)
        if not isinstance(value, list):
            raise ValueError("expected a JSON list of records")
        yield from value
    else:
        raise ValueError(f"unsupported format {''.join(suffixes) or '(no suffix)'}; use .json, .jsonl "
                         "(optionally .gz) or .parquet")


def load_items(entry: DecontamSet) -> list[str]:
    """The item texts of one decontamination set (one per record, see the module doc).

    Raises :class:`UserError` naming the file (and the field, and the record index) when the file is
    missing or unreadable, holds no records, a record is not an object, or a record lacks a field.
    """
    path = Path(entry.path)
    fix = "fix quality.decontaminate in params.yaml"
    if not path.is_file():
        raise UserError(f"{path}: decontamination set '{entry.name}' not found; {fix}")
    items: list[str] = []
    try:
        for index, record in enumerate(_records(path)):
            if not isinstance(record, dict):
                raise UserError(f"{path}: record {index} is not an object; a decontamination set holds records "
                                f"with the fields {', '.join(entry.fields)}")
            texts: list[str] = []
            for field in entry.fields:
                if field not in record:
                    have = ", ".join(sorted(record)) or "none"
                    raise UserError(f"{path}: record {index} has no field '{field}' (fields: {have}); {fix}")
                texts.extend(_field_texts(record[field]))
            items.append("\n".join(texts))
    except UserError:
        raise
    except (OSError, ValueError, EOFError, gzip.BadGzipFile) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{path}: cannot read decontamination set '{entry.name}' ({why}); {fix}") from None
    except Exception as e:  # pyarrow raises its own error types for a damaged Parquet file
        raise UserError(f"{path}: cannot read decontamination set '{entry.name}' ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''}); {fix}") from None
    if not items:
        raise UserError(f"{path}: decontamination set '{entry.name}' holds no records; {fix}")
    return items


def _window_hashes(tokens: Sequence[bytes], n: int) -> np.ndarray:
    """``h[i]`` = polynomial hash (mod 2**64) of ``hash(token)`` over ``tokens[i:i + n]``, for every window."""
    th = np.fromiter(map(hash, tokens), dtype=np.int64, count=len(tokens)).view(np.uint64)
    width = len(tokens) - n + 1
    h = th[:width].copy()
    for k in range(1, n):
        h *= _MUL
        h += th[k : k + width]
    return h


class NgramIndex:
    """The n-grams of every item of the decontamination sets (``names[k]`` is set k), for exact lookups.

    Build it in the process that uses it (window hashes use Python's per-process string hash).
    """

    def __init__(self, n: int, sets: Sequence[tuple[str, Iterable[str]]]):
        self.n = n
        self.names = [name for name, _ in sets]
        self._grams: dict[tuple[bytes, ...], int] = {}  # n-gram -> bit mask of the sets that hold it
        keys = [np.empty(0, dtype=np.uint64)]
        for k, (_, items) in enumerate(sets):
            bit = 1 << k
            for text in items:
                toks = tokenize(text)
                if len(toks) < n:
                    continue
                keys.append(_window_hashes(toks, n))
                for i in range(len(toks) - n + 1):
                    gram = tuple(toks[i : i + n])
                    self._grams[gram] = self._grams.get(gram, 0) | bit
        self._keys = np.unique(np.concatenate(keys))
        # a bitmap of the keys' low bits: a cheap first test before the binary search
        self._bits = np.zeros(_BITMAP_SIZE, dtype=bool)
        self._bits[self._keys & np.uint64(_BITMAP_SIZE - 1)] = True

    def __len__(self) -> int:
        return len(self._grams)

    def sets_hit(self, texts: Iterable[str]) -> list[str]:
        """Names of the sets (in set order) sharing at least one n-gram with any of ``texts``; ``[]`` for none."""
        n = self.n
        if not self._grams:
            return []
        tokens: list[bytes] = []
        ends: list[int] = []
        seen: set[str] = set()
        for text in texts:
            if not text or text in seen:
                continue
            seen.add(text)
            toks = tokenize(text)
            if len(toks) >= n:
                tokens.extend(toks)
                ends.append(len(tokens))
        if not tokens:
            return []
        h = _window_hashes(tokens, n)
        maybe = np.flatnonzero(self._bits[h & np.uint64(_BITMAP_SIZE - 1)])
        if not len(maybe):
            return []
        pos = np.searchsorted(self._keys, h[maybe])
        pos[pos == len(self._keys)] = 0
        candidates = maybe[self._keys[pos] == h[maybe]]
        mask = 0
        if len(candidates):
            text_end = np.repeat(np.array(ends), np.diff(np.array([0, *ends])))
            for i in candidates.tolist():
                if i + n <= text_end[i]:  # the window lies inside one text
                    mask |= self._grams.get(tuple(tokens[i : i + n]), 0)
        return [name for k, name in enumerate(self.names) if mask >> k & 1]
