"""The simulated model (proginstruct.simulator: request reading, query parsing, replies, its diff-description
engine) and its loopback server (proginstruct.simulator.server)."""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import re
import time

import aiohttp
import openai
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from proginstruct.blocks import apply_blocks, edit_blocks
from proginstruct.cli.simulate import command as simulate_command
from proginstruct.roles.chat import ChatRole
from proginstruct.roles.instruction import InstructionRole
from proginstruct.roles.judge import JudgeRole
from proginstruct.roles.programmer import ProgrammerRole, SnippetQuery
from proginstruct.roles.render import (
    NO_CHANGE,
    ChangeQuery,
    JudgeQuery,
    RecordView,
    render_change,
    render_judge,
)
from proginstruct.simulator import api, describe, diff_facts, programmer, protocol, query, replies, transport
from proginstruct.simulator.server import base_url, is_loopback, make_app, serve_in_thread
from proginstruct.text import unified_diff

# ------------------------------------------------------------------------------------------- fixtures
PY_CURRENT = """import sys

def mean(xs):
    total = 0
    for x in xs:
        total += x
    return total / len(xs)

def main():
    data = [int(x) for x in sys.argv[1:]]
    print(mean(data))
"""
PY_FINAL = """import sys
import statistics

def mean(values):
    if not values:
        return 0.0
    total = 0
    for x in values:
        total += x
    return total / len(values)

def median(values):
    return statistics.median(values)

def main():
    data = [int(x) for x in sys.argv[1:]]
    print(mean(data), median(data))
"""
CPP_CURRENT = """#include <iostream>
using namespace std;
int main() {
    int n;
    cin >> n;
    int sum = 0;
    for (int i = 1; i < n; i++) {
        sum += i;
    }
    cout << sum << endl;
    return 0;
}
"""
CPP_FINAL = CPP_CURRENT.replace("i < n", "i <= n").replace("int sum = 0", "long long sum = 0")
GO_CURRENT = """package main

func parsePort(s string) int {
\tp, _ := strconv.Atoi(s)
\treturn p
}
"""
GO_FINAL = """package main

func parsePort(s string) (int, error) {
\tp, err := strconv.Atoi(s)
\tif err != nil {
\t\treturn 0, err
\t}
\treturn p, nil
}
"""
JS_CURRENT = "function total(items) {\n  let t = 0;\n  for (const it of items) t += it.price;\n  return t;\n}\n"
JS_FINAL = "// Sum of the prices.\nfunction total(items) {\n  let sum = 0;\n  for (const it of items) sum += it.price;\n" \
           "  return sum;\n}\n"

CASES = [("python", PY_CURRENT, PY_FINAL), ("c++", CPP_CURRENT, CPP_FINAL), ("go", GO_CURRENT, GO_FINAL),
         ("javascript", JS_CURRENT, JS_FINAL), ("", "x = 1\ny = 2\n", "x = 1\ny = 3\n")]

SYSTEM = {
    "judge": "Judge each change. End every section with **Decision:** True or **Decision:** False.",
    "instruction": "Reply with the marker **instruction:** and the instruction.",
    "chat": "Reply with the marker **chat:** and your message.",
}


def candidate_diffs(current: str, final: str) -> tuple[str, ...]:
    """One unified diff per edit block current -> final, each block applied alone (SPEC 6 step 2)."""
    return tuple(unified_diff(current, apply_blocks(current, [b])) for b in edit_blocks(current, final))


def judge_query(lang: str, current: str, final: str, history: tuple[str, ...] = ()) -> JudgeQuery:
    return JudgeQuery(RecordView(lang=lang, current=current, history=history), candidate_diffs(current, final))


def change_query(lang: str, current: str, final: str, **context: str) -> ChangeQuery:
    return ChangeQuery(RecordView(lang=lang, current=current, **context), unified_diff(current, final))


def msgs(role: str, text: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM[role]}, {"role": "user", "content": text}]


def real_roles():
    """The real judge, instruction and chat roles, whose parsers the simulated replies must pass."""
    return JudgeRole(), InstructionRole(), ChatRole()


