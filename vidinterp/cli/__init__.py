"""The `vidinterp` command: one Typer app, one module per subcommand.

Each subcommand module exposes `register(app)`; `main()` turns user-facing errors into one line on stderr
and a non-zero exit status, and keeps stdout free for video data.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import typer
from typer.exceptions import TyperException

from vidinterp.errors import VidinterpError
from vidinterp.signals import EXIT_HUNG_UP, EXIT_INTERRUPTED, EXIT_TERMINATED, InterruptGuard, Terminated, describe

# Subcommand modules, in the order `vidinterp --help` lists them.
COMMAND_MODULES = ("upsample", "train", "eval", "bench", "doctor")
#: Commands whose PyTorch work shares the cores with OpenCV and video coding: their OpenMP threads sleep
#: between parallel regions (`vidinterp.pipeline.omp`). Training keeps the default: its convolutions run back
#: to back, which is what spinning is for.
PASSIVE_OMP_COMMANDS = ("upsample", "eval", "bench")


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="vidinterp",
        help=(
            "Video frame interpolation. Turn 24/30 fps footage into 60/120 fps or slow motion, "
            "train interpolation models on your own videos, and measure their quality and speed.\n\n"
            "Use '-' as a path to read from stdin or write to stdout, so vidinterp fits between two "
            "ffmpeg processes."
        ),
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback(invoke_without_command=True)
    def _root(
        ctx: typer.Context, version: bool = typer.Option(False, "--version", help="Print the version and exit.")
    ) -> None:
        if version:
            from vidinterp.version import __version__

            typer.echo(f"vidinterp {__version__}")
            raise typer.Exit()
        if ctx.invoked_subcommand is None:
            typer.echo(ctx.get_help())
            raise typer.Exit()

    for name in COMMAND_MODULES:
        importlib.import_module(f"vidinterp.cli.{name}").register(app)
    return app


def error(message: str) -> None:
    """Print a user-facing error line on stderr (never stdout: it may carry video)."""
    sys.stderr.write(f"vidinterp: error: {message}\n")
    sys.stderr.flush()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _usage_error(exc: TyperException) -> str:
    """Click/Typer's own usage errors (bad value, unknown option, missing argument) as one line with a pointer
    to the command's help, instead of their three-line usage block."""
    message = _one_line(exc.format_message()).rstrip(".")
    ctx = getattr(exc, "ctx", None)  # set on usage errors: the (sub)command being parsed
    where = getattr(ctx, "command_path", None) or "vidinterp"
    return f"{message[:1].lower()}{message[1:]} (see '{where} --help')"


def _command_name(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the first argument that is not an option), if any."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> None:
    from vidinterp.cli.stdio import reopen_closed

    reopen_closed()  # before anything opens a file: a closed descriptor would be reused by it
    if _command_name(sys.argv[1:] if argv is None else argv) in PASSIVE_OMP_COMMANDS:
        from vidinterp.pipeline.omp import prefer_passive_waiting

        prefer_passive_waiting()  # before anything imports torch
    guard = InterruptGuard()
    guard.install()
    status = _dispatch(argv, guard)
    if guard.received or status in (EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HUNG_UP):
        if guard.received:
            status = guard.exit_status  # the first signal's, whatever came after it
        # On the way out after an interrupt: another Ctrl-C must not break into the interpreter's exit
        # (atexit handlers) with a traceback, so the guard stays in place and only prints a note.
        guard.absorb_further()
    else:
        guard.restore()
    if argv is None:
        _exit_past_stuck_threads(status)
    if status:
        sys.exit(status)


def _exit_past_stuck_threads(status: int) -> None:
    """Exit at once when a pipeline thread is still blocked (reading a stalled stdin, writing a full pipe).

    The interpreter's own exit would flush and close sys.stdin/stdout under that thread, which holds their lock:
    CPython then aborts ("Fatal Python error: _enter_buffered_busy ... daemon threads", exit 134). The command's
    clean-up has run already; only the exit itself is skipped."""
    import threading

    stuck = [t for t in threading.enumerate() if t.is_alive() and t.daemon and t.name.startswith("vidinterp-")]
    if not stuck:
        return
    for stream in (sys.stderr, sys.stdout):
        try:
            stream.flush()
        except (OSError, ValueError, RuntimeError):
            pass
    os._exit(status)


def _dispatch(argv: list[str] | None, guard: InterruptGuard) -> int:
    """Run the command; returns its exit status after printing any error as one line."""
    from vidinterp.cli.logs import setup_logging

    setup_logging()  # commands with --quiet narrow it
    command = typer.main.get_command(build_app())
    try:
        # Without standalone mode click *returns* the exit code of a typer.Exit (Typer turns Ctrl-C inside a
        # command into Exit(130)), so pass a non-zero return on to the shell.
        status = command.main(args=argv, prog_name="vidinterp", standalone_mode=False)
        if isinstance(status, int) and status:
            if status in (EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HUNG_UP):
                error(describe(guard.first_signal))
            return status
        return 0
    except VidinterpError as exc:
        error(str(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Terminated) else guard.first_signal or signal.SIGINT
        error(describe(signum))
        return 128 + signum
    except TyperException as exc:
        # Usage errors found while parsing (bad value, unknown option, missing argument).
        error(_usage_error(exc))
        return exc.exit_code
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. `| head`); nothing useful left to say.
        return 1
