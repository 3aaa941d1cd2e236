"""How PyTorch's OpenMP threads wait between parallel regions, chosen before torch is first imported.

By default GNU OpenMP (what the CPU wheels of torch use) keeps its worker threads spinning for a while after
each parallel operation. Inference here interleaves short PyTorch operations with OpenCV (DIS flow, the
full-size render), the decoder and the H.264 encoder, which all want the same cores: the spinning threads take
CPU time from them. Sleeping instead ("passive") made `vidinterp upsample` at 720p ×2 on 2 cores 1.14× faster
in wall time with 20 % less CPU time (talking-head and action-cam clips, medians of 3), with the model alone
unchanged.

OpenMP reads `OMP_WAIT_POLICY` once, when torch loads it, so this only works before the first `import torch`;
it is a no-op afterwards and whenever the variable is already set (the user's choice wins). The CLI calls it
for its inference commands; Python users who want it set `OMP_WAIT_POLICY=PASSIVE` themselves.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

VARIABLE = "OMP_WAIT_POLICY"


def prefer_passive_waiting() -> bool:
    """Set OMP_WAIT_POLICY=PASSIVE for this process if torch is not loaded yet and the user did not set it;
    True when it was set here."""
    if VARIABLE in os.environ or "torch" in sys.modules:
        return False
    os.environ[VARIABLE] = "PASSIVE"
    log.debug("%s=PASSIVE: OpenMP threads sleep between parallel regions", VARIABLE)
    return True


__all__ = ["VARIABLE", "prefer_passive_waiting"]
