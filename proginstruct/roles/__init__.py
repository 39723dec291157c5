"""The four LLM roles of SPEC 5: programmer, judge, instruction, chat.

A role is a small object: ``messages(query)`` builds the chat request (system message, worked
examples, query) and ``check(reply)`` accepts a reply (with the parsed result) or rejects it with a
named reason. The engine (``proginstruct.llm.engine``) owns I/O, caching and re-asking.
"""
