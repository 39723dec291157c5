"""Reading one line of code by cheap patterns, for the simulated model's diff descriptions.

Word sets (:data:`KEYWORDS`, :data:`TYPES`, :data:`CONTROL`) and line patterns (conditions, loops, error
handling, returns, assignments, calls, output, tokens), and the single-line readers built on them:
:func:`definition_of` (a function or class opened on a line, with its parameter names),
:func:`definitions_in`, :func:`imports_in`, :func:`is_comment`, :func:`indent_of`, :func:`short_code`.
Heuristics, no parser, for any language: no pattern backtracks catastrophically, and callers cut lines
to :data:`MAX_LINE` characters before any pattern sees them (minified code, generated tables). Pure
functions, deterministic, never raise. Used by :mod:`proginstruct.simulator.diff_facts` and
:mod:`proginstruct.simulator.describe`.
"""

from __future__ import annotations

import re
from functools import lru_cache

KEYWORDS = frozenset("""
and as assert async await break case catch class const continue def default del delete do elif else enum
except export extends false final finally fn for foreach from func function go goto if impl import in
instanceof interface is lambda let loop match mod module mut new nil none not null of or package pass
private protected pub public raise return self static struct super switch this throw throws true try type
typeof use using var void when where while with yield true false None True False int long float double
char bool boolean string String str auto unsigned signed short byte const_cast static_cast sizeof std
include define ifdef ifndef endif println printf print puts cout cin endl echo len range self cls then fi
end begin elsif unless until do done esac local readonly export_default let mut ref out params virtual
override abstract sealed internal readonly val object companion inline template typename namespace
""".split())

TYPES = frozenset("""int long float double char bool boolean string String str short byte auto var let const
unsigned signed size_t i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 usize isize f32 f64 Integer Long Double Float
list dict set tuple List Map Set Vec HashMap vector map number any""".split())

CONTROL = frozenset(
    "if for while switch catch return else new sizeof typeof elif with function do try using lock foreach "
    "when match defer go await yield throw delete case print assert raise".split())

_STATEMENT_WORDS = frozenset("in not and or lambda await yield raise print puts echo elif else del pass "
                             "import from goto break continue".split())

_CLASS_RE = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:(?:public|private|protected|internal|abstract|final|static|sealed"
    r"|data|partial|pub(?:\([^)]*\))?)\s+)*(class|struct|interface|enum|trait|record|module|object)\s+"
    r"([A-Za-z_]\w*)")
_FUNC_RES = (
    # def / fn / func / function / fun / sub (Python, Rust, Go, JS, Kotlin, PHP, Ruby, Perl, Lua, shell)
    re.compile(r"^\s*(?:export\s+)?(?:default\s+)?(?:pub(?:\([^)]*\))?\s+)?(?:(?:async|unsafe|const|static|"
               r"public|private|protected|local|override|suspend|inline)\s+)*(?:def|fn|func|function|fun|sub)"
               r"\s*(?:\([^)]*\)\s*)?\*?\s*([A-Za-z_]\w*[?!]?)\s*(?:<[^>]*>)?\s*\((.*)"),
    # const f = (...) => / const f = function (...)
    re.compile(r"^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:async\s*)?"
               r"(?:function\b[^(]*\((.*)|\((.*?)\)\s*=>|[A-Za-z_$][\w$]*\s*=>)"),
    # C, C++, Java, C#: "type name(params) {" (not a call, not a prototype)
    re.compile(r"^(?!\s*#)\s*(?:[\w:<>\[\],*&]+\s+)+[*&]*([A-Za-z_~][\w:]*)\s*\(([^;]*)$"),
    # a method without a return type (JS classes, C++ constructors): "  name(params) {"
    re.compile(r"^\s+(?:(?:async|static|get|set)\s+)*([A-Za-z_$][\w$]*)\s*\(([^;]*)\)\s*\{\s*$"),
    # shell: "name() {"
    re.compile(r"^\s*([A-Za-z_][\w-]*)\s*\(\)\s*\{"),
)
_IMPORT_RES = (
    re.compile(r"^\s*from\s+(?:\.+\s+import\s+)?([\w.]+)"),
    re.compile(r"^\s*import\s+(?:static\s+)?([\w.]+(?:\.\*)?)\s*;?\s*(?:as\s+\w+\s*)?$"),
    re.compile(r"^\s*import\s+.*?\bfrom\s+['\"]([^'\"]+)['\"]"),
    re.compile(r"^\s*import\s+['\"]([^'\"]+)['\"]"),
    re.compile(r"\brequire(?:_relative|_once)?\s*\(?\s*['\"]([^'\"]+)['\"]"),
    re.compile(r"^\s*#\s*include\s*([<\"][^>\"]+[>\"])"),
    re.compile(r"^\s*using\s+(?:static\s+)?([\w.]+)\s*;"),
    re.compile(r"^\s*use\s+([\w:]+)"),
)
PRINT_RE = re.compile(
    r"\b(?:print|println|printf|puts|eprintln|dbg|System\.out\.print\w*|System\.err\.print\w*|fmt\.Print\w*"
    r"|console\.(?:log|error|warn|debug|info)|Console\.Write\w*|logging\.\w+|logger\.\w+|log\.\w+|echo)\b"
    r"|\bstd::(?:cout|cerr)\b|^\s*(?:cout|cerr)\s*<<")
