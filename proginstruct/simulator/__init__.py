"""The simulated model: a deterministic stand-in for an LLM server, so the recipe runs with no GPU and no
network (``"base": "simulator"`` in the model map). It is not a language model; every sample it makes
says ``"model": "proginstruct-simulator"``.

It answers the four roles of SPEC 5 by their reply protocol, from the request's messages alone:

- :mod:`~proginstruct.simulator.protocol`: reading a request (which role, the query, token counts);
- :mod:`~proginstruct.simulator.query`: parsing a query rendered by :mod:`proginstruct.roles.render`;
- :mod:`~proginstruct.simulator.replies`: the judge, instruction and chat replies (and malformed ones);
- :mod:`~proginstruct.simulator.programmer`: the programmer role's version histories;
- :mod:`~proginstruct.simulator.code_lines`, :mod:`~proginstruct.simulator.diff_facts`,
  :mod:`~proginstruct.simulator.describe`: a diff described in words;
- :mod:`~proginstruct.simulator.api`: the OpenAI API surface (request bytes -> status, JSON);
- :mod:`~proginstruct.simulator.transport`: the in-process client the engine uses, the one module the
  model layer (:mod:`proginstruct.llm`) imports;
- :mod:`~proginstruct.simulator.server`: the same model on a loopback HTTP server with fault injection
  (``proginstruct simulate``, load and resilience tests, ``bench/scale.py``).

Nothing here imports the model layer: the arrows go from :mod:`proginstruct.llm` to this package only.
"""
