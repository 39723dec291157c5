"""Errors meant for a person: one line naming the file or record and what to do."""


class UserError(Exception):
    """A problem with the user's input or configuration.

    The CLI prints ``str(err)`` as a single line prefixed with ``error:`` and exits with status 2.
    The message must name the file (and record index when there is one) and the fix.
    """


class BadRecord(UserError):
    """A malformed input record (SPEC 1): ``path``, 0-based ``index`` and ``reason``."""

    def __init__(self, path: str, index: int, reason: str):
        self.path, self.index, self.reason = str(path), index, reason
        super().__init__(f"{path}: record {index}: {reason}")

    def __reduce__(self):  # picklable with its fields (errors cross from collect worker processes)
        return (type(self), (self.path, self.index, self.reason))
