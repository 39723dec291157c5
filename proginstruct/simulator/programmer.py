"""Simulated answers to the programmer role (SPEC 5): plausible version histories, no language model.

:func:`reply` reads the persona from the system message (``Persona: novice|ordinary|expert``, else the
first persona word it contains, else ``ordinary``) and the finished code from the last fenced block of
the last user message, and writes the versions as fenced blocks. Histories differ by persona:

- ``novice``: small steps top-down (4-7 versions); one version (sometimes two) holds a mistake, a
  wrong operator or bound, an off-by-one constant, a missing ``:``/``;``/bracket or a misspelled
  name, which a later version fixes;
- ``ordinary``: a draft of the first part, then a few growing steps (3-5 versions), comments
  sometimes added last;
- ``expert``: fewer, larger steps (2-3 versions): most of the file at once, or everything but the
  comments.

Every reply satisfies :func:`proginstruct.roles.programmer.check_history` (checked before returning;
a minimal two-version history is the fallback). Deterministic: the reply depends only on the messages
(its RNG is seeded from their SHA-256). The simulated model (:mod:`proginstruct.simulator.replies`)
calls :func:`reply` for system messages that carry none of the other roles' markers.
"""

from __future__ import annotations

import random
import re

from ..roles.programmer import PERSONAS, check_history, fence_code, fenced_blocks, line_count, same_code
from ..seeding import derive_seed
from .protocol import count_tokens, last_user_text, message_text, request_digest

# Most tokens (protocol.count_tokens: whitespace-separated) a reply's code may hold: below the SPEC 9
# max_tokens (3072), which the simulator enforces in the same tokens, leaving room for the notes between
# blocks.
REPLY_TOKEN_BUDGET = 2600

NO_CODE_REPLY = "I'm sorry, I could not find the finished code in your message."

_PERSONA_TAG = re.compile(r"persona:\s*\**\s*(novice|ordinary|expert)", re.IGNORECASE)

# line-comment prefixes by language (a line whose stripped text starts with one is a comment line)
_HASH = ("python", "shell", "ruby", "perl", "r", "julia", "elixir", "yaml", "toml", "makefile", "cmake",
         "dockerfile")
_SLASH = ("c", "c++", "c#", "java", "javascript", "typescript", "go", "rust", "kotlin", "scala", "swift",
          "php", "dart", "objective-c", "objective-c++", "css", "scss")
_DASH = ("sql", "lua", "haskell")

# (pattern, replacement) mistakes a beginner makes; logic first, then syntax
_LOGIC = [
    (r"<=", "<"), (r">=", ">"), (r"(?<![<>=!-])<(?![<=-])", "<="), (r"(?<![<>=!-])>(?![>=])", ">="),
    (r"==", "!="), (r"!=", "=="), (r"\band\b", "or"), (r"\bor\b", "and"), (r"&&", "||"), (r"\|\|", "&&"),
    (r"\+ 1\b", "- 1"), (r"- 1\b", "+ 1"), (r"\bTrue\b", "False"), (r"\btrue\b", "false"),
    (r"\bFalse\b", "True"), (r"\bfalse\b", "true"), (r"\+=", "-="),
    (r"\bmax\(", "min("), (r"\bmin\(", "max("),
]
_SYNTAX = [(r":\s*$", ""), (r";\s*$", ""), (r"\)(?=[^)]*$)", ""), (r"\](?=[^\]]*$)", ""),
           (r'"(?=[^"]*$)', "")]


