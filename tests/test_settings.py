"""One settings object: built in one module from options and environment, checked once, resolved once per run,
and the interpolator options declared once for upsample, eval and bench."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import vidinterp
from synthetic import make_clip
from vidinterp.cli import main
from vidinterp.errors import UsageError
from vidinterp.execution import settings as settings_module
from vidinterp.execution.settings import SettingError, Settings, build_settings

PACKAGE = Path(vidinterp.__file__).parent


def run_upsample(argv, capsys):
    try:
        main(["upsample", *map(str, argv)])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_every_vidinterp_variable_is_read_in_the_settings_module_only():
    read = re.compile(r"""(environ\.get\(|getenv\(|environ\[)\s*["']VIDINTERP_""")
    readers = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if read.search(path.read_text()))
    assert readers == ["execution/settings.py"]


def test_options_win_over_the_environment_which_wins_over_the_defaults():
    environ = {
        "VIDINTERP_PRECISION": "bf16",
        "VIDINTERP_RENDER": "torch",
        "VIDINTERP_COMPILE": "1",
        "VIDINTERP_CHANNELS_LAST": "0",
        "VIDINTERP_BACKEND": "torch",
        "VIDINTERP_MALLOC_ARENAS": "0",
    }
    from_environment = build_settings(environ=environ)
    assert (from_environment.precision, from_environment.render, from_environment.compile) == ("bf16", "torch", True)
    assert from_environment.channels_last is False and from_environment.backend == "torch"
    assert from_environment.malloc_arenas == 0
    assert build_settings(precision="fp32", environ=environ).precision == "fp32"
    defaults = build_settings(environ={})
    assert defaults == Settings()
    assert (defaults.precision, defaults.render, defaults.compile, defaults.channels_last) == (
        "auto",
        "auto",
        False,
        None,
    )


@pytest.mark.parametrize(
    "variable, value",
    [
        ("VIDINTERP_PRECISION", "int8"),
        ("VIDINTERP_RENDER", "gpu"),
        ("VIDINTERP_COMPILE", "maybe"),
        ("VIDINTERP_BACKEND", "fastest"),
        ("VIDINTERP_MALLOC_ARENAS", "many"),
    ],
)
def test_a_bad_variable_is_one_error_naming_it(variable, value):
    with pytest.raises(SettingError, match=f"{variable}='{value}'"):
        build_settings(environ={variable: value})


def test_fp16_is_precision_fp16_and_a_contradiction_is_an_error():
    assert build_settings(fp16=True).precision == "fp16"
    assert build_settings(fp16=True, precision="fp16").precision == "fp16"
    assert build_settings(fp16=True, precision="auto").precision == "fp16"
    assert build_settings(fp16=True, environ={"VIDINTERP_PRECISION": "fp32"}).precision == "fp16"  # options win
    for options in (vidinterp.UpsampleOptions, vidinterp.EvaluationOptions):
        with pytest.raises(UsageError, match="--fp16 means --precision fp16, which contradicts --precision fp32"):
            options(fp16=True, precision="fp32")
    with pytest.raises(UsageError, match="contradicts --precision bf16"):
        vidinterp.load(method="blend", device="cpu", fp16=True, precision="bf16")


def test_fp16_contradiction_on_the_command_line_is_one_line(tmp_path, capsys):
    source = make_clip(tmp_path / "in.mp4", n_frames=3, width=32, height=24)
    code, out, err = run_upsample(
        [source, tmp_path / "out.mp4", "--method", "blend", "--fp16", "--precision", "fp32"], capsys
    )
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("vidinterp: error: --fp16 means --precision fp16, which contradicts --precision fp32")
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("batch_size", [0, -3, 1.5, True])
def test_a_batch_size_below_one_is_refused_on_construction(batch_size):
    for build in (
        lambda: vidinterp.UpsampleOptions(batch_size=batch_size),
        lambda: vidinterp.upsample("in.mp4", "out.mp4", {"batch_size": batch_size}),
        lambda: vidinterp.load(method="blend", device="cpu", batch_size=batch_size),
    ):
        with pytest.raises(UsageError, match=r"batch size \(--batch-size\) must be a whole number of at least 1"):
            build()


def test_batch_size_has_one_default_per_device():
    from vidinterp.interpolators.runtime import resolve_settings

    assert vidinterp.load(method="blend", device="cpu").batch_size == settings_module.DEFAULT_BATCH_SIZES["cpu"]
    assert resolve_settings(build_settings(method="blend", device="cpu", batch_size=5)).batch_size == 5
    assert settings_module.default_batch_size("cuda") == settings_module.GPU_BATCH_SIZE


def test_the_out_of_memory_hint_gives_the_batch_size_in_use(tmp_path, monkeypatch):
    from vidinterp.interpolators.blend import BlendInterpolator

    def exhausted(self, state, pair_index, t):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(BlendInterpolator, "_synthesize", exhausted)
    source = make_clip(tmp_path / "in.mp4", n_frames=4, width=32, height=24)
    default = settings_module.DEFAULT_BATCH_SIZES["cpu"]
    with pytest.raises(vidinterp.VidinterpError, match=rf"--batch-size \(now {default}\)"):
        vidinterp.upsample(source, tmp_path / "a.mp4", {"method": "blend", "device": "cpu"})  # no batch size given
    loaded = vidinterp.load(method="blend", device="cpu", batch_size=3)
    with pytest.raises(vidinterp.VidinterpError, match=r"--batch-size \(now 3\)"):
        vidinterp.upsample(source, tmp_path / "b.mp4", {"batch_size": 7}, interpolator=loaded)  # the one in use


def _count_calls(monkeypatch, name, module_names):
    """Wrap the function `name` wherever these modules hold it; returns the list of calls."""
    calls = []
    for module_name in module_names:
        module = sys.modules.get(module_name)
        original = getattr(module, name, None) if module is not None else None
        if original is None:
            continue

        def counted(*args, _original=original, **kwargs):
            calls.append(args)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("dedupe", [False, True])
def test_a_run_resolves_its_device_and_builds_its_retiming_once(tmp_path, monkeypatch, caplog, dedupe):
    import vidinterp.api.upsample  # noqa: F401 - loads the modules whose functions are counted
    from vidinterp.pipeline import timing

    modules = [name for name in sys.modules if name.startswith("vidinterp.")]
    devices = _count_calls(monkeypatch, "resolve_device", modules)
    built = []
    original = timing.RetimeOptions.__post_init__
    monkeypatch.setattr(timing.RetimeOptions, "__post_init__", lambda self: (built.append(self), original(self)))
    source = make_clip(tmp_path / "in.mp4", n_frames=4, width=32, height=24)
    logger = logging.getLogger("vidinterp.interpolators.runtime")  # its own handler: a CLI run may stop propagation
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        with caplog.at_level("DEBUG", logger=logger.name):
            options = vidinterp.UpsampleOptions(method="blend", device="cpu", factor=3, dedupe=dedupe)
            summary = vidinterp.upsample(source, tmp_path / "out.mp4", options)
    finally:
        logger.removeHandler(handler)
    assert summary.output_frames == 12
    assert len(devices) == 1 and len(built) == 1
    logged = [r for r in records if r.getMessage().startswith("settings: ")]
    assert len(logged) == 1 and logged[0].levelname == "DEBUG" and "batch_size=1" in logged[0].getMessage()


def test_options_share_one_settings_object_with_load():
    options = vidinterp.UpsampleOptions(method="blend", device="cpu", max_side=64, batch_size=2)
    assert options.settings == build_settings(method="blend", device="cpu", max_side=64, batch_size=2)
    assert vidinterp.EvaluationOptions(method="classical", precision="fp32").settings.precision == "fp32"
    loaded = vidinterp.load(settings=options.settings)
    assert (loaded.method, loaded.batch_size, str(loaded.device), loaded.settings.resolved) == ("blend", 2, "cpu", True)
    assert loaded.interpolator.device == torch.device("cpu")
    with pytest.raises(UsageError, match="either settings or the separate arguments"):
        vidinterp.load(method="blend", settings=options.settings)


def _params(command: str) -> dict:
    import typer

    from vidinterp.cli import build_app

    click_command = typer.main.get_command(build_app()).commands[command]
    return {param.name: param for param in click_command.params}


def test_interpolator_options_are_declared_once_for_upsample_eval_and_bench():
    shared = ("method", "model", "device", "precision", "fp16", "max_side")
    commands = {name: _params(name) for name in ("upsample", "eval", "bench")}
    for option in shared:
        declared = {name: params[option] for name, params in commands.items()}
        helps = {param.help for param in declared.values()}
        defaults = {param.default for param in declared.values()}
        assert len(helps) == 1 and len(defaults) == 1, option
        assert {tuple(param.opts) for param in declared.values()} == {tuple(declared["upsample"].opts)}


def test_help_takes_its_defaults_from_the_constants():
    """Change the constants and the help follows: no default typed twice."""
    code = (
        "import vidinterp.execution.settings as s\n"
        "s.DEFAULT_MAX_SIDE = 4321; s.DEFAULT_BATCH_SIZES['cpu'] = 17; s.GPU_BATCH_SIZE = 23\n"
        "import typer; from vidinterp.cli import build_app\n"
        "params = {p.name: p for p in typer.main.get_command(build_app()).commands['upsample'].params}\n"
        "print(params['max_side'].help); print(params['batch_size'].help); print(params['device'].default)\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "Default 4321" in shown and "17 on the CPU" in shown and "23 on a GPU" in shown
    assert shown.splitlines()[-1] == settings_module.DEFAULT_DEVICE


def test_an_op_backend_in_the_settings_is_the_one_the_ops_use_on_cuda():
    from vidinterp.interpolators import runtime
    from vidinterp.ops import backends

    try:
        # decided for a CUDA device without one here: only the backend choice is looked at
        runtime._decide(build_settings(method="blend", precision="fp32").replace(backend="torch"), torch.device("cuda"))
        assert backends.requested_backend() == "torch"
    finally:
        backends.set_backend("auto")
    runtime._decide(build_settings(method="blend").replace(backend="torch"), torch.device("cpu"))
    assert backends.requested_backend() == "auto"  # CPU tensors always use torch: nothing is forced
