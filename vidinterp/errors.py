"""Errors that reach the user as one clear line instead of a traceback."""


class VidinterpError(Exception):
    """A problem with the user's input or environment; the CLI prints `vidinterp: error: <message>` and exits 1."""

    exit_code = 1


class UsageError(VidinterpError):
    """A bad combination of options or arguments; exit status 2 like other usage errors."""

    exit_code = 2