def reply(messages: list[dict]) -> str:
    """The simulated programmer's reply to chat-completions ``messages`` (``[{"role", "content"}, ...]``).

    Returns a refusal-like text (which the role rejects) when the last user message has no fenced block
    or its code is blank.
    """
    system = next((message_text(m.get("content")) for m in messages if m.get("role") == "system"), "")
    blocks = fenced_blocks(last_user_text(messages))
    if not blocks or not blocks[-1].code.strip():
        return NO_CODE_REPLY
    final = blocks[-1].code
    lang = blocks[-1].info.split()[0].lower() if blocks[-1].info.split() else ""
    # "sim_programmer" is a fixed seed label (this module's first name): changing it changes every history
    rng = random.Random(derive_seed("sim_programmer", request_digest(messages)))
    persona = detect_persona(system)
    versions = fit_budget(simulate_history(final, lang, persona, rng), REPLY_TOKEN_BUDGET)
    return render(versions, lang, persona, rng)


def detect_persona(system: str) -> str:
    """``Persona: <name>`` in ``system``, else the first persona word it mentions, else ``"ordinary"``."""
    m = _PERSONA_TAG.search(system)
    if m:
        return m.group(1).lower()
    low = system.lower()
    found = [(low.find(p), p) for p in PERSONAS if p in low]
    return min(found)[1] if found else "ordinary"


def simulate_history(final: str, lang: str, persona: str, rng: random.Random) -> list[str]:
    """Versions (oldest first, the last exactly ``final``) a programmer of ``persona`` went through.

    ``final`` must contain a non-blank line. The result always passes ``check_history(final, ...)``
    once rendered as fenced blocks.
    """
    lines = final.strip("\n").split("\n")
    cuts = _cut_points(lines)
    if persona == "novice":
        versions = _novice(lines, cuts, lang, rng)
    elif persona == "expert":
        versions = _expert(lines, cuts, lang, rng)
    else:
        versions = _ordinary(lines, cuts, lang, rng)
    return _repair(versions + [final], final)


def fit_budget(versions: list[str], budget: int) -> list[str]:
    """``versions`` thinned (largest plain versions first, then mistakes) until their tokens
    (:func:`~proginstruct.simulator.protocol.count_tokens`) sum to at most ``budget``, never below two versions;
    the last version (the finished code) always stays.
    Dropping a version never makes a valid history invalid (fewer blocks, no new neighbours that are equal:
    versions are checked again and the fallback is [first half, final])."""
    out = list(versions)
    final_lines = set(out[-1].split("\n"))
    while len(out) > 2 and sum(count_tokens(v) for v in out) > budget:
        middle = out[:-1]
        plain = [v for v in middle if set(v.split("\n")) <= final_lines] or middle
        out.remove(max(plain, key=count_tokens))
    return _repair(out, out[-1])


def render(versions: list[str], lang: str, persona: str, rng: random.Random) -> str:
    """The reply text: a short note before each version's fenced block; now and then (expert, ordinary)
    the final block repeated as a summary, as real models do."""
    parts = []
    for i, v in enumerate(versions):
        if i == 0:
            note = rng.choice(["First version:", "Starting out:", "A first draft:"])
        elif i == len(versions) - 1:
            note = rng.choice(["The finished version:", "Final version:", "Done:"])
        else:
            note = rng.choice(["Next step:", "Continuing:", f"Version {i + 1}:"])
        parts += [note, fence_code(v.strip("\n"), lang)]
    if persona != "novice" and rng.random() < 0.1:
        parts += ["In summary, the final code is:", fence_code(versions[-1].strip("\n"), lang)]
    return "\n\n".join(parts)


# ------------------------------------------------------------------ persona strategies
def _novice(lines: list[str], cuts: list[int], lang: str, rng: random.Random) -> list[str]:
    n_steps = rng.randint(3, 6)
    prefixes = _prefixes(lines, cuts, n_steps, rng, small=True) + [list(lines)]
    out: list[list[str]] = []
    mistakes = 1 if rng.random() < 0.7 else 2
    slots = list(range(len(prefixes)))
    rng.shuffle(slots)
    buggy: dict[int, list[str]] = {}
    for k in slots:
        if len(buggy) >= mistakes:
            break
        m = _mistake(prefixes[k], set(lines), lang, rng)
        if m is not None:
            buggy[k] = m
    for k, p in enumerate(prefixes):
        if k in buggy:
            # either the buggy version replaces this step (fixed while growing) or it comes just before it
            out.append(buggy[k])
            if k == len(prefixes) - 1 or rng.random() < 0.5:
                out.append(p)
        else:
            out.append(p)
    return ["\n".join(v) for v in out[:-1]]


