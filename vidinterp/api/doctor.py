"""What this installation can use (GPU, compiled or JIT-built kernels, CuPy, PyAV and ffmpeg) and why not, as one
JSON-ready report: `vidinterp doctor` prints it.

    from vidinterp.api.doctor import collect_report
    report = collect_report()
"""

from __future__ import annotations

import shutil
import subprocess


def _ffmpeg_cli() -> str | None:
    path = shutil.which("ffmpeg")
    if path is None:
        return None
    try:
        first = subprocess.run([path, "-hide_banner", "-version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return f"{path} (did not run)"
    return first.splitlines()[0] if first else path


def collect_report() -> dict:
    """Everything doctor prints, as a JSON-ready dict."""
    import torch

    from vidinterp.bench.environment import hardware_info, nvcc_info, software_versions
    from vidinterp.ops import backends, cuda_backend, library
    from vidinterp.version import __version__

    library.ensure_registered()
    prebuilt, prebuilt_why = library.prebuilt_status()
    jit_ok, jit_why = cuda_backend.toolkit_status()
    report: dict = {
        "vidinterp": __version__,
        "versions": software_versions(),
        "hardware": hardware_info(),
        "cuda_available": torch.cuda.is_available(),
        "nvcc": nvcc_info(),
        "extension": {
            "prebuilt": prebuilt,
            "prebuilt_detail": "vidinterp._C imported" if prebuilt else prebuilt_why,
            "jit_possible": jit_ok,
            "jit_detail": jit_why,
            "jit_cache": str(cuda_backend.cache_dir()),
        },
        "backends": {},
    }
    for name in backends.BACKEND_NAMES:
        ok, why = backends.backend_status(name)
        report["backends"][name] = {"available": ok, "detail": why}
    try:
        import av

        report["pyav"] = {
            "version": av.__version__,
            "libraries": {k: ".".join(map(str, v)) for k, v in av.library_versions.items()},
        }
    except Exception as exc:  # noqa: BLE001
        report["pyav"] = {"version": None, "error": str(exc)}
    report["ffmpeg_cli"] = _ffmpeg_cli()
    try:
        report["requested_backend"] = backends.requested_backend()
        device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
        # On a GPU this runs the self-test of each candidate once, so the answer is the one real runs get.
        report["selected_backend"] = {"device": str(device), "backend": backends.backend_for(device)}
    except Exception as exc:  # noqa: BLE001 - e.g. VIDINTERP_BACKEND names an unavailable backend
        report["selected_backend"] = {"error": str(exc)}
    return report
