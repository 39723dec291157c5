"""Language names in SPEC 0 spelling (lower-case: ``python``, ``c++``, ``c#`` ...): from a file extension
(:func:`language_of`) or from a name as people write it, such as a fence's info string
(:func:`normalize_language`)."""

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


# names written for a language, other than its SPEC 0 spelling or a file extension of it
ALIASES: dict[str, str] = {
    "python3": "python", "py3": "python", "python2": "python", "cpython": "python",
    "node": "javascript", "nodejs": "javascript", "ecmascript": "javascript",
    "cplusplus": "c++", "c++11": "c++", "c++14": "c++", "c++17": "c++", "c++20": "c++",
    "csharp": "c#", "golang": "go", "objc": "objective-c", "objectivec": "objective-c",
    "sh": "shell", "shellscript": "shell", "ps1": "powershell",
    "text": "", "txt": "", "plaintext": "", "plain": "", "none": "", "output": "",
}
KNOWN = frozenset(EXTENSIONS.values()) | frozenset(FILENAMES.values())


def normalize_language(name: str) -> str:
    """SPEC 0 spelling of a language ``name`` (the first word of a fence's info string such as
    ``"Python title=x"``, a dataset's ``lang`` ...): lower-cased, then an alias (``cpp`` -> ``c++``,
    ``py`` -> ``python``, ``csharp`` -> ``c#``; file extensions count as aliases) mapped to its name.
    An unknown name is kept lower-cased; ``""`` for no name or one that says "no language" (``text``)."""
    words = name.strip().split()
    word = words[0].lower().strip("{}").lstrip(".") if words else ""
    if word in KNOWN:
        return word
    if word in ALIASES:
        return ALIASES[word]
    return EXTENSIONS.get("." + word, word)
