"""The `vidinterp` entry point: version, help, and how errors become exit statuses without tracebacks."""

from __future__ import annotations

from vidinterp import __version__
from vidinterp.cli import main


def run(argv, capsys):
    """Exit status (0 when main returns normally), stdout, stderr."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    code, out, err = run(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"vidinterp {__version__}"


def test_no_command_shows_help_listing_every_subcommand(capsys):
    code, out, _ = run([], capsys)
    assert code == 0
    for command in ("upsample", "train", "eval", "bench", "doctor"):
        assert command in out


def test_unknown_option_is_a_usage_error(capsys):
    code, out, err = run(["upsample", "--no-such-option"], capsys)
    assert code == 2
    assert out == ""
    assert err == "vidinterp: error: no such option: --no-such-option (see 'vidinterp upsample --help')\n"


def test_user_error_is_one_line_on_stderr(capsys, tmp_path):
    code, out, err = run(["upsample", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4")], capsys)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("vidinterp: error: ")


def test_interrupt_exits_130(capsys, monkeypatch):
    monkeypatch.setattr("typer.main.get_command", lambda app: _Raising())
    code, _, err = run(["doctor"], capsys)
    assert code == 130
    assert "interrupted" in err


class _Raising:
    """A command whose main() is interrupted, as when the user presses Ctrl-C mid-run."""

    def main(self, **kwargs):
        raise KeyboardInterrupt
