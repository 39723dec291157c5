"""GBNF grammars of the roles' reply protocols (SPEC 5), for grammar-guided decoding.

A model map entry with ``"guided"`` (:mod:`proginstruct.llm.guided`) sends, with each role request, a
grammar that only the replies of that role's protocol match; the server then samples only such text. The
parsers stay as they are: a guided reply is an ordinary reply, checked like any other.

What each grammar fixes (``root`` is the whole reply; lines end with ``"\\n"``):

- **judge** (:func:`judge_grammar`, N candidate changes): exactly N sections, each
  ``**Analysis of change k:**`` on its own line (k = 1..N in order), 1 to :data:`ANALYSIS_LINES` lines of
  free analysis text, then one ``**Decision:** True`` or ``**Decision:** False`` line; sections are
  separated by one blank line and nothing follows the last decision. An analysis line is non-empty prose:
  it does not open with whitespace or a markdown mark (``#``, ``*``, ``_``, ``-``, ``+``) nor with the
  words "analysis" or "decision" (any case), so it can be neither a heading nor a decision line to the
  parser.
- **instruction** / **chat** (:func:`marker_grammar`): the marker (``**instruction:**`` / ``**chat:**``), a
  space, then one paragraph: a single line that opens with a non-space character. One line cannot carry a
  trailing note on a later line (an instruction rejection, SPEC 5).

Lines of free text hold at most about :data:`LINE_CHARS` characters: a model caught repeating itself is
made to go on to the decision (or to end its instruction or message) instead of running into
``max_tokens``, which would be a rejection and a re-ask.
- **programmer** (:func:`programmer_grammar`): optional prose lines, then a sequence of 2 to
  :data:`MAX_VERSIONS` fenced code blocks (```` ``` ```` with an optional info word such as ``python`` or
  ``c++``), blank and prose lines allowed between them; nothing follows the last block. A prose line opens
  with neither whitespace nor a backtick nor ``~``, so it can never be read as a fence.

The grammars use the subset of GBNF that llama.cpp, XGrammar (vLLM's and sglang's default backend) and
llguidance read alike: rule names of lower-case letters, digits and hyphens; quoted literals with
``\\n``, ``\\t``, ``\\"``, ``\\\\`` and ``\\xHH`` escapes; character classes with a ``-`` only last;
``( )``, ``|``, ``*``, ``+`` and ``?``. Every line-shaped piece ends with its own ``"\\n"``, so a
lexer-based matcher (llguidance) reads them without backtracking.
"""

from __future__ import annotations

import re
from functools import cache

from ..text import split_lines

# the judge's markers (SPEC 5); the instruction and chat markers are passed in by their roles
ANALYSIS_HEADING = "**Analysis of change {k}:**"
DECISION = "**Decision:**"

# first characters an analysis line may not open with: whitespace and the markdown marks that the judge
# parser tolerates before a heading or a decision (bullets, "#", bold and italic marks)
_NOT_FIRST = " \t\r#*_+-"
_JUDGE_WORDS = ("analysis", "decision")

_FENCE_TICKS = re.compile(r"(?m)^ {0,3}`{3,}")
MAX_VERSIONS = 10  # most fenced blocks (versions) a guided programmer reply may hold
# Bounds on free text, so that a model caught in a loop is made to finish its reply (a judge decision, the
# end of an instruction) instead of running into max_tokens: characters per line of prose (about 100-150
# tokens; the worked examples' lines are 150-450 characters) and lines per judge analysis.
LINE_CHARS = 600
ANALYSIS_LINES = 3


