"""The execution layer: how frames become tensors and back, the DIS prior, the CPU render, and the one
"prepare once, synthesize in chunks" loop that the API, the pipeline and evaluation share."""
