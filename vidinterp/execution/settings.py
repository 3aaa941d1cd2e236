"""How a run computes, in one object: built here from the options and the environment, checked once, and handed
down whole (API → interpolator factory → interpolator → runtime; pipeline threads; op backend).

`build_settings` makes the object from what the user asked for: options win over `VIDINTERP_*` variables, which
win over the defaults below. Every `VIDINTERP_*` variable is read in this module and nowhere else. `Settings`
checks each field once, on construction, with the CLI's one-line messages. What depends on the machine (the
device that "auto" means, "auto" precision, the batch size and layout for that device, whether torch.compile can
run) is decided once per run by `vidinterp.interpolators.runtime.resolve_settings`, which returns the same type
with `resolved` set and logs it at debug level.

Torch-free: options, `--help` and the ops' environment reads import nothing heavy through here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidinterp.errors import UsageError
from vidinterp.methods import check_method

# -- the defaults, one per setting (the README's settings table and the CLI's help texts take them from here) -----
#: --device: the first CUDA GPU if there is one, else the CPU.
DEFAULT_DEVICE = "auto"
#: Model precisions accepted by --precision. "auto": bf16 on CPUs with AMX, else fp32 (fp16 is never automatic).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEFAULT_PRECISION = "auto"
#: --max-side for the model: the network works on frames of at most this longer side (720p and 1080p at half size).
DEFAULT_MAX_SIDE = 1024
#: --max-side for the classical method, and the value that means "never shrink".
FULL_SIZE = 0
#: New frames per model call when the user gives no --batch-size, per device type. On the CPU a batch gains nothing
#: (the cores are busy with one frame already) and costs memory: at 640×360 ×2 we measured peak RSS 1.04 GB at
#: batch 8 and 449 MB at batch 1, at the same speed. A GPU (any other device type) needs batches to be kept busy.
DEFAULT_BATCH_SIZES = {"cpu": 1}
GPU_BATCH_SIZE = 8
#: How a frame made at a reduced working size is applied to the full-size frames: "auto" is OpenCV on the CPU and
#: PyTorch on CUDA (see `vidinterp.interpolators.runtime`).
RENDERS = ("auto", "opencv", "torch")
DEFAULT_RENDER = "auto"
#: torch.compile of motion estimation and synthesis: off unless asked for.
DEFAULT_COMPILE = False
#: channels-last (NHWC) weights and frames: None = auto, on for bf16 on the CPU only.
DEFAULT_CHANNELS_LAST = None
#: Implementations of the custom ops for CUDA tensors, fastest first (CPU tensors always use torch).
OP_BACKENDS = ("cuda", "cupy", "torch")
DEFAULT_BACKEND = "auto"
#: torch CPU threads when a run sets them (the CLI does): None = every core this process may run on.
DEFAULT_THREADS = None
#: glibc malloc arenas kept for a CPU run that sets its threads. By default glibc gives every thread that allocates
#: (decoder, encoder, torch's pool, the main thread) its own arena, up to 8 per core, and each keeps the memory freed
#: in it: at 720p ×2 capping them at 2 lowered peak RSS from 633 to 596 MB at the same CPU time. 0 = leave glibc
#: alone (as does glibc's own MALLOC_ARENA_MAX when set).
MALLOC_ARENAS = 2
#: How long a just-in-time build of the CUDA ops waits for another live build (a cold build takes 1 to 3 minutes).
DEFAULT_BUILD_LOCK_TIMEOUT_S = 600.0
#: Where the RIFE teachers' wheels are looked for when neither --teacher-wheels nor VIDINTERP_TEACHER_WHEELS names one.
DEFAULT_WHEEL_DIRS = ("teachers", "../teachers")

#: The variable behind each setting that has one.
VARIABLES = {
    "precision": "VIDINTERP_PRECISION",
    "render": "VIDINTERP_RENDER",
    "compile": "VIDINTERP_COMPILE",
    "channels_last": "VIDINTERP_CHANNELS_LAST",
    "backend": "VIDINTERP_BACKEND",
    "malloc_arenas": "VIDINTERP_MALLOC_ARENAS",
}
_SWITCHES = {"auto": None, "": None, "0": False, "off": False, "false": False, "1": True, "on": True, "true": True}


class SettingError(UsageError, ValueError):
    """A setting with a value it cannot take (also a ValueError, as Python's own bad arguments are)."""


def default_batch_size(device_type: str) -> int:
    """The batch size for a device type ("cpu", "cuda", ...) when the user does not choose one."""
    return DEFAULT_BATCH_SIZES.get(device_type, GPU_BATCH_SIZE)


def default_max_side(method: str | None) -> int:
    """The working size of a method when the user does not choose one: the model's, else full size."""
    return DEFAULT_MAX_SIDE if method == "model" else FULL_SIZE


def usable_cores() -> int:
    """The cores this process may run on (respects taskset and container CPU sets), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _is_count(value: object, least: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= least


@dataclass(frozen=True)
class Settings:
    """How an interpolator runs. Build it with `build_settings` (options, then environment, then defaults).

    method: "model", "classical" or "blend"; None = the model when its weights are installed, else blend.
    model: weights for the model method (a .safetensors file or a shipped model's name); None = shipped default.
    device: "auto", "cpu", "cuda", "cuda:N", a torch.device or a GPU index; a torch.device once resolved.
    precision: "auto", "fp32", "bf16" or "fp16" (`--fp16` is "fp16"); never "auto" once resolved.
    max_side: working size, frames shrunk by halves until their longer side is at most this (0 = full size);
        None = the method's default (`default_max_side`).
    batch_size: new frames per model call; None = the device's default (`default_batch_size`).
    render: "auto", "opencv" or "torch"; "opencv" or "torch" once resolved.
    compile: torch.compile the model (off when the CPU has no C++ compiler, once resolved).
    channels_last: NHWC weights and frames; None = auto (bf16 on the CPU).
    backend: the custom ops' implementation for CUDA tensors: "auto", "cuda", "cupy" or "torch".
    threads: torch CPU threads for a run that sets them; None = every usable core.
    malloc_arenas: glibc malloc arenas for such a run (0 = glibc's default).
    resolved: True once `resolve_settings` has decided the machine-dependent values.
    """

    method: str | None = None
    model: Path | None = None
    device: Any = DEFAULT_DEVICE
    precision: str = DEFAULT_PRECISION
    max_side: int | None = None
    batch_size: int | None = None
    render: str = DEFAULT_RENDER
    compile: bool = DEFAULT_COMPILE
    channels_last: bool | None = DEFAULT_CHANNELS_LAST
    backend: str = DEFAULT_BACKEND
    threads: int | None = DEFAULT_THREADS
    malloc_arenas: int = MALLOC_ARENAS
    resolved: bool = dataclasses.field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.model is not None:
            if not isinstance(self.model, (str, os.PathLike)):
                shown = " ".join(repr(self.model).split())[:60]
                raise SettingError(
                    f"model must be a path or a shipped model's name, got {type(self.model).__name__} {shown}"
                )
            object.__setattr__(self, "model", Path(self.model))
        check_method(self.method, self.model)
        if self.precision not in PRECISIONS:
            raise SettingError(
                f"unknown precision (--precision) {self.precision!r}; choose one of: {', '.join(PRECISIONS)}"
            )
        if self.max_side is not None and not _is_count(self.max_side, 0):
            raise SettingError(
                f"--max-side must be 0 (full size) or a whole number of pixels, got max_side={self.max_side!r}"
            )
        if self.batch_size is not None and not _is_count(self.batch_size, 1):
            raise SettingError(
                f"the batch size (--batch-size) must be a whole number of at least 1, got {self.batch_size!r}"
            )
        if self.render not in RENDERS:
            raise SettingError(f"unknown render {self.render!r}; choose one of: {', '.join(RENDERS)}")
        if self.backend not in ("auto", *OP_BACKENDS):
            raise SettingError(f"unknown op backend {self.backend!r}; choose one of: auto, {', '.join(OP_BACKENDS)}")
        for name in ("compile", "channels_last"):
            value = getattr(self, name)
            if not isinstance(value, bool) and not (name == "channels_last" and value is None):
                raise SettingError(f"{name} must be True or False, got {value!r}")
        if self.threads is not None and not _is_count(self.threads, 1):
            raise SettingError(f"threads must be a whole number of at least 1, got {self.threads!r}")
        if not _is_count(self.malloc_arenas, 0):
            raise SettingError(f"malloc_arenas must be a whole number, 0 or more, got {self.malloc_arenas!r}")

    @property
    def fp16(self) -> bool:
        """Half precision (on CUDA once resolved)."""
        return self.precision == "fp16"

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes`, checked again. A changed copy of resolved settings needs resolving again (another
        method has another working size, another device another batch size) unless `resolved=True` is passed."""
        changes.setdefault("resolved", False)
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """One line for the debug log: every field as name=value."""
        return ", ".join(
            f"{field.name}={getattr(self, field.name)}"
            for field in dataclasses.fields(self)
            if field.name != "resolved"
        )


def fold_fp16(precision: str | None, fp16: bool) -> str | None:
    """`--fp16` is `--precision fp16`: the precision asked for with both switches taken together (None = neither).
    A contradiction (`--fp16 --precision fp32`) is refused."""
    if not isinstance(fp16, bool):
        raise SettingError(f"fp16 must be True or False, got {fp16!r}")
    if not fp16:
        return precision
    if precision not in (None, DEFAULT_PRECISION, "fp16"):
        raise SettingError(f"--fp16 means --precision fp16, which contradicts --precision {precision}; give one")
    return "fp16"


def build_settings(
    *,
    method: str | None = None,
    model: str | os.PathLike | None = None,
    device: Any = DEFAULT_DEVICE,
    precision: str | None = None,
    fp16: bool = False,
    max_side: int | None = None,
    batch_size: int | None = None,
    threads: int | None = DEFAULT_THREADS,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The settings for these options: given options win, then the `VIDINTERP_*` variables, then the defaults.

    fp16: the old switch for precision "fp16", kept as its alias. environ: the variables (default os.environ).
    """
    environ = os.environ if environ is None else environ
    precision = fold_fp16(precision, fp16)
    if precision is None:
        precision = _choice(environ, "precision", PRECISIONS, DEFAULT_PRECISION)
    return Settings(
        method=method,
        model=model,
        device=DEFAULT_DEVICE if device is None else device,
        precision=precision,
        max_side=max_side,
        batch_size=batch_size,
        threads=threads,
        render=_choice(environ, "render", RENDERS, DEFAULT_RENDER),
        compile=_switch(environ, "compile") or DEFAULT_COMPILE,
        channels_last=_switch(environ, "channels_last"),
        backend=environment_backend(environ),
        malloc_arenas=_count(environ, "malloc_arenas", MALLOC_ARENAS),
    )


# -- the variables, each read here only ----------------------------------------------------------------------------
def _raw(environ: Mapping[str, str], variable: str) -> str:
    return environ.get(variable, "").strip().lower()


def _choice(environ: Mapping[str, str], setting: str, choices: tuple[str, ...], default: str) -> str:
    variable = VARIABLES[setting]
    value = _raw(environ, variable) or default
    if value not in choices:
        raise SettingError(f"{variable}={value!r} is not understood; use {', '.join(choices)}")
    return value


def _switch(environ: Mapping[str, str], setting: str) -> bool | None:
    variable = VARIABLES[setting]
    value = _raw(environ, variable)
    if value not in _SWITCHES:
        raise SettingError(f"{variable}={value!r} is not understood; use auto, 0 or 1")
    return _SWITCHES[value]


def _count(environ: Mapping[str, str], setting: str, default: int) -> int:
    variable = VARIABLES[setting]
    value = _raw(environ, variable)
    if not value:
        return default
    if not value.isdigit():
        raise SettingError(f"{variable}={value!r} is not understood; use a whole number (0 = glibc's default)")
    return int(value)


def environment_backend(environ: Mapping[str, str] | None = None) -> str:
    """The op backend VIDINTERP_BACKEND asks for: "auto" (also when unset), "cuda", "cupy" or "torch"."""
    return _choice(os.environ if environ is None else environ, "backend", ("auto", *OP_BACKENDS), DEFAULT_BACKEND)


def op_cache_root() -> Path:
    """VIDINTERP_CACHE_DIR, or ~/.cache/vidinterp: where just-in-time builds of the CUDA ops are kept."""
    return Path(os.environ.get("VIDINTERP_CACHE_DIR") or Path.home() / ".cache" / "vidinterp")


def build_lock_timeout() -> float:
    """VIDINTERP_BUILD_LOCK_TIMEOUT (seconds), or DEFAULT_BUILD_LOCK_TIMEOUT_S."""
    raw = os.environ.get("VIDINTERP_BUILD_LOCK_TIMEOUT", "").strip()
    try:
        return float(raw) if raw else DEFAULT_BUILD_LOCK_TIMEOUT_S
    except ValueError:
        raise SettingError(f"VIDINTERP_BUILD_LOCK_TIMEOUT must be a number of seconds, got {raw!r}") from None


def teacher_wheel_dirs(wheel_dir: str | None = None) -> list[str]:
    """Folders to look for the RIFE teachers' wheels in: `wheel_dir` alone when given, else
    VIDINTERP_TEACHER_WHEELS (when set) and DEFAULT_WHEEL_DIRS."""
    if wheel_dir:
        return [wheel_dir]
    return [folder for folder in (os.environ.get("VIDINTERP_TEACHER_WHEELS", ""), *DEFAULT_WHEEL_DIRS) if folder]