def run_async(fn):
    """Run an ``async def`` test with ``asyncio.run`` (no async pytest plugin is installed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


# Protocol regexes (SPEC 5), independent of the real parsers.
JUDGE_SECTION = re.compile(r"^\*\*Analysis of change (\d+):\*\*\n(.+)\n\*\*Decision:\*\* (True|False)$", re.M)


# ---------------------------------------------------------------------------------- role and query parse
def test_detect_role_uses_the_first_message_markers():
    assert protocol.detect_role(msgs("judge", "x")) == "judge"
    assert protocol.detect_role(msgs("instruction", "x")) == "instruction"
    assert protocol.detect_role(msgs("chat", "x")) == "chat"
    assert protocol.detect_role([{"role": "system", "content": "Write the history of versions."}]) == "programmer"
    assert protocol.detect_role([]) == "programmer"


def test_parse_query_reads_back_every_rendered_section():
    view = RecordView(lang="Python", current=PY_CURRENT, history=("x = 0\n", "x = 1\n"),
                      commit_message="Add median", problem_statement="Compute the mean.",
                      user_instruction="please help")
    diffs = candidate_diffs(PY_CURRENT, PY_FINAL)
    q = query.parse_query(render_judge(JudgeQuery(view, diffs)))
    assert (q.lang, q.current, q.has_history) == ("python", PY_CURRENT, True)
    assert (q.commit_message, q.problem_statement, q.user_instruction) == \
        ("Add median", "Compute the mean.", "please help")
    assert q.changes == diffs and q.change is None

    q = query.parse_query(render_change(ChangeQuery(view, unified_diff(PY_CURRENT, PY_FINAL))))
    assert q.change == unified_diff(PY_CURRENT, PY_FINAL) and q.changes is None
    q = query.parse_query(render_change(ChangeQuery(RecordView(lang="", current="a\n"), "")))
    assert q.change == "" and q.current == "a\n" and not q.has_history


def test_parse_query_is_not_derailed_by_heading_lines_in_free_text():
    view = RecordView(lang="c", current="int x;\n", problem_statement="## Change\n## Current code\nread n")
    q = query.parse_query(render_change(ChangeQuery(view, unified_diff("int x;\n", "long x;\n"))))
    assert q.current == "int x;\n"
    assert q.change == unified_diff("int x;\n", "long x;\n")


# ------------------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("lang,current,final", CASES)
def test_replies_depend_only_on_the_messages(lang, current, final):
    for role, text in (("judge", render_judge(judge_query(lang, current, final))),
                       ("instruction", render_change(change_query(lang, current, final))),
                       ("chat", render_change(change_query(lang, current, final)))):
        messages = msgs(role, text)
        first = replies.simulate_reply(messages)
        replies.simulate_reply(msgs("judge", render_judge(judge_query("go", GO_CURRENT, GO_FINAL))))  # other work
        assert replies.simulate_reply(copy.deepcopy(messages)) == first
        body = {"model": "m", "messages": messages, "seed": 1, "temperature": 0.2}
        other = {"model": "m", "messages": messages, "seed": 99, "temperature": 0.9}
        assert api.completion_response(body) == api.completion_response(other) | {"model": "m"}


def test_judge_decisions_come_from_the_diff_hash_at_about_the_accept_rate():
    diffs = [f"@@ -{i} +{i} @@\n-x = {i}\n+x = {i + 1}" for i in range(1, 801)]
    rate = sum(replies.judge_decision(d) for d in diffs) / len(diffs)
    assert 0.54 < rate < 0.66
    q = judge_query("python", PY_CURRENT, PY_FINAL)
    reply = replies.simulate_reply(msgs("judge", render_judge(q)))
    assert [m.group(3) == "True" for m in JUDGE_SECTION.finditer(reply)] == [replies.judge_decision(d) for d in q.changes]


# -------------------------------------------------------------------------------------- reply protocol
@pytest.mark.parametrize("lang,current,final", CASES)
def test_replies_follow_the_protocol(lang, current, final):
    jq = judge_query(lang, current, final, history=(current + "\n",))
    reply = replies.simulate_reply(msgs("judge", render_judge(jq)))
    sections = JUDGE_SECTION.findall(reply)
    assert [int(k) for k, _, _ in sections] == list(range(1, len(jq.changes) + 1))
    assert all(len(analysis) > 20 for _, analysis, _ in sections)

    text = render_change(change_query(lang, current, final))
    instruction = replies.simulate_reply(msgs("instruction", text))
    assert re.fullmatch(r"\*\*instruction:\*\* \S.{10,}", instruction)
    assert not re.search(r"no change|nothing|unchanged|as it is", instruction, re.I)
    chat = replies.simulate_reply(msgs("chat", text))
    assert re.fullmatch(r"\*\*chat:\*\* I.{10,}|\*\*chat:\*\* (As you asked|Following|Done).{10,}", chat, re.S)


def test_replies_name_what_the_diff_touches():
    cpp = replies.simulate_reply(msgs("instruction", render_change(change_query("c++", CPP_CURRENT, CPP_FINAL))))
    assert "`sum`" in cpp and "`long long`" in cpp and "`<=`" in cpp and "`main`" in cpp
    py = replies.simulate_reply(msgs("chat", render_change(change_query("python", PY_CURRENT, PY_FINAL))))
    assert "`median`" in py and "`values`" in py
    go = replies.simulate_reply(msgs("judge", render_judge(judge_query("go", GO_CURRENT, GO_FINAL))))
    assert "`parsePort`" in go and "error" in go


def test_chat_for_no_change_says_the_code_was_left_alone():
    text = render_change(ChangeQuery(RecordView(lang="python", current=PY_CURRENT), ""))
    assert NO_CHANGE in text
    reply = replies.simulate_reply(msgs("chat", text))
    assert reply.startswith("**chat:** ") and re.search(r"left (it|the code) (as it is|unchanged)|did not change",
                                                         reply)


def test_pathological_lines_are_answered_quickly():
    current = "x = 1\n" + "for a in " * 3000 + "\n" + "    " * 4000 + "(\n" + "int a, " * 3000 + "\n"
    final = "x = 2\n" + "for  a in " * 3000 + ":\n" + "  (" * 4000 + "\n" + "int b, " * 3000 + "\n" \
        + "for" + " " * 5000 + "x\n"
    start = time.perf_counter()
    for lang in ("python", "c++", ""):
        jq = judge_query(lang, current, final)
        reply = replies.simulate_reply(msgs("judge", render_judge(jq)))
        assert len(JUDGE_SECTION.findall(reply)) == len(jq.changes)
        for role in ("instruction", "chat"):
            assert replies.simulate_reply(msgs(role, render_change(change_query(lang, current, final)))).startswith(
                f"**{role}:** ")
    assert time.perf_counter() - start < 2.0


def test_judge_without_candidates_gets_no_decisions():
    reply = replies.simulate_reply(msgs("judge", "## Current code\n\n```\n1 x\n```\n\n## Candidate changes"))
    assert "**Decision:**" not in reply and reply.strip()
    assert "**Decision:**" not in replies.simulate_reply(msgs("judge", "garbage"))


def test_commit_message_is_paraphrased_as_an_imperative():
    assert replies.paraphrase_commit("Fixed overflow in the sum (#12)") == "Fix overflow in the sum"
    assert replies.paraphrase_commit("feat(parser): adds support for tabs") == "Add support for tabs"
    assert replies.paraphrase_commit("Merge branch 'main'") is None
    seen = set()
    for i in range(12):  # the hash-seeded choice uses the commit subject for some diffs
        final = CPP_FINAL.replace("return 0", f"return {i}")
        q = change_query("c++", CPP_CURRENT, final, commit_message="Fixed overflow in the sum")
        seen.add(replies.simulate_reply(msgs("instruction", render_change(q))).startswith(
            "**instruction:** Fix overflow in the sum: "))
    assert seen == {True, False}


# ------------------------------------------------------------------------------- the real role parsers
@pytest.mark.parametrize("lang,current,final", CASES)
def test_replies_pass_the_real_role_parsers(lang, current, final):
    judge, instruction, chat = real_roles()
    for history in ((), (current + "# draft\n",)):
        jq = judge_query(lang, current, final, history)
        verdict = judge.check(jq, replies.simulate_reply(judge.messages(jq)))
        assert verdict.ok and verdict.value == [replies.judge_decision(d) for d in jq.changes]
    for context in ({}, {"commit_message": "Fix the loop"}, {"problem_statement": "Sum 1..n"},
                    {"user_instruction": "make it right"}):
        cq = change_query(lang, current, final, **context)
        for role in (instruction, chat):
            assert protocol.detect_role(role.messages(cq)) == role.name
            verdict = role.check(cq, replies.simulate_reply(role.messages(cq)))
            assert verdict.ok, verdict
    no_change = ChangeQuery(RecordView(lang=lang, current=current), "")
    assert chat.check(no_change, replies.simulate_reply(chat.messages(no_change))).ok


def test_malformed_replies_are_rejected_by_the_real_parsers():
    judge, instruction, chat = real_roles()
    jq = judge_query("python", PY_CURRENT, PY_FINAL)
    cq = change_query("python", PY_CURRENT, PY_FINAL)
    assert not judge.check(jq, replies.malformed_reply(judge.messages(jq))).ok
    assert not instruction.check(cq, replies.malformed_reply(instruction.messages(cq))).ok
    assert not chat.check(cq, replies.malformed_reply(chat.messages(cq))).ok


_LINES = st.sampled_from([
    "def f(a, b):", "    return a + b", "x = 1", "x = 2", "if x > 0:", "    print(x)", "# note", "",
    "for i in range(n):", "    total += i", "import os", "class Box:", "    pass", "int main() {", "}",
    "    int n = 10;", "    long long n = 10;", "    cout << n << endl;", "  let y = f(x);", "`odd` line",
])


@settings(max_examples=60, deadline=None)
@given(st.lists(_LINES, min_size=1, max_size=14), st.lists(_LINES, min_size=1, max_size=14),
       st.sampled_from(["python", "c++", "javascript", "", "go"]))
def test_any_edit_gets_an_accepted_reply_from_every_role(a, b, lang):
    judge, instruction, chat = real_roles()
    current, final = "\n".join(a), "\n".join(b)
    jq = judge_query(lang, current, final)
    if jq.changes:
        assert judge.check(jq, replies.simulate_reply(judge.messages(jq))).ok
    cq = ChangeQuery(RecordView(lang=lang, current=current), unified_diff(current, final))
    for role in (instruction, chat):
        verdict = role.check(cq, replies.simulate_reply(role.messages(cq)))
        assert verdict.ok, (verdict, cq.change)


def test_programmer_role_is_delegated():
    role = ProgrammerRole("ordinary")
    messages = role.messages(SnippetQuery(PY_FINAL, "python"))
    assert replies.simulate_reply(messages) == programmer.reply(messages)
    assert role.check(SnippetQuery(PY_FINAL, "python"), replies.simulate_reply(messages)).ok


def test_requests_with_content_parts_are_read_like_plain_text():
    """OpenAI content-part lists are read as their joined text by every role, the programmer included."""
    role = ProgrammerRole("expert")
    plain = role.messages(SnippetQuery(PY_FINAL, "python"))
    parts = [dict(m, content=[{"type": "text", "text": m["content"][:40]},
                              {"type": "text", "text": m["content"][40:]}]) for m in plain]
    assert protocol.message_text(parts[-1]["content"]) == plain[-1]["content"]
    assert protocol.last_user_text(parts) == plain[-1]["content"] and protocol.last_user_text(parts[:1]) == ""
    assert protocol.message_text(None) == ""
    assert role.check(SnippetQuery(PY_FINAL, "python"), replies.simulate_reply(parts)).ok
    chat = ChatRole().messages(change_query("python", PY_CURRENT, PY_FINAL))
    as_parts = [dict(m, content=[{"type": "text", "text": m["content"]}]) for m in chat]
    assert replies.simulate_reply(as_parts) == replies.simulate_reply(chat)


def test_request_digest_is_the_canonical_identity_of_the_messages():
    messages = msgs("chat", "x")
    reordered = [{"content": m["content"], "role": m["role"]} for m in messages]
    assert protocol.request_digest(messages) == protocol.request_digest(reordered)
    assert re.fullmatch(r"[0-9a-f]{64}", protocol.request_digest(messages))
    assert protocol.request_digest(messages) != protocol.request_digest(msgs("chat", "y"))
    body = api.completion_response({"model": "m", "messages": messages})
    assert body["id"] == "chatcmpl-sim-" + protocol.request_digest(messages)[:24]


# ----------------------------------------------------------------------------- the diff-description engine
def test_analyze_diff_reads_runs_positions_and_enclosing_definitions():
    diff = unified_diff(PY_CURRENT, PY_FINAL)
    facts = diff_facts.analyze_diff(diff, PY_CURRENT, "python")
    assert facts.hunks >= 1 and facts.lang == "python"
    assert facts.added == [ln[1:] for ln in diff.split("\n") if ln.startswith("+")]
    assert facts.removed == [ln[1:] for ln in diff.split("\n") if ln.startswith("-")]
    by_line = {r.line: r for r in facts.runs}
    assert by_line[2].added == ["import statistics"] and by_line[2].scope is None
    assert by_line[3].scope == ("function", "mean")  # a changed signature line: inside that definition
    assert describe.count_phrase(facts) == \
        f"{len(facts.added)} lines added, {len(facts.removed)} lines removed"
    one = diff_facts.analyze_diff("@@ -1 +1 @@\n-x = 1\n+x = 2", "x = 1\n")
    assert describe.count_phrase(one) == "1 line added, 1 line removed"
    assert describe.count_phrase(diff_facts.analyze_diff("", "")) == ""


def test_describe_actions_and_phrase_say_the_change_in_each_verb_form():
    cur = "def area(r):\n    return 3.14 * r * r\n"
    fin = "def area(radius):\n    return 3.14 * radius * radius\n"
    acts = describe.describe_actions(diff_facts.analyze_diff(unified_diff(cur, fin), cur, "python"))
    assert [a.verb for a in acts] == ["rename"]
    assert describe.phrase(acts, 0) == "rename `r` to `radius` in `area`"
    assert describe.phrase(acts, 2) == "renamed `r` to `radius` in `area`"
    lit = describe.describe_actions(
        diff_facts.analyze_diff("@@ -2 +2 @@\n-    n = 10\n+    n = 20", "def f():\n    n = 10\n", "python"))
    assert describe.phrase(lit, 0) == "set `n` to `20` instead of `10` in `f`"
    two = [describe.Action("add", "a `g` function"), describe.Action("add", "error handling")]
    assert describe.phrase(two, 3) == "adds a `g` function and error handling"
    assert describe.describe_actions(diff_facts.analyze_diff("", "x\n")) == []


# ------------------------------------------------------------------------------------ completion objects
def test_completion_response_shape_usage_and_length_cut():
    messages = msgs("judge", render_judge(judge_query("python", PY_CURRENT, PY_FINAL)))
    full = api.completion_response({"model": "m1", "messages": messages})
    assert full["object"] == "chat.completion" and full["created"] == 0 and full["model"] == "m1"
    choice = full["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "content": replies.simulate_reply(messages)}
    usage = full["usage"]
    assert usage["completion_tokens"] == len(choice["message"]["content"].split())
    assert usage["prompt_tokens"] == sum(len(m["content"].split()) for m in messages)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    cut = api.completion_response({"model": "m1", "messages": messages, "max_tokens": 7})
    assert cut["choices"][0]["finish_reason"] == "length"
    assert cut["choices"][0]["message"]["content"].split() == choice["message"]["content"].split()[:7]
    exact = api.completion_response({"model": "m1", "messages": messages,
                                     "max_tokens": usage["completion_tokens"]})
    assert exact["choices"][0]["finish_reason"] == "stop"


def test_handle_request_errors():
    assert api.handle_request("POST", "/v1/chat/completions", b"{not json")[0] == 400
    assert api.handle_request("POST", "/v1/chat/completions", b'{"messages": []}')[0] == 400
    assert api.handle_request("GET", "/v1/nothing", b"")[0] == 404
    status, body = api.handle_request("GET", "/v1/models", b"")
    assert status == 200 and body["data"][0]["id"] == protocol.SIMULATOR_MODEL


# ------------------------------------------------------------------------------ the official openai client
def _judge_call():
    roles = real_roles()
    jq = judge_query("python", PY_CURRENT, PY_FINAL)
    return roles[0], jq, roles[0].messages(jq)


@run_async
async def test_openai_client_in_process():
    judge, jq, messages = _judge_call()
    client = openai.AsyncOpenAI(base_url="http://simulator.invalid/v1", api_key="sim",
                                http_client=transport.simulator_http_client(), max_retries=0)
    try:
        resp = await client.chat.completions.create(model=protocol.SIMULATOR_MODEL, messages=messages, max_tokens=3072)
        assert resp.choices[0].finish_reason == "stop"
        assert judge.check(jq, resp.choices[0].message.content).value == [replies.judge_decision(d) for d in jq.changes]
        assert [m.id async for m in client.models.list()] == [protocol.SIMULATOR_MODEL]
    finally:
        await client.close()


@pytest.fixture
def server():
    """Start a server on 127.0.0.1 with the given options; stopped at teardown."""
    stops = []

    def start(**options):
        url, stop = serve_in_thread("127.0.0.1", 0, **options)
        stops.append(stop)
        return url

    yield start
    for stop in stops:
        stop()


async def _get_json(url: str) -> dict:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return await r.json()


@run_async
async def test_openai_client_over_loopback(server):
    judge, jq, messages = _judge_call()
    url = server()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", url) and not url.endswith(":0/v1")
    client = openai.AsyncOpenAI(base_url=url, api_key="sim", max_retries=0)
    try:
        for _ in range(2):
            resp = await client.chat.completions.create(model=protocol.SIMULATOR_MODEL, messages=messages)
            assert judge.check(jq, resp.choices[0].message.content).ok
    finally:
        await client.close()
    stats = await _get_json(url[:-3] + "/stats?bodies=1")
    assert stats["requests"] == 2 and stats["by_outcome"]["ok"] == 2 and stats["by_role"] == {"judge": 2}
    assert stats["bodies"]["distinct"] == 1 and stats["bodies"]["max_repeats"] == 2
    assert list(stats["bodies"]["counts"].values()) == [2]


@run_async
async def test_injected_faults_and_stats(server):
    judge, jq, messages = _judge_call()
    body = {"model": protocol.SIMULATOR_MODEL, "messages": messages}
    async with aiohttp.ClientSession() as s:
        url = server(fail_500=1.0)
        async with s.post(url + "/chat/completions", json=body) as r:
            assert r.status == 500 and "error" in await r.json()

        url = server(fail_429=1.0, retry_after="7")
        async with s.post(url + "/chat/completions", json=body) as r:
            assert r.status == 429 and r.headers["Retry-After"] == "7"

        url = server(malformed=1.0)
        async with s.post(url + "/chat/completions", json=body) as r:
            content = (await r.json())["choices"][0]["message"]["content"]
            assert r.status == 200 and not judge.check(jq, content).ok

        url = server(fail_timeout=1.0, timeout_sleep=5)
        client = openai.AsyncOpenAI(base_url=url, api_key="sim", max_retries=0, timeout=0.3)
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(**body)
        await client.close()
        stats = await _get_json(url[:-3] + "/stats")
        assert stats["by_outcome"]["timeout"] == 1 and stats["requests"] == 1

        url = server(fail_500=0.5, fault_seed=3)
        outcomes = []
        for _ in range(20):
            async with s.post(url + "/chat/completions", json=body) as r:
                outcomes.append(r.status)
        stats = await _get_json(url[:-3] + "/stats")
        assert stats["requests"] == 20 and stats["by_outcome"]["http_500"] == outcomes.count(500)
        assert stats["by_outcome"]["ok"] == outcomes.count(200) and 0 < outcomes.count(500) < 20
        async with s.post(url[:-3] + "/stats/reset") as r:
            assert r.status == 200
        again = []
        for _ in range(20):  # reset re-seeds the draws: the same fault sequence
            async with s.post(url + "/chat/completions", json=body) as r:
                again.append(r.status)
        assert again == outcomes
        assert (await _get_json(url[:-3] + "/stats"))["requests"] == 20


@run_async
async def test_server_handles_600_concurrent_requests(server):
    url = server(latency=1.0)  # long enough for 600 requests to be sent before the first reply, even on a busy machine
    messages = msgs("chat", render_change(change_query("python", PY_CURRENT, PY_FINAL)))
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as s:
        async def one(i: int) -> str:
            body = {"model": "m", "messages": messages, "seed": i}
            async with s.post(url + "/chat/completions", json=body) as r:
                assert r.status == 200
                return (await r.json())["choices"][0]["message"]["content"]

        texts = await asyncio.gather(*(one(i) for i in range(600)))
    assert len(set(texts)) == 1  # the seed does not change the reply
    stats = await _get_json(url[:-3] + "/stats")
    assert stats["requests"] == 600 and stats["by_outcome"]["ok"] == 600 and stats["bodies"]["distinct"] == 600
    assert stats["max_in_flight"] >= 512


def test_bad_options_and_hosts():
    with pytest.raises(ValueError, match="sum to at most 1"):
        make_app(fail_500=0.7, malformed=0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        make_app(fail_429=1.5)
    with pytest.raises(ValueError, match="loopback"):
        serve_in_thread("0.0.0.0", 0)
    assert is_loopback("127.0.0.1") and is_loopback("127.3.2.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("example.com")
    assert base_url("::1", 8000) == "http://[::1]:8000/v1" and base_url("127.0.0.1", 80) == "http://127.0.0.1:80/v1"


def test_cli_refuses_a_host_that_is_not_loopback(tmp_path):
    result = CliRunner().invoke(simulate_command, ["--params", str(tmp_path / "none.yaml"), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "loopback only" in result.output and "0.0.0.0" in result.output


def test_cli_reports_bad_fault_rates(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"simulate": {"fail_500": 0.9, "fail_429": 0.9}}))
    result = CliRunner().invoke(simulate_command, ["--params", str(params), "--port", "0"])
    assert result.exit_code == 2 and "sum to at most 1" in result.output
