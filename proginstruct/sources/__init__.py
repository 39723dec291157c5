"""Input sources (SPEC 1): git commits, AI-programmer snippets, online-judge submissions (docs/sources.md).

- :mod:`.commit`, :mod:`.git_history`, :mod:`.commit_datasets`: the ``prepare_commit`` stage (SPEC 1.1)
- :mod:`.snippets`, :mod:`.aiprogrammer`: the ``aiprogrammer`` stage (SPEC 5 programmer role)
- :mod:`.submit`, :mod:`.rouge`, :mod:`.problem_statements`: the ``prepare_submit`` stage (SPEC 1.2)
- :mod:`.languages`: file extension -> language name
"""
