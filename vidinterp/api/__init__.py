"""The Python API behind `import vidinterp` (see `vidinterp.__init__`); the CLI commands are thin layers over it.

Modules: `options` (one dataclass per operation, no heavy imports), `pair` (load an interpolator, interpolate
one pair), `upsample` (retime a video or image sequence), `evaluation` (score on datasets or videos), `train`
(start or continue a training run), `bench` (time the ops and whole interpolations), `doctor` (what this
installation can use).
"""
