"""proginstruct: the Programming-Instruct data recipe (CursorCore) as a reproducible DVC pipeline.

The packages follow the pipeline (docs: README "Map of the code"):

- ``sources`` prepares input records (SPEC 1): git commits, AI-programmer snippets, CodeNet submissions;
- ``collection`` samples code series and asks the roles for samples (SPEC 4, 6);
- ``area`` synthesizes the cursor or range of each sample (SPEC 7);
- ``quality``, the stage after merge;
- ``export`` merges the sources and writes the training formats (SPEC 8);
- ``report`` measures the dataset beside the paper (SPEC 9); ``release`` shares it.

``roles`` holds the four LLM roles' prompts and reply parsers (SPEC 5). Beside the pipeline, ``llm`` is
the model layer (what talks to a server) and ``simulator`` the simulated model it can use instead.
``text`` and ``blocks`` are the pure core (SPEC 2-3); ``cli`` holds the stage commands.
"""

__version__ = "0.1.0"
