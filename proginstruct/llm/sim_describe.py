"""Describe a code change in words: the diff-description engine of the simulated model.

A unified diff (SPEC 2, no ``---``/``+++`` header) of a known current code is read into
:class:`DiffFacts` (:func:`analyze_diff`: runs of changed lines, each with the definition enclosing it);
:func:`describe_actions` turns those facts into a few :class:`Action` s (identifiers defined or renamed,
literals, operators and types changed, imports, conditions, loops, error handling, output, comments),
the most important first, and :func:`phrase` says them as one English clause in a chosen verb form.
:func:`count_phrase` gives the added/removed line counts in words.

Cheap heuristics over single lines, no parser: lines are cut to 400 characters before any pattern sees
them (minified code, generated tables), and no pattern backtracks catastrophically. Pure functions,
deterministic, never raise.
The request-level simulator that builds replies from these phrases is :mod:`proginstruct.llm.simulator`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

# ------------------------------------------------------------------------------------------ diff analysis
_KEYWORDS = frozenset("""
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

_TYPES = frozenset("""int long float double char bool boolean string String str short byte auto var let const
unsigned signed size_t i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 usize isize f32 f64 Integer Long Double Float
list dict set tuple List Map Set Vec HashMap vector map number any""".split())

_CONTROL = frozenset(
    "if for while switch catch return else new sizeof typeof elif with function do try using lock foreach "
    "when match defer go await yield throw delete case print assert raise".split())

_STATEMENT_WORDS = frozenset("in not and or lambda await yield raise print puts echo elif else del pass "
                             "import from goto break continue".split())
_NOT_CALLS = frozenset("Ok Err Some None Box Vec String Rc Arc Option Result Self super".split())

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
_PRINT_RE = re.compile(
    r"\b(?:print|println|printf|puts|eprintln|dbg|System\.out\.print\w*|System\.err\.print\w*|fmt\.Print\w*"
    r"|console\.(?:log|error|warn|debug|info)|Console\.Write\w*|logging\.\w+|logger\.\w+|log\.\w+|echo)\b"
    r"|\bstd::(?:cout|cerr)\b|^\s*(?:cout|cerr)\s*<<")
_IF_RE = re.compile(r"^\s*(?:\}\s*)?(?:else\s*)?(?:if|elif|elsif|unless)\b\s*(.*?)\s*(?::|\{|then)?\s*$")
_LOOP_RE = re.compile(r"^\s*(?:for|while|foreach|loop)\b(.*)$")
_FOR_IN_RE = re.compile(r"^\s*+for\s*+\(?\s*+(?:(?:const|let|var|auto&?|\w+)\s++)?([\w(][\w, ()]{0,39}?)\s++"
                        r"(?:in|of|:)\s++([\w.\[\]()]{1,40}?)\s*+\)?\s*+[:{]?\s*+$")
# Lines are cut to this many characters before any pattern sees them (minified code, generated tables).
_MAX_LINE = 400
_TRY_RE = re.compile(r"^\s*(?:\}\s*)?(?:try\b|except\b|catch\b|rescue\b|finally\b)")
_EXC_RE = re.compile(r"^\s*(?:\}\s*)?(?:except|catch|rescue)\s*\(?\s*([A-Za-z_][\w.:]*)")
_RAISE_RE = re.compile(r"^\s*(?:raise|throw)\s+(?:new\s+)?([A-Za-z_][\w.:]*)")
_RETURN_RE = re.compile(r"^\s*return\b\s*(.*?)\s*;?\s*$")
_ASSIGN_RE = re.compile(r"^\s*(?:(?:let|const|var|auto|int|long|float|double|char|bool|boolean|String|string"
                        r"|size_t|val|my|local|final|static)\s+(?:mut\s+)?)*([A-Za-z_$][\w$]*)\s*(?::\s*[\w<>\[\], ]+)?"
                        r"\s*(?::=|=(?!=))\s*(.+?)\s*;?\s*$")
