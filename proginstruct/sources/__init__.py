"""Input sources (SPEC 1): git commits, AI-programmer snippets, online-judge submissions."""
