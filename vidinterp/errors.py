"""Errors that reach the user as one clear line instead of a traceback."""


class VidinterpError(Exception):
    """A problem with the user's input or environment; the CLI prints `vidinterp: error: <message>` and exits 1."""

    exit_code = 1


class UsageError(VidinterpError):
    """A bad combination of options or arguments; exit status 2 like other usage errors."""

    exit_code = 2


class Interrupted(VidinterpError):
    """Ctrl-C (exit status 130) or SIGTERM (143) after the command's clean-up ran; reported as one line."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
