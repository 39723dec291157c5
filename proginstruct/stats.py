"""Named counters (``skipped.binary``, ``rejected.judge.count_mismatch`` ...) that end up in ``metrics/*.json``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping


class Stats(Counter):
    """A ``Counter`` of dotted names -> int. ``nested()`` turns it into the JSON tree DVC shows."""

    def add(self, name: str, n: int = 1) -> None:
        """Increment counter ``name`` by ``n``."""
        self[name] = self.get(name, 0) + n  # dict.get: no Counter.__missing__ call for a new name

    def merge(self, others: Iterable[Mapping[str, int]]) -> Stats:
        """Add every mapping of ``others`` into this one; returns ``self``."""
        for o in others:
            self.update(o)
        return self

    def nested(self) -> dict:
        """``{"a.b": 1, "a.c": 2}`` -> ``{"a": {"b": 1, "c": 2}}``, keys sorted. A name that is both a
        leaf and a prefix keeps its own count under ``"total"``."""
        tree: dict = {}
        for key in sorted(self):
            node = tree
            parts = key.split(".")
            for part in parts[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {} if child is None else {"total": child}
                    node[part] = child
                node = child
            leaf = parts[-1]
            if isinstance(node.get(leaf), dict):
                node[leaf]["total"] = self[key]
            else:
                node[leaf] = self[key]
        return tree
