"""Does a snapshot parse? tree-sitter with the prebuilt grammars of ``tree-sitter-language-pack``.

A parse fails when the syntax tree holds an ERROR or a MISSING node (tree-sitter's ``has_error`` on the
root: it is set for both). Grammars are looked up by the sample's ``lang`` (SPEC 0 spelling, ``c++``,
``c#`` ...), through :data:`ALIASES` where the pack spells a language differently. The pack must be
0.13.0: later versions download their grammars on first use (shared DEPENDENCY-NOTES).
"""

from __future__ import annotations

from functools import cache
from typing import Any

# SPEC 0 language name -> tree-sitter-language-pack grammar name, where they differ
ALIASES: dict[str, str] = {
    "c++": "cpp",
    "c#": "csharp",
    "shell": "bash",
    "sh": "bash",
    "makefile": "make",
    "objective-c": "objc",
    "restructuredtext": "rst",
    "tex": "latex",
    "js": "javascript",
    "ts": "typescript",
    "py": "python",
}


@cache
def _known() -> frozenset[str]:
    from typing import get_args

    from tree_sitter_language_pack import SupportedLanguage

    return frozenset(get_args(SupportedLanguage))


def grammar_of(lang: str) -> str | None:
    """The pack's grammar name for a sample language (case-insensitive), or ``None`` when the pack has
    no grammar for it (``""`` included)."""
    name = (lang or "").strip().lower()
    name = ALIASES.get(name, name)
    return name if name and name in _known() else None


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix of ``a`` and ``b``: the highest set bit of their XOR, read as
    big-endian integers, lies in the first differing byte (a few linear passes in C)."""
    m = min(len(a), len(b))
    x = int.from_bytes(a[:m], "big") ^ int.from_bytes(b[:m], "big")
    return m if not x else m - 1 - (x.bit_length() - 1) // 8


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    """Length of the longest common suffix of ``a`` and ``b``, at most ``limit`` (as :func:`_common_prefix`,
    the bytes read as little-endian integers)."""
    m = min(len(a), len(b), limit)
    if m <= 0:
        return 0
    x = int.from_bytes(a[len(a) - m:], "little") ^ int.from_bytes(b[len(b) - m:], "little")
    return m if not x else m - 1 - (x.bit_length() - 1) // 8


def _point(text: bytes, offset: int) -> tuple[int, int]:
    """tree-sitter point of a byte offset: (0-based row, 0-based byte column)."""
    return text.count(b"\n", 0, offset), offset - (text.rfind(b"\n", 0, offset) + 1)


class SyntaxChecker:
    """Parses code with one cached tree-sitter parser per grammar (parsers are not shared across
    processes: build one checker per process)."""

    def __init__(self) -> None:
        self._parsers: dict[str, Any] = {}

    def _parser(self, grammar: str) -> Any:
        parser = self._parsers.get(grammar)
        if parser is None:
            from tree_sitter_language_pack import get_parser

            parser = self._parsers[grammar] = get_parser(grammar)  # type: ignore[arg-type]
        return parser

    def parses(self, grammar: str, code: str) -> bool:
        """``True`` when ``code`` parses with ``grammar`` (a name from :func:`grammar_of`) without ERROR or
        MISSING nodes. Raises ``LookupError`` for a grammar the pack does not have."""
        return not self._parser(grammar).parse(code.encode("utf-8", "surrogatepass")).root_node.has_error

    def parses_pair(self, grammar: str, current: str, next_: str) -> tuple[bool, bool]:
        """``(current parses, next parses)`` as :meth:`parses` says. ``next_`` is parsed incrementally: the
        tree of ``current`` is told of the one edit spanning the first to the last differing byte and
        re-parsed, which tree-sitter makes equal to a fresh parse at about half its cost here."""
        parser = self._parser(grammar)
        cur = current.encode("utf-8", "surrogatepass")
        tree = parser.parse(cur)
        cur_ok = not tree.root_node.has_error
        if next_ == current:
            return cur_ok, cur_ok
        nxt = next_.encode("utf-8", "surrogatepass")
        start = _common_prefix(cur, nxt)
        tail = _common_suffix(cur, nxt, min(len(cur), len(nxt)) - start)
        old_end, new_end = len(cur) - tail, len(nxt) - tail
        tree.edit(start_byte=start, old_end_byte=old_end, new_end_byte=new_end, start_point=_point(cur, start),
                  old_end_point=_point(cur, old_end), new_end_point=_point(nxt, new_end))
        return cur_ok, not parser.parse(nxt, tree).root_node.has_error
