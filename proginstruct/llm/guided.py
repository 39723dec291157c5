"""The request body of a role call, and its grammar-guided decoding fields (docs/models-and-scale.md).

A model map entry may say ``"guided": "llama.cpp" | "vllm" | "sglang"`` (default ``"none"``). With it,
every role request carries the GBNF grammar of that role's reply protocol
(:mod:`proginstruct.roles.grammars`, SPEC 5) in that server's own field:

==============  ===================================================  ========================================
``guided``      body field                                            read by
==============  ===================================================  ========================================
``llama.cpp``   ``"grammar": "<GBNF>"``                               llama.cpp's server (``llama-server``)
``vllm``        ``"structured_outputs": {"grammar": "<GBNF>"}``       vLLM >= 0.12 (XGrammar backend; the older
                                                                      ``guided_grammar`` field was removed)
``sglang``      ``"ebnf": "<GBNF>"``                                  sglang (XGrammar backend)
``none``        nothing                                               any server
==============  ===================================================  ========================================

The reply is parsed as any other (a guided reply is an ordinary reply). The reply cache key of a guided
request also holds the setting and the grammar (:func:`key_params`); without guidance keys are as before.

:func:`request_body` builds every request body in one place, so that every path that sends a role
request sends the same bytes.
"""

from __future__ import annotations

from typing import Any

from .model_map import GUIDED_SERVERS, ModelEntry

__all__ = ["BODY_ORDER", "GUIDED_SERVERS", "guided_fields", "key_params", "request_body", "role_grammar"]

# the order chat.completions.create serializes a body in (so cassettes and server-side hashes agree)
BODY_ORDER = ("frequency_penalty", "max_tokens", "presence_penalty", "seed", "temperature", "top_p")


def guided_fields(server: str, grammar: str | None) -> dict[str, Any]:
    """The body fields that carry ``grammar`` to a ``server`` of :data:`GUIDED_SERVERS` (``{}`` for
    ``"none"`` or no grammar). Raises ``ValueError`` for an unknown server name."""
    if grammar is None or server == "none":
        return {}
    if server == "llama.cpp":
        return {"grammar": grammar}
    if server == "vllm":
        return {"structured_outputs": {"grammar": grammar}}
    if server == "sglang":
        return {"ebnf": grammar}
    raise ValueError(f"unknown guided server {server!r}; expected one of {', '.join(GUIDED_SERVERS)}")


def role_grammar(entry: ModelEntry, role: Any, query: Any) -> str | None:
    """The grammar to send with ``role``'s request about ``query`` to ``entry``: ``role.grammar(query)``
    when the entry is guided and the role has a grammar, else ``None``."""
    if entry.guided == "none":
        return None
    make = getattr(role, "grammar", None)
    return make(query) if make is not None else None


def key_params(sampling: dict[str, Any], entry: ModelEntry, grammar: str | None) -> dict[str, Any]:
    """The request parameters that go into the reply cache key: ``sampling`` alone without a grammar
    (keys as before guidance existed), else ``sampling`` plus ``guided`` (the server kind) and
    ``grammar`` (the GBNF text)."""
    if grammar is None:
        return sampling
    return {**sampling, "guided": entry.guided, "grammar": grammar}


def request_body(entry: ModelEntry, messages: list[dict], sampling: dict[str, Any], seed: int,
                 grammar: str | None = None) -> dict[str, Any]:
    """The chat-completions body for ``entry``: ``model``, ``messages``, the sampling parameters and
    ``seed`` in :data:`BODY_ORDER`, then the guided fields of ``entry.guided`` when ``grammar`` is given.

    ``sampling`` holds temperature, top_p, max_tokens, frequency_penalty, presence_penalty (SPEC 9).
    """
    body: dict[str, Any] = {"model": entry.name, "messages": messages}
    params = {**sampling, "seed": seed}
    for k in BODY_ORDER:
        body[k] = params[k]
    body.update(guided_fields(entry.guided, grammar))
    return body
