"""Training data: find sources (`sources`), decode them once into a memmap cache (`cache`), and cut them into
augmented keyframe/target samples (`dataset`, `augment`).

Kept import-light on purpose (no torch here): `vidinterp.evaluate` imports `vidinterp.data.sources`.
"""
