"""The `vidinterp` entry point: version, help, and how errors become exit statuses without tracebacks."""

from __future__ import annotations

from vidinterp import __version__


def test_version(run_cli):
    code, out, err = run_cli("--version")
    assert code == 0
    assert out.strip() == f"vidinterp {__version__}"


def test_no_command_shows_help_listing_every_subcommand(run_cli):
    code, out, _ = run_cli()
    assert code == 0
    for command in ("upsample", "train", "eval", "bench", "doctor"):
        assert command in out


def test_unknown_option_is_a_usage_error(run_cli):
    code, out, err = run_cli("upsample", "--no-such-option")
    assert code == 2
    assert out == ""
    assert err == "vidinterp: error: no such option: --no-such-option (see 'vidinterp upsample --help')\n"


def test_user_error_is_one_line_on_stderr(run_cli, tmp_path):
    code, out, err = run_cli("upsample", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4"))
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("vidinterp: error: ")


def test_interrupt_exits_130(run_cli, monkeypatch):
    monkeypatch.setattr("typer.main.get_command", lambda app: _Raising())
    code, _, err = run_cli("doctor")
    assert code == 130
    assert "interrupted" in err


class _Raising:
    """A command whose main() is interrupted, as when the user presses Ctrl-C mid-run."""

    def main(self, **kwargs):
        raise KeyboardInterrupt
