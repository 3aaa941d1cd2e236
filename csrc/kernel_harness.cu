// Torch-free compile check: instantiates every kernel in csrc/kernels for float, __half and
// __nv_bfloat16 so a template error anywhere fails `csrc/check_kernels.sh` (CI), without needing libtorch.
#include "warp.cuh"
#include "correlation.cuh"

namespace {

template <typename scalar_t, int D>
void instantiate_tiled() {
    vidinterp::correlation_forward_tiled_kernel<scalar_t, D><<<0, 1>>>(nullptr, nullptr, nullptr, 0, 0, 0, 0);
    vidinterp::correlation_backward_tiled_kernel<scalar_t, D, false><<<0, 1>>>(nullptr, nullptr, nullptr, nullptr, 0,
                                                                               0, 0, 0);
    vidinterp::correlation_backward_tiled_kernel<scalar_t, D, true><<<0, 1>>>(nullptr, nullptr, nullptr, nullptr, 0,
                                                                              0, 0, 0);
}

// Launches with an empty grid, so the host-side stubs are generated too (never executed).
template <typename scalar_t>
void instantiate_all() {
    vidinterp::warp_forward_kernel<scalar_t><<<0, 1>>>(nullptr, nullptr, nullptr, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    vidinterp::warp_backward_kernel<scalar_t><<<0, 1>>>(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0, 0, 0, 0, 0, 0,
                                                        0, 0, 0, 0);
    vidinterp::correlation_forward_kernel<scalar_t><<<0, 1>>>(nullptr, nullptr, nullptr, 0, 0, 0, 0, 0);
    vidinterp::correlation_backward_kernel<scalar_t><<<0, 1>>>(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0, 0,
                                                               0, 0);
    instantiate_tiled<scalar_t, 0>();
    instantiate_tiled<scalar_t, 1>();
    instantiate_tiled<scalar_t, 2>();
    instantiate_tiled<scalar_t, 3>();
    instantiate_tiled<scalar_t, 4>();
}

}  // namespace

void vidinterp_instantiate_kernels() {
    instantiate_all<float>();
    instantiate_all<__half>();
    instantiate_all<__nv_bfloat16>();
}