IF_RE = re.compile(r"^\s*(?:\}\s*)?(?:else\s*)?(?:if|elif|elsif|unless)\b\s*(.*?)\s*(?::|\{|then)?\s*$")
LOOP_RE = re.compile(r"^\s*(?:for|while|foreach|loop)\b(.*)$")
FOR_IN_RE = re.compile(r"^\s*+for\s*+\(?\s*+(?:(?:const|let|var|auto&?|\w+)\s++)?([\w(][\w, ()]{0,39}?)\s++"
                       r"(?:in|of|:)\s++([\w.\[\]()]{1,40}?)\s*+\)?\s*+[:{]?\s*+$")
# Lines are cut to this many characters before any pattern sees them (minified code, generated tables).
MAX_LINE = 400
TRY_RE = re.compile(r"^\s*(?:\}\s*)?(?:try\b|except\b|catch\b|rescue\b|finally\b)")
EXC_RE = re.compile(r"^\s*(?:\}\s*)?(?:except|catch|rescue)\s*\(?\s*([A-Za-z_][\w.:]*)")
RAISE_RE = re.compile(r"^\s*(?:raise|throw)\s+(?:new\s+)?([A-Za-z_][\w.:]*)")
RETURN_RE = re.compile(r"^\s*return\b\s*(.*?)\s*;?\s*$")
ASSIGN_RE = re.compile(r"^\s*(?:(?:let|const|var|auto|int|long|float|double|char|bool|boolean|String|string"
                       r"|size_t|val|my|local|final|static)\s+(?:mut\s+)?)*([A-Za-z_$][\w$]*)\s*(?::\s*[\w<>\[\], ]+)?"
                       r"\s*(?::=|=(?!=))\s*(.+?)\s*;?\s*$")
CALL_RE = re.compile(r"(?<![\w.$])([A-Za-z_$][\w$]*)\s*\(")
TOKEN_RE = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\d+(?:\.\d+)?[A-Za-z]*|[A-Za-z_$][\w$]*"
                      r"|==|!=|<=|>=|&&|\|\||<<|>>|\+=|-=|\*=|/=|\+\+|--|->|=>|::|\S")

_HASH_COMMENT_LANGS = frozenset(
    "python shell ruby perl r yaml toml makefile elixir julia cmake dockerfile nim crystal".split())


def indent_of(line: str) -> int:
    """Leading whitespace of ``line`` in columns (a tab is 4)."""
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def is_comment(line: str, lang: str) -> bool:
    """True when ``line`` is a comment line in ``lang`` (``//``, ``/*``, docstring quotes; ``#`` in the
    languages that use it, and in an unknown one when followed by a space; ``--`` in SQL, Lua, Haskell)."""
    s = line.strip()
    if not s:
        return False
    if s.startswith(("//", "/*", "*/", "<!--", '"""', "'''")) or s == "*" or s.startswith("* "):
        return True
    if s.startswith("#"):
        return lang in _HASH_COMMENT_LANGS or (lang == "" and (s == "#" or s.startswith("# ")))
    return s.startswith("--") and lang in ("sql", "lua", "haskell")


