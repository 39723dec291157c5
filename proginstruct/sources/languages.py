"""File extension -> lower-case language name (SPEC 0 spelling: ``python``, ``c++``, ``c#`` ...)."""

from __future__ import annotations

from pathlib import PurePosixPath

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript",
    ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala",
    ".c": "c", ".h": "c",
    ".cc": "c++", ".cpp": "c++", ".cxx": "c++", ".hpp": "c++", ".hh": "c++", ".hxx": "c++",
    ".cs": "c#", ".go": "go", ".rs": "rust", ".rb": "ruby", ".php": "php", ".swift": "swift",
    ".m": "objective-c", ".mm": "objective-c++",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".lua": "lua", ".pl": "perl", ".r": "r", ".jl": "julia", ".hs": "haskell", ".ml": "ocaml",
    ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".clj": "clojure", ".dart": "dart",
    ".sql": "sql", ".html": "html", ".css": "css", ".scss": "scss", ".vue": "vue",
    ".md": "markdown", ".rst": "restructuredtext", ".tex": "tex",
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".xml": "xml",
    ".mk": "makefile", ".cmake": "cmake",
}

FILENAMES: dict[str, str] = {"Makefile": "makefile", "Dockerfile": "dockerfile", "CMakeLists.txt": "cmake"}


def language_of(path: str) -> str:
    """Language of a file path from its name or extension (case-insensitive); ``""`` when unknown."""
    p = PurePosixPath(path)
    if p.name in FILENAMES:
        return FILENAMES[p.name]
    return EXTENSIONS.get(p.suffix.lower(), "")
