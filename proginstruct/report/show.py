"""``proginstruct show``: samples rendered for a person (docs/formats.md).

For each sample: a header (source, id, language, sample type, target area, model), the history as
coloured unified diffs between consecutive snapshots, the current code syntax-highlighted with the
cursor marked (``┃``) or the selected range bracketed (``⟦ ⟧``) and highlighted, the instruction, the assistant's edit as a
diff current -> next and the chat. With a format (``wf``, ``lc``, ``sr``) the sample's training
conversation is printed turn by turn instead. Code is never read as Rich markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text

from ..area.stage import loc_kind
from ..export.formats import conversation
from ..samples import sample_type
from ..text import unified_diff

CURSOR = "┃"
RANGE_OPEN, RANGE_CLOSE = "⟦", "⟧"
THEME = "ansi_dark"  # the terminal's own colours
LEXERS = {"c++": "cpp", "c#": "csharp", "shell": "bash", "": "text", "f#": "fsharp", "objective-c": "objective-c"}


def lexer_name(lang: str) -> str:
    """The Pygments lexer for a SPEC 0 language name (``"c++"`` -> ``"cpp"``); unknown names render as plain text."""
    return LEXERS.get(lang, lang)


def matches(sample: dict[str, Any], sources: Iterable[str] = (), langs: Iterable[str] = (),
            types: Iterable[str] = (), locs: Iterable[str] = (), ids: Iterable[str] = (),
            prompt_versions: Iterable[str] = ()) -> bool:
    """Whether ``sample`` passes the filters: each non-empty filter is a set of accepted values (any of
    them), and all filters must pass. ``types`` are ``C`` / ``H,C`` / ``C,U`` / ``H,C,U``, ``locs`` are
    ``none`` / ``cursor`` / ``range``, ``prompt_versions`` the samples' ``prompt_version``."""
    checks = (
        (sources, sample.get("source") or ""),
        (langs, sample["current"].get("lang") or ""),
        (types, sample_type(sample)),
        (locs, loc_kind(sample.get("loc"))),
        (ids, str(sample.get("id", ""))),
        (prompt_versions, str(sample.get("prompt_version") or "")),
    )
    return all(not want or value in set(want) for want, value in checks)


def select(samples: Iterable[dict[str, Any]], skip: int = 0, limit: int | None = None,
           **filters: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index in the file, sample)`` of the samples passing :func:`matches`, after skipping ``skip``
    matches, at most ``limit`` (``None`` = all)."""
    shown = seen = 0
    for index, sample in enumerate(samples):
        if limit is not None and shown >= limit:
            return
        if not matches(sample, **filters):
            continue
        seen += 1
        if seen <= skip:
            continue
        shown += 1
        yield index, sample


def _position(code: str, offset: int) -> tuple[int, int]:
    """(1-based line, 0-based column) of a character offset, for ``Syntax.stylize_range``."""
    before = code[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1)


def current_view(code: str, lang: str, loc: Any) -> Syntax:
    """The current code highlighted and line-numbered, with the cursor marked ``┃`` or the range
    bracketed ``⟦ ... ⟧`` and in reverse video (visible without colours too)."""
    if isinstance(loc, list) and loc[0] == loc[1]:
        loc = loc[0]
    marks: list[tuple[int, int]] = []  # (start, end) offsets in the marked code to stylize
    if isinstance(loc, int):
        code = code[:loc] + CURSOR + code[loc:]
        marks.append((loc, loc + 1))
    elif isinstance(loc, list):
        s, e = loc
        code = code[:s] + RANGE_OPEN + code[s:e] + RANGE_CLOSE + code[e:]
        marks.append((s, e + 2))
    syntax = Syntax(code, lexer_name(lang), theme=THEME, line_numbers=True, word_wrap=True)
    for start, end in marks:
        style = "bold reverse magenta" if end - start == 1 else "reverse"
        syntax.stylize_range(style, _position(code, start), _position(code, end))
    return syntax


def _diff_view(a: str, b: str) -> RenderableType:
    diff = unified_diff(a, b)
    return Syntax(diff, "diff", theme=THEME, word_wrap=True) if diff else Text("(no change)", style="dim")


def _loc_text(loc: Any) -> str:
    kind = loc_kind(loc)
    return {"none": "no area", "cursor": f"cursor at {loc}", "range": f"range {loc}"}[kind]


def sample_view(index: int, sample: dict[str, Any], fmt: str | None = None) -> RenderableType:
    """One sample as a Rich renderable; ``fmt`` ``"wf"`` / ``"lc"`` / ``"sr"`` shows its conversation instead.
    Raises ``ValueError`` when ``loc`` does not fit the current code."""
    cur, nxt = sample["current"], sample["next"]
    lang = cur.get("lang") or ""
    title = Text.assemble(
        (f"#{index} ", "bold"), f"{sample.get('source') or '?'} · {sample.get('id', '?')} · {lang or 'no lang'} · ",
        (sample_type(sample), "bold"), f" · {_loc_text(sample.get('loc'))} · model {sample.get('model') or '?'}",
    )
    parts: list[RenderableType] = [Rule(title, align="left")]
    if fmt:
        for turn in conversation(sample, fmt):
            parts.append(Panel(Text(turn["content"]), title=f"{fmt} · {turn['role']}", title_align="left",
                               border_style="cyan" if turn["role"] == "assistant" else "dim"))
        return Group(*parts)
    snaps = [*(sample.get("history") or []), cur]
    for k in range(len(snaps) - 1):
        to = "current" if k + 1 == len(snaps) - 1 else f"history {k + 2}"
        parts.append(Panel(_diff_view(snaps[k]["code"], snaps[k + 1]["code"]),
                           title=f"history {k + 1} → {to}", title_align="left", border_style="dim"))
    parts.append(Panel(current_view(cur["code"], lang, sample.get("loc")), title="current", title_align="left",
                       border_style="blue"))
    if sample.get("user"):
        parts.append(Panel(Text(sample["user"]), title="user", title_align="left", border_style="green"))
    if nxt["code"] == cur["code"]:
        edit: RenderableType = Text("(no change: the assistant leaves the code as it is)", style="yellow")
    else:
        edit = _diff_view(cur["code"], nxt["code"])
    parts.append(Panel(edit, title="assistant: current → next", title_align="left", border_style="cyan"))
    if sample.get("chat"):
        parts.append(Panel(Text(sample["chat"]), title="chat", title_align="left", border_style="cyan"))
    return Group(*parts)


def show(samples: Iterable[tuple[int, dict[str, Any]]], console: Console, fmt: str | None = None) -> int:
    """Print every ``(index, sample)`` to ``console``; returns how many were printed."""
    n = 0
    for index, sample in samples:
        console.print(sample_view(index, sample, fmt))
        console.print()
        n += 1
    return n