def _ordinary(lines: list[str], cuts: list[int], lang: str, rng: random.Random) -> list[str]:
    prefixes = _prefixes(lines, cuts, rng.randint(2, 4), rng, small=False)
    versions = ["\n".join(p) for p in prefixes]
    if versions and rng.random() < 0.4:
        # comments are written last: the last draft lacks them
        bare = _without_comments(lines, lang)
        if bare != lines:
            versions.append("\n".join(bare))
    return versions


def _expert(lines: list[str], cuts: list[int], lang: str, rng: random.Random) -> list[str]:
    bare = _without_comments(lines, lang)
    if bare != lines and rng.random() < 0.5:
        return ["\n".join(bare)]
    pool = cuts or _paragraph_breaks(lines)
    big = [c for c in pool if c >= 0.4 * len(lines)] or pool
    steps = rng.randint(1, 2)
    chosen = sorted(rng.sample(big, min(steps, len(big)))) if big else []
    if not chosen:
        return ["\n".join(_half(lines))]
    return ["\n".join(lines[:c]) for c in chosen]


# ------------------------------------------------------------------ building blocks
def _cut_points(lines: list[str]) -> list[int]:
    """Line indices ``c`` (``0 < c < len``) where ``lines[:c]`` ends with complete top-level units:
    line ``c`` is unindented, at bracket depth 0, not a closing line, and follows a blank line."""
    depth = 0
    cuts = []
    for i, line in enumerate(lines):
        if (i > 0 and depth == 0 and line.strip() and not line[0].isspace()
                and line.lstrip()[0] not in ")]}" and not lines[i - 1].strip()):
            cuts.append(i)
        depth = max(0, depth + _bracket_delta(line))
    return cuts


def _bracket_delta(line: str) -> int:
    code = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])\'|//.*$|#.*$', "", line)
    return sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")


def _prefixes(lines: list[str], cuts: list[int], steps: int, rng: random.Random,
              small: bool) -> list[list[str]]:
    """Up to ``steps`` growing prefixes of ``lines``, cut at top-level unit boundaries; with too few of
    those, also after blank lines inside units (paragraph breaks), then (``small``) at any non-blank line."""
    pool = set(cuts)
    if len(pool) < steps:
        pool |= set(_paragraph_breaks(lines))
    if small and len(pool) < steps:
        pool |= {i for i in range(1, len(lines)) if lines[i].strip()}
    if not pool:
        return [_half(lines)] if len(lines) > 1 else []
    chosen = sorted(rng.sample(sorted(pool), min(steps, len(pool))))
    return [lines[:c] for c in chosen]


def _paragraph_breaks(lines: list[str]) -> list[int]:
    """Indices of non-blank lines that follow a blank line, at any depth."""
    return [i for i in range(1, len(lines)) if lines[i].strip() and not lines[i - 1].strip()]


