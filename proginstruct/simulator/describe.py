"""Describe a code change in words: the phrasing half of the simulated model's diff descriptions.

:func:`describe_actions` turns the :class:`~proginstruct.simulator.diff_facts.DiffFacts` of a diff into a
few :class:`Action` s (identifiers defined or renamed, literals, operators and types changed, imports,
conditions, loops, error handling, output, comments), the most important first, and :func:`phrase` says
them as one English clause in a chosen verb form. :func:`count_phrase` gives the added/removed line
counts in words.

Cheap heuristics over single lines (:mod:`proginstruct.simulator.code_lines`), no parser. Pure functions,
deterministic, never raise. The replies that use these phrases are :mod:`proginstruct.simulator.replies`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .code_lines import (
    ASSIGN_RE,
    CALL_RE,
    CONTROL,
    EXC_RE,
    FOR_IN_RE,
    IF_RE,
    KEYWORDS,
    LOOP_RE,
    PRINT_RE,
    RAISE_RE,
    RETURN_RE,
    TOKEN_RE,
    TRY_RE,
    TYPES,
    definition_of,
    definitions_in,
    imports_in,
    is_comment,
    is_ident,
    is_literal,
    short_code,
)
from .diff_facts import DiffFacts, Run

_NOT_CALLS = frozenset("Ok Err Some None Box Vec String Rc Arc Option Result Self super".split())
_METHOD_LANGS = frozenset("java c# kotlin scala".split())

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
        return short_code(" << ".join(parts), 40) if parts else None
    m = PRINT_RE.search(line)
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
                return short_code(rest[1:i], 40)
        return None
    return short_code(rest, 40)


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
    s = short_code(c, 40)
    return f"the case `{s}`" if s else None


def _retype(a: str, b: str) -> tuple[str, str] | None:
    """``(variable, new type)`` when ``b`` only changes the declared type of ``a``'s variable."""
    ta, tb = TOKEN_RE.findall(a), TOKEN_RE.findall(b)
    for k in range(1, min(len(ta), len(tb))):
        if ta[-k:] != tb[-k:]:
            break
        head = ta[-k]
        if is_ident(head) and (len(ta[-k:]) == 1 or ta[-k + 1] in ("=", ";", ":=", "[", ",")):
            pa, pb = ta[:-k], tb[:-k]
            if pa and pb and pa != pb and all(is_ident(t) or t in "<>*&:[]" for t in pa + pb):
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
        ta, tb = TOKEN_RE.findall(a), TOKEN_RE.findall(b)
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
    if a in CONTROL or b in CONTROL:
        return None
    if is_ident(a) and is_ident(b):
        if a in TYPES or b in TYPES or a in KEYWORDS or b in KEYWORDS:
            return Action("use", f"`{b}` instead of `{a}`", "so the value has the right type", scope, _R_SUB)
        return Action("rename", f"`{a}` to `{b}`", "so the name says what it is for", scope, _R_SUB)
    line = next((ln for ln in run.added if b in TOKEN_RE.findall(ln)), "")
    if is_literal(a) and is_literal(b):
        m = ASSIGN_RE.match(line)
        if m and not is_literal(m.group(1)):
            return Action("set", f"`{m.group(1)}` to `{b}` instead of `{a}`", "to match the expected value",
                          scope, _R_SUB)
        return Action("change", f"`{a}` to `{b}`", "to match the expected value", scope, _R_SUB)
    if not (is_ident(a) or is_ident(b) or is_literal(a) or is_literal(b)):
        ctx = " in the loop condition" if LOOP_RE.match(line) else " in the condition" if IF_RE.match(line) else ""
        return Action("use", f"`{b}` instead of `{a}`{ctx}", "so the boundary case comes out right", scope, _R_SUB)
    return None


def _comment_actions(run: Run, scope: str, lang: str) -> list[Action]:
    changed = [ln for ln in run.added + run.removed if ln.strip()]
    if not changed or not all(is_comment(ln, lang) for ln in changed):
        return []
    where = scope if scope or run.line > 2 else " at the top of the file"
    if run.added and run.removed:
        return [Action("update", "the comment", "so it matches what the code does", where, _R_COMMENT)]
    if run.added:
        return [Action("add", "a comment explaining the logic", "to make the intent clearer", where, _R_COMMENT)]
    return [Action("remove", "the outdated comment", "since it no longer described the code", where, _R_COMMENT)]


