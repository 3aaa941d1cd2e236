"""The `vidinterp` command: one Typer app, one module per subcommand.

Each subcommand module exposes `register(app)`; `main()` turns user-facing errors into one line on stderr
and a non-zero exit status, and keeps stdout free for video data.
"""

from __future__ import annotations

import importlib
import sys

import typer
from typer.exceptions import TyperException

from vidinterp.errors import VidinterpError

# Subcommand modules, in the order `vidinterp --help` lists them.
COMMAND_MODULES = ("upsample", "train", "eval", "bench", "doctor")


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
        ctx: typer.Context,
        version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    ) -> None:
        if version:
            from vidinterp import __version__

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


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(build_app())
    try:
        # Without standalone mode click *returns* the exit code of a typer.Exit (Typer turns Ctrl-C inside a
        # command into Exit(130)), so pass a non-zero return on to the shell.
        status = command.main(args=argv, prog_name="vidinterp", standalone_mode=False)
        if isinstance(status, int) and status:
            if status == 130:
                error("interrupted")
            sys.exit(status)
    except VidinterpError as exc:
        error(str(exc))
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        error("interrupted")
        sys.exit(130)
    except TyperException as exc:
        # Usage errors found while parsing (bad option, missing argument): Typer prints them with a usage hint.
        exc.show(file=sys.stderr)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. `| head`); nothing useful left to say.
        sys.exit(1)
