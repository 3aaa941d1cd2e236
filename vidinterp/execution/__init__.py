"""The execution layer: how a run computes (settings resolved once) and what carries frames through it."""