@lru_cache(maxsize=1 << 16)
def definition_of(line: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``(kind, name, parameter names)`` when ``line`` opens a function/class definition, else ``None``.
    Memoized: the same lines come back in every query about one file."""
    m = _CLASS_RE.match(line)
    if m:
        return m.group(1), m.group(2), ()
    for k, rx in enumerate(_FUNC_RES):
        m = rx.match(line)
        if m and m.group(1).split("::")[-1] not in CONTROL and not (k in (2, 3) and _not_a_definition(line)):
            rest = next((g for g in m.groups()[1:] if g is not None), "")
            go = re.match(r"\s*func\b", line) is not None
            return "function", m.group(1), tuple(_params(rest, name_first=go))
    return None


def _not_a_definition(line: str) -> bool:
    """Statements the C-like definition patterns would otherwise take for one: control statements and
    block openers ending in ``:`` (``for x in f(a):``, ``raise E(...)``), assignments."""
    s = line.strip()
    first = re.match(r"[A-Za-z_]\w*", s)
    if first and first.group(0) in CONTROL | _STATEMENT_WORDS:
        return True
    return s.endswith(":") or "=" in s.split("(")[0]


def _params(text: str, name_first: bool = False) -> list[str]:
    """Parameter names from the text after a definition's ``(`` up to its matching ``)``: the name of
    each comma-separated parameter, defaults and ``name: type`` annotations dropped; in ``int n`` (C,
    Java) the last word, with ``name_first`` (Go: ``n int``) the first."""
    depth, parts, start = 0, [], 0
    for i, ch in enumerate(text + ")"):
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>" and not (ch == ">" and text[i - 1:i] == "-"):
            if depth == 0:
                parts.append(text[start:i])
                break
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    names = []
    for part in parts:
        part = part.replace("::", ".").split("=")[0].split(":")[0]  # drop defaults and annotations
        words = [w for w in re.findall(r"[A-Za-z_$][\w$]*", part)
                 if w not in ("self", "cls", "this", "mut", "const", "final", "ref", "out", "in", "void")]
        if words:
            names.append(words[0] if name_first or (len(words) > 1 and words[-1] in TYPES) else words[-1])
    return [n for n in names if n not in TYPES]


def short_code(code: str, limit: int = 56) -> str | None:
    """``code`` stripped (and without a final ``;``), if it fits in backticks on one short line."""
    s = code.strip().rstrip(";").strip()
    if not s or "`" in s or len(s) > limit:
        return None
    return s


def is_ident(tok: str) -> bool:
    """True when token ``tok`` is an identifier (letters, digits, ``_``, ``$``; not starting with a digit)."""
    return re.fullmatch(r"[A-Za-z_$][\w$]*", tok) is not None


def is_literal(tok: str) -> bool:
    """True when token ``tok`` is a string or number literal."""
    return tok[:1] in "\"'" or tok[:1].isdigit()


def definitions_in(lines: list[str]) -> dict[str, tuple[str, tuple[str, ...], bool, int]]:
    """Definitions opened in ``lines``: name -> (kind, parameter names, indented, index in lines)."""
    out: dict[str, tuple[str, tuple[str, ...], bool, int]] = {}
    for i, line in enumerate(lines):
        d = definition_of(line)
        if d is not None and d[1] not in out:
            out[d[1]] = (d[0], d[2], indent_of(line) > 0, i)
    return out


def imports_in(lines: list[str]) -> list[str]:
    """The modules ``lines`` import (Python, JS/TS, Java, C/C++ ``#include``, C#, Rust, Ruby, PHP), each
    once, in order of first appearance."""
    out: list[str] = []
    for line in lines:
        for rx in _IMPORT_RES:
            m = rx.search(line)
            if m and m.group(1) not in out:
                out.append(m.group(1))
                break
    return out
