"""A real GBNF matcher for the tests: llguidance (the grammar engine of several model servers) with a
tokenizer of one token per byte, so a text matches a grammar exactly when the bytes do.

llguidance converts GBNF to its own Lark dialect (``llguidance.gbnf_to_lark``) and matches it with an
Earley parser over lexemes; the grammars of ``proginstruct/roles/grammars.py`` end every line-shaped
lexeme with its newline so that this lexing needs no backtracking. The servers' own readers (llama.cpp's
GBNF parser) are checked by the real-model benchmark (``bench/real_model.py``).
"""

from __future__ import annotations

from functools import cache

import llguidance as llg


class _ByteTokenizer:
    """256 byte tokens and an end-of-sequence token (what ``llguidance.TokenizerWrapper`` reads)."""

    eos_token_id = 256
    bos_token_id = None
    tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]
    special_token_ids = [256]

    def __call__(self, s: str | bytes) -> list[int]:
        return list(s.encode("utf-8") if isinstance(s, str) else s)


@cache
def _tokenizer() -> llg.LLTokenizer:
    return llg.LLTokenizer(llg.TokenizerWrapper(_ByteTokenizer()), slices=[])


@cache
def _compiled(grammar: str) -> str:
    return llg.grammar_from("gbnf", grammar)


def _matcher(grammar: str) -> llg.LLMatcher:
    """A fresh matcher at the start of ``grammar``; ``ValueError`` with llguidance's message when
    ``grammar`` is not valid GBNF."""
    m = llg.LLMatcher(_tokenizer(), _compiled(grammar), log_level=0)
    if m.is_error():
        raise ValueError(m.get_error())
    return m


def check_grammar(grammar: str) -> None:
    """Raise ``ValueError`` with llguidance's message when ``grammar`` is not valid GBNF."""
    _matcher(grammar)


def matches(grammar: str, text: str) -> bool:
    """True when the whole of ``text`` is a sentence of the GBNF ``grammar`` (rule ``root``); ``ValueError``
    when ``grammar`` is not valid GBNF."""
    m = _matcher(grammar)
    ok = m.consume_tokens(list(text.encode("utf-8")))
    return bool(ok) and not m.is_error() and m.is_accepting()