_CALL_RE = re.compile(r"(?<![\w.$])([A-Za-z_$][\w$]*)\s*\(")
_TOKEN_RE = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\d+(?:\.\d+)?[A-Za-z]*|[A-Za-z_$][\w$]*"
                       r"|==|!=|<=|>=|&&|\|\||<<|>>|\+=|-=|\*=|/=|\+\+|--|->|=>|::|\S")
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")

_HASH_COMMENT_LANGS = frozenset(
    "python shell ruby perl r yaml toml makefile elixir julia cmake dockerfile nim crystal".split())
_METHOD_LANGS = frozenset("java c# kotlin scala".split())


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _is_comment(line: str, lang: str) -> bool:
    s = line.strip()
    if not s:
        return False
    if s.startswith(("//", "/*", "*/", "<!--", '"""', "'''")) or s == "*" or s.startswith("* "):
        return True
    if s.startswith("#"):
        return lang in _HASH_COMMENT_LANGS or (lang == "" and (s == "#" or s.startswith("# ")))
    return s.startswith("--") and lang in ("sql", "lua", "haskell")


@lru_cache(maxsize=1 << 16)
def _definition(line: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``(kind, name, parameter names)`` when ``line`` opens a function/class definition, else ``None``.
    Memoized: the same lines come back in every query about one file."""
    m = _CLASS_RE.match(line)
    if m:
        return m.group(1), m.group(2), ()
    for k, rx in enumerate(_FUNC_RES):
        m = rx.match(line)
        if m and m.group(1).split("::")[-1] not in _CONTROL and not (k in (2, 3) and _not_a_definition(line)):
            rest = next((g for g in m.groups()[1:] if g is not None), "")
            go = re.match(r"\s*func\b", line) is not None
            return "function", m.group(1), tuple(_params(rest, name_first=go))
    return None


def _not_a_definition(line: str) -> bool:
    """Statements the C-like definition patterns would otherwise take for one: control statements and
    block openers ending in ``:`` (``for x in f(a):``, ``raise E(...)``), assignments."""
    s = line.strip()
    first = re.match(r"[A-Za-z_]\w*", s)
    if first and first.group(0) in _CONTROL | _STATEMENT_WORDS:
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
            names.append(words[0] if name_first or (len(words) > 1 and words[-1] in _TYPES) else words[-1])
    return [n for n in names if n not in _TYPES]


@dataclass
class Run:
    """One run of consecutive changed lines of a diff: ``removed`` / ``added`` lines (without their
    prefix), the 1-based ``line`` of ``current`` where it starts, and ``scope``: ``(kind, name)`` of the
    definition enclosing it in ``current`` (``None`` at top level, or when ``current`` is unknown)."""

    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    line: int = 1
    scope: tuple[str, str] | None = None


@dataclass
class DiffFacts:
    """A unified diff read for phrasing: its ``runs`` in order, ``hunks`` count and ``lang``."""

    runs: list[Run] = field(default_factory=list)
    hunks: int = 0
    lang: str = ""

    @property
    def added(self) -> list[str]:
        """Every added line (without its ``+``), in diff order."""
        return [ln for r in self.runs for ln in r.added]

    @property
    def removed(self) -> list[str]:
        """Every removed line (without its ``-``), in diff order."""
        return [ln for r in self.runs for ln in r.removed]


def analyze_diff(diff: str, current: str | list[str] = "", lang: str = "") -> DiffFacts:
    """Read a unified diff (SPEC 2, no ``---``/``+++`` header) of ``current`` (text, or its lines) into
    :class:`DiffFacts`. Hunk positions are 1-based lines of ``current``. Never raises."""
    facts = DiffFacts(lang=lang)
    cur_lines = current.split("\n") if isinstance(current, str) and current else list(current)
    old_line, run = 1, None
    for line in diff.split("\n"):
        m = _HUNK_RE.match(line)
        if m:
            facts.hunks += 1
            old_line = int(m.group(1)) + (1 if m.group(2) == "0" else 0)
            run = None
            continue
        tag, body = line[:1], line[1:]
        if line and tag in "-+":
            if run is None:
                run = Run(line=old_line)
                if cur_lines:
                    run.scope = _enclosing(cur_lines, old_line - 1, _indent(body))
                facts.runs.append(run)
            (run.removed if tag == "-" else run.added).append(body[:_MAX_LINE])
            old_line += tag == "-"
        else:
            run = None
            old_line += 1
    for run in facts.runs:  # a changed definition line: the change is inside that definition
        in_added = _defs(run.added)
        common = [d for d in _defs(run.removed) if d in in_added]
        if common and run.removed and _definition(run.removed[0]) is not None:
            run.scope = ("function", common[0])
    return facts


def _enclosing(lines: list[str], index: int, indent: int) -> tuple[str, str] | None:
    """The definition enclosing 0-based line ``index`` of ``lines`` for code at indentation ``indent``.

    Scans upward: a non-blank line with less indentation is a structural parent; the first parent that
    is a definition wins, and a top-level parent that is not one ends the search.
    """
    threshold = indent
    for i in range(min(index, len(lines)) - 1, -1, -1):
        line = lines[i][:_MAX_LINE]
        if not line.strip():
            continue
        ind = _indent(line)
        if ind < threshold:
            d = _definition(line)
            if d is not None:
                return d[0], d[1]
            if ind == 0:
                return None
            threshold = ind
    return None


def _short(code: str, limit: int = 56) -> str | None:
    """``code`` stripped (and without a final ``;``), if it fits in backticks on one short line."""
    s = code.strip().rstrip(";").strip()
    if not s or "`" in s or len(s) > limit:
        return None
    return s


def _is_ident(tok: str) -> bool:
    return re.fullmatch(r"[A-Za-z_$][\w$]*", tok) is not None


def _is_literal(tok: str) -> bool:
    return tok[:1] in "\"'" or tok[:1].isdigit()


def _defs(lines: list[str]) -> dict[str, tuple[str, tuple[str, ...], bool, int]]:
    """Definitions opened in ``lines``: name -> (kind, parameter names, indented, index in lines)."""
    out: dict[str, tuple[str, tuple[str, ...], bool, int]] = {}
    for i, line in enumerate(lines):
        d = _definition(line)
        if d is not None and d[1] not in out:
            out[d[1]] = (d[0], d[2], _indent(line) > 0, i)
    return out


def _imports(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        for rx in _IMPORT_RES:
            m = rx.search(line)
            if m and m.group(1) not in out:
                out.append(m.group(1))
                break
    return out


# ---------------------------------------------------------------------------------------------- phrasing
# verb -> (imperative, past, perfect participle, third person)
_VERBS: dict[str, tuple[str, str, str, str]] = {}
for _v in ("add", "remove", "rename", "change", "update", "import", "handle", "introduce", "call", "print",
           "include", "extend", "check", "use", "return", "clean", "declare"):
    _past = _v + ("d" if _v.endswith("e") else "ed")
    _VERBS[_v] = (_v, _past, _past, _v + "s")
_VERBS.update({
    "reformat": ("reformat", "reformatted", "reformatted", "reformats"),
    "set": ("set", "set", "set", "sets"),
    "make": ("make", "made", "made", "makes"),
    "rewrite": ("rewrite", "rewrote", "rewritten", "rewrites"),
    "catch": ("catch", "caught", "caught", "catches"),
    "raise": ("raise", "raised", "raised", "raises"),
    "drop": ("drop", "dropped", "dropped", "drops"),
    "touch": ("touch", "touched", "touched", "touches"),
})

# Action ranks: lower is more important when a diff does more than the reply can say.
_R_DEF, _R_FEATURE, _R_SUB, _R_IMPORT, _R_COMMENT, _R_OTHER, _R_TRIVIAL = range(7)


@dataclass
class Action:
    """One thing a change does: ``verb`` (a key of the verb table), the ``obj`` phrase after it, a
    ``scope`` phrase (``" in `main`"``), a short ``why`` clause for the chat message, a ``rank``
    (lower = more important), the index of its ``run``, and an optional follow-up action ``then``."""

    verb: str
    obj: str
    why: str = ""
    scope: str = ""
    rank: int = _R_OTHER
    run: int = 0
    then: Action | None = None

    def form(self, i: int) -> str:
        """``i`` = 0 imperative, 1 past, 2 perfect, 3 third person; without the scope."""
        text = f"{_VERBS[self.verb][i]} {self.obj}"
        return text + (f" and {self.then.form(i)}{self.then.scope}" if self.then else "")


def phrase(actions: Sequence[Action], i: int) -> str:
    """The actions as one clause in verb form ``i`` (see :meth:`Action.form`): a shared scope is said
    once, after the last action that has it, a scope the action already names is left out, and two
    actions with the same verb share it."""

    def scoped(a: Action, text: str, before: str = "") -> str:
        name = a.scope.split("`")[1] if a.scope.count("`") == 2 else None
        return text if name and f"`{name}`" in before + text else text + a.scope

    if len(actions) == 2 and actions[0].verb == actions[1].verb and actions[0].then is None \
            and actions[0].scope == actions[1].scope and " that " not in actions[0].obj:
        a, b = actions
        return scoped(b, f"{a.form(i)} and {b.obj}")
    parts: list[str] = []
    for k, a in enumerate(actions):
        same_next = k + 1 < len(actions) and actions[k + 1].scope == a.scope
        parts.append(a.form(i) if same_next else scoped(a, a.form(i), " ".join(parts)))
    if len(parts) == 1:
        return parts[0]
    glue = ", and " if any(a.then or " that " in a.obj for a in actions) else " and "
    return ", ".join(parts[:-1]) + glue + parts[-1]


def _kind_word(kind: str, lang: str, indented: bool) -> str:
    if kind != "function":
        return kind
    if lang in _METHOD_LANGS or (indented and lang in ("python", "ruby", "javascript", "typescript", "php")):
        return "method"
    return "function"


def _scope_phrase(scope: tuple[str, str] | None) -> str:
    if scope is None:
        return ""
    kind, name = scope
    return f" in `{name}`" if kind == "function" else f" in the `{name}` {kind}"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeio" else "a"


def _join_names(names: Sequence[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _print_args(line: str) -> str | None:
    """The printed expression of an output statement (``print(x)``, ``puts x``, ``cout << x``), if short."""
    if "<<" in line:
        parts = [p.strip().rstrip(";").strip() for p in line.split("<<")[1:]]
        parts = [p for p in parts if p not in ("endl", "std::endl", "'\\n'", '"\\n"')]
        return _short(" << ".join(parts), 40) if parts else None
    m = _PRINT_RE.search(line)
    if m is None:
        return None
    rest = line[m.end():].strip()
    if rest.startswith("!"):
        rest = rest[1:]
    if rest.startswith("("):
        depth = 0
        for i, ch in enumerate(rest):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                return _short(rest[1:i], 40)
        return None
    return _short(rest, 40)


def _condition(cond: str) -> str | None:
    """A phrase for a new condition: ``not xs`` -> "an empty `xs`", ``x is None`` -> "a missing `x`"."""
    c = cond.strip()
    while c.startswith("(") and c.endswith(")"):
        c = c[1:-1].strip()
    if m := re.fullmatch(r"(?:not\s+|!)\s*([\w.]+)", c):
        return f"an empty or missing `{m.group(1)}`"
    if m := re.fullmatch(r"([\w.]+)\s*(?:is|===?)\s*(?:None|null|nil|nullptr|NULL|undefined)", c):
        return f"a missing `{m.group(1)}`"
    if m := re.fullmatch(r"(?:len\(\s*([\w.]+)\s*\)|([\w.]+)\.(?:length|size\(\)|len\(\)))\s*===?\s*0", c):
        return f"an empty `{m.group(1) or m.group(2)}`"
    if m := re.fullmatch(r"([\w.]+)\.(?:empty|is_empty|isEmpty)\(\)", c):
        return f"an empty `{m.group(1)}`"
    s = _short(c, 40)
    return f"the case `{s}`" if s else None


def _retype(a: str, b: str) -> tuple[str, str] | None:
    """``(variable, new type)`` when ``b`` only changes the declared type of ``a``'s variable."""
    ta, tb = _TOKEN_RE.findall(a), _TOKEN_RE.findall(b)
    for k in range(1, min(len(ta), len(tb))):
        if ta[-k:] != tb[-k:]:
            break
        head = ta[-k]
        if _is_ident(head) and (len(ta[-k:]) == 1 or ta[-k + 1] in ("=", ";", ":=", "[", ",")):
            pa, pb = ta[:-k], tb[:-k]
            if pa and pb and pa != pb and all(_is_ident(t) or t in "<>*&:[]" for t in pa + pb):
                return head, " ".join(pb)
    return None


def _substitution_actions(run: Run, scope: str) -> list[Action]:
    """A run that replaces lines one for one, each line changing one token (rename, literal, operator)
    or its declared type, or only whitespace. ``[]`` when the run is anything else."""
    if len(run.removed) != len(run.added) or not run.removed:
        return []
    union: set[tuple[str, str]] = set()
    per_line: list[Action | tuple[str, str] | None] = []
    for a, b in zip(run.removed, run.added, strict=True):
        ta, tb = _TOKEN_RE.findall(a), _TOKEN_RE.findall(b)
        if len(ta) != len(tb):
            if (rt := _retype(a, b)) is None:
                return []
            why = "so it cannot overflow" if "long" in rt[1] or "64" in rt[1] else "so it has the right type"
            per_line.append(Action("make", f"`{rt[0]}` a `{rt[1]}`", why, scope, _R_SUB))
            continue
        pairs = {(x, y) for x, y in zip(ta, tb, strict=True) if x != y}
        if len(pairs) > 1:
            return []
        union |= pairs
        per_line.append(next(iter(pairs)) if pairs else None)
    if all(p is None for p in per_line):
        return [Action("reformat", "the code" if scope else "the indentation", "so the layout is consistent",
                       scope, _R_SUB)]
    if len(union) == 1 and not any(isinstance(p, Action) for p in per_line):
        one = _token_action(*next(iter(union)), run, scope)
        return [one] if one is not None else []
    acts = [p if isinstance(p, Action) else _token_action(*p, run, scope) for p in per_line if p is not None]
    return [a for a in acts if a is not None] if all(a is not None for a in acts) else []


def _token_action(a: str, b: str, run: Run, scope: str) -> Action | None:
    """The action for replacing token ``a`` by ``b`` in the run's lines, or ``None``."""
    if a in _CONTROL or b in _CONTROL:
        return None
    if _is_ident(a) and _is_ident(b):
        if a in _TYPES or b in _TYPES or a in _KEYWORDS or b in _KEYWORDS:
            return Action("use", f"`{b}` instead of `{a}`", "so the value has the right type", scope, _R_SUB)
        return Action("rename", f"`{a}` to `{b}`", "so the name says what it is for", scope, _R_SUB)
    line = next((ln for ln in run.added if b in _TOKEN_RE.findall(ln)), "")
    if _is_literal(a) and _is_literal(b):
        m = _ASSIGN_RE.match(line)
        if m and not _is_literal(m.group(1)):
            return Action("set", f"`{m.group(1)}` to `{b}` instead of `{a}`", "to match the expected value",
                          scope, _R_SUB)
        return Action("change", f"`{a}` to `{b}`", "to match the expected value", scope, _R_SUB)
    if not (_is_ident(a) or _is_ident(b) or _is_literal(a) or _is_literal(b)):
        ctx = " in the loop condition" if _LOOP_RE.match(line) else " in the condition" if _IF_RE.match(line) else ""
        return Action("use", f"`{b}` instead of `{a}`{ctx}", "so the boundary case comes out right", scope, _R_SUB)
    return None


def _comment_actions(run: Run, scope: str, lang: str) -> list[Action]:
    changed = [ln for ln in run.added + run.removed if ln.strip()]
    if not changed or not all(_is_comment(ln, lang) for ln in changed):
        return []
    where = scope if scope or run.line > 2 else " at the top of the file"
    if run.added and run.removed:
        return [Action("update", "the comment", "so it matches what the code does", where, _R_COMMENT)]
    if run.added:
        return [Action("add", "a comment explaining the logic", "to make the intent clearer", where, _R_COMMENT)]
    return [Action("remove", "the outdated comment", "since it no longer described the code", where, _R_COMMENT)]


def _definition_actions(run: Run, scope: str, lang: str) -> tuple[list[Action], bool]:
    """Actions for definitions opened in the run, and whether the run is wholly new definitions."""
    added, removed = _defs(run.added), _defs(run.removed)
    acts: list[Action] = []
    new_only = bool(added)
    for name, (kind, params, indented, at) in added.items():
        if name in removed:
            new_only = False
            old = removed[name][1]
            new_p, gone = [p for p in params if p not in old], [p for p in old if p not in params]
            if len(new_p) == len(gone) == 1:
                acts.append(Action("rename", f"the `{gone[0]}` parameter of `{name}` to `{new_p[0]}`",
                                   "so the name says what it is for", "", _R_DEF))
            elif new_p:
                s = "s" if len(new_p) > 1 else ""
                acts.append(Action("add", f"{'' if s else 'a '}{_join_names(new_p)} parameter{s} to `{name}`",
                                   "so callers can pass it in", "", _R_DEF))
            elif gone:
                s = "s" if len(gone) > 1 else ""
                acts.append(Action("drop", f"the {_join_names(gone)} parameter{s} of `{name}`",
                                   "since it is not needed", "", _R_DEF))
            else:
                acts.append(Action("change", f"the signature of `{name}`", "so callers get what they need",
                                   "", _R_DEF))
            continue
        word = _kind_word(kind, lang, indented)
        detail = f" that takes {_join_names(params[:3])}" if params and kind == "function" else ""
        nxt = min((i for _, _, _, i in added.values() if i > at), default=len(run.added))
        body = run.added[at + 1:nxt]
        rets = [m.group(1) for ln in body if (m := _RETURN_RE.match(ln))]
        prints = [p for ln in body if _PRINT_RE.search(ln) and (p := _print_args(ln))]
        if kind == "function" and len(rets) == 1 and (val := _short(rets[0], 40)):
            detail += f"{' and' if detail else ' that'} returns `{val}`"
        elif kind == "function" and prints and not detail:
            detail = f" that prints `{prints[0]}`"
        why = "to group that state" if kind != "function" else \
            "so the program has an entry point" if name == "main" else "so that logic lives in one place"
        acts.append(Action("add", f"{_article(name)} `{name}` {word}{detail}", why, scope if indented else "",
                           _R_DEF))
    for name, (kind, _, indented, _at) in removed.items():
        if name not in added:
            word = _kind_word(kind, lang, indented)
            acts.append(Action("remove", f"the `{name}` {word}", "since nothing needs it any more",
                               scope if indented else "", _R_DEF))
    return acts, new_only


def _feature_actions(run: Run, scope: str, lang: str) -> list[Action]:
    """Imports, error handling, conditions, loops, returns, output, calls and new variables of a run."""
    acts: list[Action] = []
    new_imports = [i for i in _imports(run.added) if i not in _imports(run.removed)]
    old_imports = [i for i in _imports(run.removed) if i not in _imports(run.added)]
    if new_imports:
        if new_imports[0].startswith(("<", '"')):
            acts.append(Action("include", ", ".join(f"`{n}`" for n in new_imports[:2]), "which the new code needs",
                               "", _R_IMPORT))
        else:
            acts.append(Action("import", _join_names(new_imports[:2]), "which the new code needs", "", _R_IMPORT))
    elif old_imports:
        acts.append(Action("remove", f"the unused import of {_join_names(old_imports[:2])}",
                           "to keep the imports tidy", "", _R_IMPORT))
    added = [ln for ln in run.added if ln.strip() and not _is_comment(ln, lang) and _definition(ln) is None]
    removed = [ln for ln in run.removed if ln.strip() and not _is_comment(ln, lang) and _definition(ln) is None]

    def new(rx: re.Pattern[str]) -> list[str]:
        old = {m.group(1).strip() for ln in removed if (m := rx.match(ln))}
        return [m.group(1).strip() for ln in added if (m := rx.match(ln)) and m.group(1).strip() not in old]

    def feat(verb: str, obj: str, why: str) -> None:
        acts.append(Action(verb, obj, why, scope, _R_FEATURE))

    if excs := new(_EXC_RE):
        feat("catch", f"`{excs[0]}`", "so a bad input is reported instead of crashing")
    elif any(_TRY_RE.match(ln) for ln in added) and not any(_TRY_RE.match(ln) for ln in removed):
        feat("add", "error handling", "so failures are reported instead of crashing")
    if raises := new(_RAISE_RE):
        feat("raise", f"a `{raises[0]}` on invalid input", "so the caller sees what went wrong")
    if conds := new(_IF_RE):
        if conds[0].strip("()") == "err != nil":
            feat("check", "the returned error", "so failures are not silently ignored")
        elif what := _condition(conds[0]):
            feat("handle", what, "so that edge case is covered")
        else:
            feat("add", "a check for the special case", "so that edge case is covered")
    loops = [ln for ln in added if _LOOP_RE.match(ln)]
    if loops and not any(_LOOP_RE.match(ln) for ln in removed):
        m = _FOR_IN_RE.match(loops[0])
        seq = m.group(2) + ")" * (m.group(2).count("(") - m.group(2).count(")")) if m else ""
        over = f" over `{seq}`" if _short(seq, 30) else ""
        feat("add", f"a loop{over}", "so every item is processed")
    rets = new(_RETURN_RE)
    if len(rets) == 1 and (val := _short(rets[0], 40)) and not acts:
        if run.scope and run.scope[0] == "function":
            acts.append(Action("make", f"`{run.scope[1]}` return `{val}`", "so the caller gets the result", "",
                               _R_FEATURE))
        else:
            feat("return", f"`{val}`", "so the caller gets the result")
    prints_new = [ln for ln in added if _PRINT_RE.search(ln)]
    prints_old = [ln for ln in removed if _PRINT_RE.search(ln)]
    if prints_old and not prints_new and 2 * len(prints_old) >= len(removed):
        feat("remove", "the debug output", "to keep the output clean")
    elif prints_new and not prints_old and not acts:
        what = _print_args(prints_new[0])
        feat("print", f"`{what}`" if what else "the result", "so the program shows its answer")
    old_calls = {c for ln in removed for c in _CALL_RE.findall(ln)}
    calls = [c for ln in added for c in _CALL_RE.findall(ln)
             if c not in old_calls and c not in _KEYWORDS and c not in _CONTROL and c not in _NOT_CALLS]
    if calls and not acts:
        feat("call", f"`{calls[0]}`", "so that step actually runs")
    old_vars = {m.group(1) for ln in removed if (m := _ASSIGN_RE.match(ln))}
    new_vars = [m.group(1) for ln in added if (m := _ASSIGN_RE.match(ln))
                and m.group(1) not in old_vars and m.group(1) not in _KEYWORDS]
    if new_vars and not acts:
        feat("introduce", f"a `{new_vars[0]}` variable", "to keep the intermediate value")
    return acts


def _fallback_actions(run: Run, scope: str) -> list[Action]:
    added = [ln for ln in run.added if ln.strip()]
    removed = [ln for ln in run.removed if ln.strip()]
    if len(added) == 1 and len(removed) == 1 and (a := _short(removed[0])) and (b := _short(added[0])):
        return [Action("change", f"`{a}` to `{b}`", "so it does the right thing", scope)]
    if len(added) == 1 and not removed and (b := _short(added[0])):
        return [Action("add", f"`{b}`", "which was missing", scope)]
    if len(removed) == 1 and not added and (a := _short(removed[0])):
        return [Action("remove", f"`{a}`", "since it is not needed", scope)]
    if not added and not removed:
        return [Action("clean", "up the blank lines", "so the layout is consistent", scope, _R_TRIVIAL)]
    if run.scope and run.scope[0] == "function":
        name = run.scope[1]
        if len(added) > 2 * max(1, len(removed)):
            return [Action("extend", f"`{name}` with the missing steps", "so it does the whole job")]
        if len(removed) > 2 * max(1, len(added)):
            return [Action("clean", f"up `{name}`", "so it is shorter and easier to follow")]
        return [Action("rewrite", f"the body of `{name}`", "so it handles the input correctly")]
    if added and not removed:
        return [Action("add", "the missing code", "so the program is complete", scope)]
    if removed and not added:
        return [Action("remove", "the leftover code", "since it is not needed", scope)]
    return [Action("update", "the logic", "so it behaves as intended", scope)]


def _run_actions(run: Run, lang: str) -> list[Action]:
    scope = _scope_phrase(run.scope)
    acts = _substitution_actions(run, scope) or _comment_actions(run, scope, lang)
    if not acts:
        acts, new_only = _definition_actions(run, scope, lang)
        if not new_only:
            acts += _feature_actions(run, scope, lang)
    return acts or _fallback_actions(run, scope)


def describe_actions(facts: DiffFacts, limit: int = 2) -> list[Action]:
    """Up to ``limit`` :class:`Action` s describing a diff: per run of changed lines, the most specific
    reading (substitution, comment, definitions, features, fallback); the same action in several runs is
    said once (a rename everywhere); a call of a newly defined function joins its definition; then the
    most important first. Empty only when the diff changes nothing."""
    acts: list[Action] = []
    for k, run in enumerate(facts.runs):
        for a in _run_actions(run, facts.lang):
            a.run = k
            twin = next((b for b in acts if b.verb == a.verb and b.obj == a.obj), None)
            if twin is None:
                acts.append(a)
            elif twin.scope != a.scope:
                twin.scope = " everywhere it is used" if a.verb == "rename" else ""
    new_defs = {a.obj.split("`")[1]: a for a in acts if a.verb == "add" and a.obj.startswith(("a `", "an `"))}
    for a in list(acts):
        if a.verb == "call" and (d := new_defs.get(a.obj.strip("`"))) is not None and d.then is None:
            d.then = Action("call", "it", scope=f" from `{a.scope.split('`')[1]}`" if "`" in a.scope else "")
            acts.remove(a)
    acts.sort(key=lambda a: (a.rank, a.run))
    if acts and acts[0].rank < _R_TRIVIAL:
        acts = [a for a in acts if a.rank < _R_TRIVIAL]
    return acts[:limit]


def count_phrase(facts: DiffFacts) -> str:
    """The diff's size in words: ``"3 lines added, 1 line removed"``; ``""`` when no line changed."""
    a, r = len(facts.added), len(facts.removed)
    parts = []
    if a:
        parts.append(f"{a} line{'s' if a != 1 else ''} added")
    if r:
        parts.append(f"{r} line{'s' if r != 1 else ''} removed")
    return ", ".join(parts)