def gbnf_literal(text: str) -> str:
    """``text`` as a quoted GBNF literal: ``"``, ``\\``, newline, carriage return and tab escaped, other
    control characters as ``\\xHH``; other characters (UTF-8) as they are."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _class_char(ch: str) -> str:
    """One character inside a GBNF character class (escaped where the readers need it)."""
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", "]": "\\]", "[": "\\[", '"': '\\"',
            "^": "\\x5E"}.get(ch, ch)


def _negated_class(chars: str) -> str:
    """``[^...]`` of ``chars`` plus newline; a ``-`` is put last (the only place all readers take it
    literally)."""
    uniq = sorted(set(chars) | {"\n"}, key=lambda c: (c == "-", c))
    return "[^" + "".join(_class_char(c) for c in uniq) + "]"


def _either_case(ch: str) -> str:
    return f"[{ch.lower()}{ch.upper()}]" if ch.lower() != ch.upper() else gbnf_literal(ch)


def prose_rules(name: str, words: tuple[str, ...], not_first: str, max_chars: int) -> list[str]:
    """GBNF rules for ``name``: one non-empty line of text and its ``"\\n"``, whose first character is
    none of ``not_first``, which does not open with any of ``words`` (lower-case; matched in any case),
    and which holds at most about ``max_chars`` characters (``max_chars`` after the first few).

    Built as the complement of a trie of ``words``: after a proper prefix of a word the line may end or
    go on with any other character; a whole word is a dead end. Rules are named ``name``, ``name-k``
    and ``name-rest``.
    """
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w.lower():
            node = node.setdefault(ch, {})
        node[""] = {}  # end of a word: a dead end
    rules: list[str] = []
    counter = [0]
    rest = f"{name}-rest"

    def build(node: dict, rule: str, first: bool) -> None:
        alts: list[str] = []
        exclude = "".join(ch + ch.upper() for ch in node if ch) + (not_first if first else "")
        alts.append(f"{_negated_class(exclude)} {rest}")
        for ch, child in sorted(node.items()):
            if not ch:
                continue
            if "" in child:  # the word is complete here: nothing may follow it
                continue
            counter[0] += 1
            sub = f"{name}-{counter[0]}"
            alts.append(f"{_either_case(ch)} {sub}")
            build(child, sub, False)
        if not first:
            alts.append('"\\n"')  # the line is a proper prefix of a word and ends here
        rules.append(f"{rule} ::= " + " | ".join(alts))

    build(trie, name, True)
    rules.append(f'{rest} ::= [^\\n]{{0,{max_chars}}} "\\n"')
    return rules


@cache
def judge_grammar(n: int) -> str:
    """The judge's reply grammar for ``n`` (>= 1) candidate changes (module docstring; SPEC 5). Built
    once per ``n`` (memoized: a guided judge request asks for it every time).

    Raises ``ValueError`` when ``n < 1`` (the judge is never asked without candidates, SPEC 6 step 2).
    """
    if n < 1:
        raise ValueError(f"the judge grammar needs at least one candidate change, got {n}")
    parts = []
    for k in range(1, n + 1):
        head = ("\n\n" if k > 1 else "") + ANALYSIS_HEADING.format(k=k) + "\n"
        parts.append(f"{gbnf_literal(head)} analysis {gbnf_literal(DECISION + ' ')} verdict")
    rules = [
        "root ::= " + " ".join(parts),
        "analysis ::= line" + " line?" * (ANALYSIS_LINES - 1),
        'verdict ::= "True" | "False"',
        *prose_rules("line", _JUDGE_WORDS, _NOT_FIRST, LINE_CHARS),
    ]
    return "\n".join(rules) + "\n"


@cache
def marker_grammar(marker: str) -> str:
    """The instruction or chat reply grammar: ``marker`` (``"**instruction:**"`` or ``"**chat:**"``), a
    space and one line of text opening with a non-space character (module docstring; SPEC 5). Memoized
    per marker."""
    return "\n".join([
        f"root ::= {gbnf_literal(marker + ' ')} first rest",
        "first ::= [^ \\t\\r\\n]",
        f"rest ::= [^\\n]{{0,{LINE_CHARS}}}",
    ]) + "\n"


def final_fence(code: str) -> str:
    """The backtick fence of ``code``'s block, in the programmer's query (its
    :func:`~proginstruct.roles.programmer.fence_code`) and in the reply grammar alike: three backticks,
    or, when a line of ``code`` opens with up to 3 spaces and 3+ backticks, one more than the longest such
    opening, spaces counted (so no line of the code closes the block early)."""
    longest = max((len(m.group(0)) for m in _FENCE_TICKS.finditer(code)), default=0)
    return "`" * (longest + 1 if longest else 3)


def canonical_code(code: str) -> str:
    """``code`` as the programmer check compares it: stripped, each line without trailing whitespace
    (``"\\r"`` included)."""
    return "\n".join(line.rstrip() for line in split_lines(code.strip()))


def programmer_grammar(final: str) -> str:
    """The programmer's reply grammar for the finished code ``final`` (module docstring; SPEC 5).

    Between 2 and :data:`MAX_VERSIONS` fenced blocks: a fence (:func:`final_fence` of ``final``: three
    backticks unless the code itself has a line opening with three) + an info word (letters, digits,
    ``_ + # . -``) + newline, code lines that do not open with the fence, a closing fence. Prose lines
    (outside blocks) open with neither whitespace nor a backtick nor ``~``. Nothing follows the last block.
    Which block is the finished code is left to the model and the check: a grammar that fixed the last
    block to it would let a model that miscopies it write block after block up to ``max_tokens``.
    """
    fence = final_fence(final)
    # a code line: anything but a line that opens with the fence (i backticks then another character)
    code = ['[^`\\n] [^\\n]* "\\n"', '"\\n"'] + [
        f'{gbnf_literal("`" * i)} ([^`\\n] [^\\n]*)? "\\n"' for i in range(1, len(fence))]
    more = [f"more{k} ::= (gapafter block more{k + 1})?" for k in range(1, MAX_VERSIONS - 2)]
    more.append(f"more{MAX_VERSIONS - 2} ::= (gapafter block)?")
    rules = [
        "root ::= gap? block gapafter block more1",
        *more,
        f'block ::= {gbnf_literal(fence)} info "\\n" code* {gbnf_literal(fence)}',
        "info ::= [a-zA-Z0-9_+#.-]*",
        'gap ::= ("\\n" | prose)+',
        'gapafter ::= "\\n" gap?',
        # a prose line: not blank, not indented, and opening with neither a backtick nor a tilde (no fence)
        'prose ::= [^ \\t\\r\\n`~] [^\\n]* "\\n"',
        "code ::= " + " | ".join(code),
    ]
    return "\n".join(rules) + "\n"