def _definition_actions(run: Run, scope: str, lang: str) -> tuple[list[Action], bool]:
    """Actions for definitions opened in the run, and whether the run is wholly new definitions."""
    added, removed = definitions_in(run.added), definitions_in(run.removed)
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
        rets = [m.group(1) for ln in body if (m := RETURN_RE.match(ln))]
        prints = [p for ln in body if PRINT_RE.search(ln) and (p := _print_args(ln))]
        if kind == "function" and len(rets) == 1 and (val := short_code(rets[0], 40)):
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
    new_imports = [i for i in imports_in(run.added) if i not in imports_in(run.removed)]
    old_imports = [i for i in imports_in(run.removed) if i not in imports_in(run.added)]
    if new_imports:
        if new_imports[0].startswith(("<", '"')):
            acts.append(Action("include", ", ".join(f"`{n}`" for n in new_imports[:2]), "which the new code needs",
                               "", _R_IMPORT))
        else:
            acts.append(Action("import", _join_names(new_imports[:2]), "which the new code needs", "", _R_IMPORT))
    elif old_imports:
        acts.append(Action("remove", f"the unused import of {_join_names(old_imports[:2])}",
                           "to keep the imports tidy", "", _R_IMPORT))
    added = [ln for ln in run.added if ln.strip() and not is_comment(ln, lang) and definition_of(ln) is None]
    removed = [ln for ln in run.removed if ln.strip() and not is_comment(ln, lang) and definition_of(ln) is None]

    def new(rx: re.Pattern[str]) -> list[str]:
        old = {m.group(1).strip() for ln in removed if (m := rx.match(ln))}
        return [m.group(1).strip() for ln in added if (m := rx.match(ln)) and m.group(1).strip() not in old]

    def feat(verb: str, obj: str, why: str) -> None:
        acts.append(Action(verb, obj, why, scope, _R_FEATURE))

    if excs := new(EXC_RE):
        feat("catch", f"`{excs[0]}`", "so a bad input is reported instead of crashing")
    elif any(TRY_RE.match(ln) for ln in added) and not any(TRY_RE.match(ln) for ln in removed):
        feat("add", "error handling", "so failures are reported instead of crashing")
    if raises := new(RAISE_RE):
        feat("raise", f"a `{raises[0]}` on invalid input", "so the caller sees what went wrong")
    if conds := new(IF_RE):
        if conds[0].strip("()") == "err != nil":
            feat("check", "the returned error", "so failures are not silently ignored")
        elif what := _condition(conds[0]):
            feat("handle", what, "so that edge case is covered")
        else:
            feat("add", "a check for the special case", "so that edge case is covered")
    loops = [ln for ln in added if LOOP_RE.match(ln)]
    if loops and not any(LOOP_RE.match(ln) for ln in removed):
        m = FOR_IN_RE.match(loops[0])
        seq = m.group(2) + ")" * (m.group(2).count("(") - m.group(2).count(")")) if m else ""
        over = f" over `{seq}`" if short_code(seq, 30) else ""
        feat("add", f"a loop{over}", "so every item is processed")
    rets = new(RETURN_RE)
    if len(rets) == 1 and (val := short_code(rets[0], 40)) and not acts:
        if run.scope and run.scope[0] == "function":
            acts.append(Action("make", f"`{run.scope[1]}` return `{val}`", "so the caller gets the result", "",
                               _R_FEATURE))
        else:
            feat("return", f"`{val}`", "so the caller gets the result")
    prints_new = [ln for ln in added if PRINT_RE.search(ln)]
    prints_old = [ln for ln in removed if PRINT_RE.search(ln)]
    if prints_old and not prints_new and 2 * len(prints_old) >= len(removed):
        feat("remove", "the debug output", "to keep the output clean")
    elif prints_new and not prints_old and not acts:
        what = _print_args(prints_new[0])
        feat("print", f"`{what}`" if what else "the result", "so the program shows its answer")
    old_calls = {c for ln in removed for c in CALL_RE.findall(ln)}
    calls = [c for ln in added for c in CALL_RE.findall(ln)
             if c not in old_calls and c not in KEYWORDS and c not in CONTROL and c not in _NOT_CALLS]
    if calls and not acts:
        feat("call", f"`{calls[0]}`", "so that step actually runs")
    old_vars = {m.group(1) for ln in removed if (m := ASSIGN_RE.match(ln))}
    new_vars = [m.group(1) for ln in added if (m := ASSIGN_RE.match(ln))
                and m.group(1) not in old_vars and m.group(1) not in KEYWORDS]
    if new_vars and not acts:
        feat("introduce", f"a `{new_vars[0]}` variable", "to keep the intermediate value")
    return acts


def _fallback_actions(run: Run, scope: str) -> list[Action]:
    added = [ln for ln in run.added if ln.strip()]
    removed = [ln for ln in run.removed if ln.strip()]
    if len(added) == 1 and len(removed) == 1 and (a := short_code(removed[0])) and (b := short_code(added[0])):
        return [Action("change", f"`{a}` to `{b}`", "so it does the right thing", scope)]
    if len(added) == 1 and not removed and (b := short_code(added[0])):
        return [Action("add", f"`{b}`", "which was missing", scope)]
    if len(removed) == 1 and not added and (a := short_code(removed[0])):
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
