"""The programmer role (SPEC 5) and its simulated answers (proginstruct.simulator.programmer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proginstruct.roles.programmer import (
    PERSONAS,
    ProgrammerRole,
    SnippetQuery,
    align_version,
    check_history,
    fence_code,
    fenced_blocks,
)
from proginstruct.simulator import programmer as sim_programmer
from proginstruct.simulator import protocol, replies

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = json.loads((ROOT / "data/samples/snippets.json").read_text("utf-8"))

FINAL = "def area(w, h):\n    if w < 0 or h < 0:\n        raise ValueError('negative')\n    return w * h\n"
DRAFT = "def area(w, h):\n    return w * h\n"


def reply_of(*codes: str, lang: str = "python") -> str:
    return "\n\n".join(f"Step {i}:\n\n{fence_code(c.rstrip(), lang)}" for i, c in enumerate(codes, 1))


# ------------------------------------------------------------------ fence parsing
def test_fenced_blocks_reads_info_tilde_long_fences_and_ignores_unclosed():
    text = "intro\n```Python\na = 1\n```\n~~~\nb = 2\n~~~\n````md\n```\nnot a close\n```\n````\n```\nunclosed"
    blocks = fenced_blocks(text)
    assert [(b.info, b.code) for b in blocks] == [
        ("Python", "a = 1"), ("", "b = 2"), ("md", "```\nnot a close\n```")]


def test_fence_code_round_trips_code_containing_fences():
    code = "x = '''\n```\n'''\n"
    fenced = fence_code(code, "Python")
    assert fenced.startswith("````python\n")
    assert fenced_blocks(fenced)[-1].code == code
    assert fence_code("a\n", "Go") == "```go\na\n\n```"  # SPEC 2 form when nothing clashes


# ------------------------------------------------------------------ rejection rules, each tripped and passed
@pytest.mark.parametrize("reply,reason", [
    ("", "empty"),
    ("   \n", "empty"),
    ("I'm sorry, but I can't help with that.\n\n" + fence_code(FINAL), "refusal"),
    ("The code was written in two steps, first the product and then the checks.", "no_code_blocks"),
    ("```python\n" + DRAFT + "\n", "no_code_blocks"),  # never closed: truncated
    (reply_of(DRAFT, FINAL.replace("< 0", "<= 0")), "last_mismatch"),
    (reply_of(FINAL, DRAFT), "last_mismatch"),
    (reply_of(FINAL), "single_version"),
    (reply_of("x = 1\n", "x = 1\n", DRAFT, FINAL), "consecutive_duplicate"),
    (reply_of("def area(w, h):", "    return w * h", "# checks", FINAL), "fragments"),
])
def test_each_rule_rejects(reply, reason):
    verdict = ProgrammerRole("ordinary").check(SnippetQuery(FINAL, "python"), reply)
    assert not verdict.ok and verdict.reason == reason and verdict.value is None


@pytest.mark.parametrize("reply", [
    reply_of(DRAFT, FINAL),                                   # two versions: the minimum
    reply_of("x = 1\ny = 2\nz = 3", DRAFT, "x = 1\ny = 2\nz = 3", FINAL),  # duplicates, not consecutive
    "Sure, here it is.\n\n" + reply_of(DRAFT, FINAL) + "\n\nThat is all.",  # prose around the blocks
    reply_of(DRAFT, FINAL).replace("```python", "~~~python").replace("```", "~~~"),
])
def test_valid_replies_pass(reply):
    verdict = ProgrammerRole("novice").check(SnippetQuery(FINAL, "python"), reply)
    assert verdict.ok, verdict.reason
    assert verdict.value[-1] == FINAL


def test_fragments_threshold_is_last_plus_two():
    final = "\n".join(f"line{i}" for i in range(10))  # 10 lines
    frag = "\n".join(["a", "b", "c", "d"])             # 4 lines
    at_limit = reply_of(frag, frag + "\ne", "x\ny\nz", final)          # 4 + 5 + 3 = 12 = 10 + 2
    above = reply_of(frag, frag + "\ne", "x\ny\nz\nw", final)          # 13 > 12
    assert check_history(final, at_limit).reason == "fragments"
    assert check_history(final, above).ok
    assert check_history(final, reply_of("a", "b", final)).ok          # 3 blocks: rule does not apply


def test_repeated_final_summary_block_is_dropped_first():
    reply = reply_of(DRAFT, FINAL) + "\n\nIn summary, the final code is:\n\n" + fence_code(FINAL, "python")
    verdict = check_history(FINAL, reply)
    assert verdict.ok and len(verdict.value) == 2
    # without the drop, the summary would be a consecutive duplicate; with only the summary left,
    # a single version remains
    assert check_history(FINAL, reply_of(FINAL, FINAL)).reason == "single_version"


def test_value_is_versions_with_exact_final_and_aligned_earlier_versions():
    final = "\n\nfn main() {\r\n    run();\r\n}\r\n"
    reply = reply_of("fn main() {\n}", "fn main() {\n    run();\n}  ", lang="rust")
    verdict = check_history(final, reply)  # trailing spaces and CRLF do not matter
    assert verdict.ok
    assert verdict.value[-1] == final
    assert verdict.value[0] == "\n\nfn main() {\r\n}\r\n"
    assert align_version("  x = 1\n\n", "y\n") == "  x = 1\n"


# ------------------------------------------------------------------ messages and prompts
@pytest.mark.parametrize("persona", PERSONAS)
def test_messages_have_system_examples_and_fenced_query(persona):
    role = ProgrammerRole(persona)
    msgs = role.messages(SnippetQuery(FINAL, "Python"))
    assert role.name == "programmer"
    assert msgs[0]["role"] == "system" and f"Persona: {persona}" in msgs[0]["content"]
    system = msgs[0]["content"]
    assert not any(m in system for m in ("**Decision:**", "**instruction:**", "**chat:**"))
    assert [p for p in PERSONAS if p in system.lower()] == [persona]
    assert [m["role"] for m in msgs[1:]] == ["user", "assistant"] * (len(msgs) // 2 - 1) + ["user"]
    assert fenced_blocks(msgs[-1]["content"])[-1] == fenced_blocks(fence_code(FINAL, "python"))[-1]
    assert role.messages(FINAL)[-1]["content"].count("```") == 2  # a plain string query: no language


@pytest.mark.parametrize("persona", PERSONAS)
def test_worked_examples_obey_the_rules(persona):
    role = ProgrammerRole(persona)
    examples = role.prompt["examples"]
    assert len(examples) >= 2 and len({ex["query"]["lang"] for ex in examples}) == len(examples)
    for ex in examples:
        verdict = role.check(ex["query"], ex["reply"])
        assert verdict.ok, (persona, verdict.reason)
        if persona == "novice":
            assert _has_fixed_mistake(verdict.value)


def test_unknown_persona_is_an_error():
    with pytest.raises(ValueError, match="persona"):
        ProgrammerRole("wizard")


# ------------------------------------------------------------------ simulated programmer
def _has_fixed_mistake(versions: list[str]) -> bool:
    """Some earlier version has a line the finished code lacks, and a later version no longer has it."""
    final = set(versions[-1].split("\n"))
    for i, v in enumerate(versions[:-1]):
        wrong = {line for line in v.split("\n") if line.strip()} - final
        if wrong and any(not (wrong & set(w.split("\n"))) for w in versions[i + 1:]):
            return True
    return False


def _sim(persona: str, code: str, lang: str = "") -> tuple[ProgrammerRole, SnippetQuery, str]:
    role = ProgrammerRole(persona)
    query = SnippetQuery(code, lang)
    return role, query, sim_programmer.reply(role.messages(query))


@pytest.mark.parametrize("persona", PERSONAS)
def test_sim_replies_pass_for_every_shipped_snippet(persona):
    counts = []
    for snip in SNIPPETS:
        role, query, text = _sim(persona, snip["content"], snip["lang"])
        verdict = role.check(query, text)
        assert verdict.ok, (persona, snip["lang"], verdict.reason)
        assert verdict.value[-1] == snip["content"]
        counts.append(len(verdict.value))
        if persona == "novice":
            assert _has_fixed_mistake(verdict.value), snip["content"][:60]
    mean = sum(counts) / len(counts)
    assert {"novice": mean >= 4, "ordinary": 2.5 <= mean <= 5, "expert": mean <= 3}[persona], mean


def test_sim_is_deterministic_and_depends_on_the_messages():
    role = ProgrammerRole("novice")
    msgs = role.messages(SnippetQuery(SNIPPETS[0]["content"], "python"))
    assert sim_programmer.reply(msgs) == sim_programmer.reply(json.loads(json.dumps(msgs)))
    other = [*msgs[:-1], {"role": "user", "content": msgs[-1]["content"].replace("Bucket", "Bukket")}]
    assert sim_programmer.reply(other) != sim_programmer.reply(msgs)


def test_sim_persona_detection_and_missing_code():
    assert sim_programmer.detect_persona("Persona: expert.\nYou are ...") == "expert"
    assert sim_programmer.detect_persona("as a NOVICE would") == "novice"
    assert sim_programmer.detect_persona("write a history") == "ordinary"
    text = sim_programmer.reply([{"role": "system", "content": "Persona: novice"},
                                 {"role": "user", "content": "no code here"}])
    assert check_history("x = 1", text).reason == "refusal"


def test_sim_is_what_the_simulator_answers_for_programmer_messages():
    role, query, text = _sim("expert", SNIPPETS[5]["content"], "python")
    assert protocol.detect_role(role.messages(query)) == "programmer"
    assert replies.simulate_reply(role.messages(query)) == text


def test_sim_stays_within_token_budget_for_long_code():
    code = "\n".join(f"value_{i} = compute({i}, {i + 1}) + offset  # step {i}" for i in range(120)) + "\n"
    for persona in PERSONAS:
        role, query, text = _sim(persona, code, "python")
        assert role.check(query, text).ok
        assert sum(len(b.code.split()) for b in fenced_blocks(text)) <= sim_programmer.REPLY_TOKEN_BUDGET


_LINE = st.text(alphabet="abcxyz_019 \t(){}[]<>=!+-:;.,'\"#/*`~\r", max_size=40)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_LINE, min_size=1, max_size=30), persona=st.sampled_from(PERSONAS),
       lang=st.sampled_from(["", "python", "c", "rust", "shell"]), nl=st.booleans())
def test_sim_reply_passes_for_arbitrary_code(lines, persona, lang, nl):
    code = "\n".join(lines) + ("\n" if nl else "")
    if not code.strip():
        lines = [*lines, "x"]
        code += "x"
    role, query, text = _sim(persona, code, lang)
    verdict = role.check(query, text)
    assert verdict.ok, verdict.reason
    assert verdict.value[-1] == code and len(verdict.value) >= 2


def test_sim_histories_differ_by_persona_on_one_snippet():
    code = SNIPPETS[0]["content"]
    sizes = {p: len(check_history(code, _sim(p, code, "python")[2]).value) for p in PERSONAS}
    assert sizes["novice"] > sizes["expert"]
