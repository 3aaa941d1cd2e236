// Schemas of the vidinterp operators, declared once for the compiled extension. The CPU (CompositeExplicitAutograd)
// implementation is the fast PyTorch one registered from Python (vidinterp/ops/library.py); CUDA kernels are
// registered in warp_cuda.cu and correlation_cuda.cu. padding: 0 = "border", 1 = "zeros". output_mask: which of
// the two gradients to return; an unrequested one is returned as an empty tensor.
// Keep the schema strings identical to vidinterp/ops/library.py SCHEMAS (a test compares them).
#include <Python.h>
#include <torch/library.h>

TORCH_LIBRARY(vidinterp, m) {
    m.def("backward_warp(Tensor image, Tensor flow, int padding) -> Tensor");
    m.def("backward_warp_backward(Tensor grad_output, Tensor image, Tensor flow, int padding, bool[2] output_mask)"
          " -> (Tensor, Tensor)");
    m.def("correlation(Tensor f0, Tensor f1, int max_displacement) -> Tensor");
    m.def("correlation_backward(Tensor grad_output, Tensor f0, Tensor f1, int max_displacement, bool[2] output_mask)"
          " -> (Tensor, Tensor)");
}

// `import vidinterp._C` runs the registrations above; the module itself is empty.
extern "C" PyObject* PyInit__C(void) {
    static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
    return PyModule_Create(&module_def);
}