def _half(lines: list[str]) -> list[str]:
    return lines[: max(1, len(lines) // 2)]


def _comment_prefixes(lang: str) -> tuple[str, ...]:
    if lang in _HASH:
        return ("#",)
    if lang in _SLASH:
        return ("//", "/*", "*/", "* ")
    if lang in _DASH:
        return ("--",)
    return ()


def _without_comments(lines: list[str], lang: str) -> list[str]:
    """``lines`` without whole-line comments (not ``#!`` or ``#include``-style directives)."""
    prefixes = _comment_prefixes(lang)
    if not prefixes:
        return list(lines)

    def is_comment(line: str) -> bool:
        s = line.strip()
        if s in ("*", "*/"):
            return lang in _SLASH
        if prefixes == ("#",) and not (s.startswith("# ") or s == "#"):
            return False
        return s.startswith(prefixes)

    return [line for line in lines if not is_comment(line)]


def _mistake(version: list[str], final_lines: set[str], lang: str, rng: random.Random) -> list[str] | None:
    """``version`` with one line changed by a beginner's mistake (a line that the finished code does not
    have), or ``None`` when no line can be broken that way."""
    prefixes = _comment_prefixes(lang) or ("#", "//")
    in_string = _triple_quoted(version)
    candidates = [i for i, line in enumerate(version)
                  if line.strip() and not in_string[i] and not line.strip().startswith(prefixes)]
    rng.shuffle(candidates)
    for i in candidates[:12]:
        line = version[i]
        kinds = [_LOGIC, _SYNTAX] if rng.random() < 0.6 else [_SYNTAX, _LOGIC]
        for table in kinds:
            options = [(p, r) for p, r in table if re.search(p, line)]
            rng.shuffle(options)
            for pattern, repl in options:
                broken = re.sub(pattern, repl, line, count=1)
                if broken != line and broken.strip() and broken not in final_lines:
                    return version[:i] + [broken] + version[i + 1:]
        broken = _typo(line, rng)
        if broken and broken not in final_lines:
            return version[:i] + [broken] + version[i + 1:]
    return None


def _triple_quoted(lines: list[str]) -> list[bool]:
    """Per line, whether it is (part of) a triple-quoted string such as a Python docstring."""
    inside, out = False, []
    for line in lines:
        toggles = len(re.findall(r'"""|\'\'\'', line))
        out.append(inside or toggles > 0)
        inside ^= toggles % 2 == 1
    return out


def _typo(line: str, rng: random.Random) -> str | None:
    """Swap two inner letters of one identifier of 4+ letters (a misspelled name)."""
    words = [m for m in re.finditer(r"[A-Za-z_][A-Za-z_0-9]{3,}", line)]
    if not words:
        return None
    w = rng.choice(words)
    s = w.group(0)
    for j in range(1, len(s) - 2):
        if s[j] != s[j + 1]:
            t = s[:j] + s[j + 1] + s[j] + s[j + 2:]
            return line[: w.start()] + t + line[w.end():]
    return None


def _repair(versions: list[str], final: str) -> list[str]:
    """Make ``versions`` (last = ``final``) valid: drop blank and repeated versions, keep at least two,
    thin out small versions (mistakes last) when 4+ would be all fragments. Falls back to
    [first half, final]."""
    out: list[str] = []
    for v in versions[:-1]:
        if v.strip() and not same_code(v, final) and not (out and same_code(out[-1], v)):
            out.append(v)
    while out and same_code(out[-1], final):
        out.pop()
    final_lines = set(final.split("\n"))
    while len(out) >= 3 and sum(line_count(v) for v in out) <= line_count(final) + 2:
        # drop the smallest version, sparing versions with a mistake (a line the final code lacks)
        plain = [v for v in out if set(v.split("\n")) <= final_lines] or out
        out.remove(min(plain, key=line_count))
        out = [v for k, v in enumerate(out) if k == 0 or not same_code(out[k - 1], v)]
    result = out + [final]
    if len(result) < 2 or not check_history(final, "\n".join(fence_code(v) for v in result)).ok:
        result = [_fallback(final), final]
    return result


def _fallback(final: str) -> str:
    """A first version for the minimal history: the first half of the lines, else of the characters,
    else a ``TODO`` line; never blank and never the same code as ``final``."""
    lines = final.strip().split("\n")
    body = final.strip()
    for candidate in ("\n".join(_half(lines)), body[: len(body) // 2], "TODO", "TODO: write this"):
        if candidate.strip() and not same_code(candidate, final):
            return candidate
    return "pass"  # pragma: no cover - final would have to be all of the above at once
