"""The execution layer: how a run computes and how frames travel through it. `settings.py` builds the run's
settings once (`interpolators/runtime.py` completes them for the machine); `frames.py` is the one NumPy <-> torch
frame conversion; `prior.py` the DIS prior; `render.py` the CPU render in OpenCV; `loop.py` the one "prepare once,
synthesize in chunks" loop that the API, the pipeline and evaluation share."""
