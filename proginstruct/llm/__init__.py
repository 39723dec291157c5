"""The model layer: everything that talks to an OpenAI-compatible server. Knows nothing about DVC.

- :mod:`~proginstruct.llm.model_map`: which models and endpoints answer the roles (SPEC 10);
- :mod:`~proginstruct.llm.engine`: one async engine for every role call (requests, retries, re-asks);
- :mod:`~proginstruct.llm.endpoints`, :mod:`~proginstruct.llm.limits`: spreading requests over a model's
  endpoints, cooldowns, per-model limits;
- :mod:`~proginstruct.llm.cache`: the persistent reply cache;
- :mod:`~proginstruct.llm.runner`, :mod:`~proginstruct.llm.gc_tuning`: the ordered, resumable record loop
  and its garbage-collector settings.

The simulated model (``"base": "simulator"``) lives beside it in :mod:`proginstruct.simulator`; the engine
reaches it through :func:`proginstruct.simulator.transport.simulator_http_client` only.
"""
