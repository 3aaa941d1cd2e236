"""Video input and output with PyAV: decoding with presentation times, encoding with audio and metadata."""
