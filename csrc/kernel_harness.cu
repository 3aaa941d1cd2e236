// Torch-free compile check: instantiates every kernel in csrc/kernels for float, __half and
// __nv_bfloat16 so a template error anywhere fails `csrc/check_kernels.sh` (CI), without needing libtorch.
#include "warp.cuh"
#include "correlation.cuh"

namespace {

template <typename scalar_t>
void instantiate_all() {
    void (*warp_fwd)(const scalar_t*, const scalar_t*, scalar_t*, int, int, int, int, int) =
        vidinterp::warp_forward_kernel<scalar_t>;
    void (*warp_bwd)(const scalar_t*, const scalar_t*, const scalar_t*, float*, scalar_t*, int, int, int, int, int) =
        vidinterp::warp_backward_kernel<scalar_t>;
    void (*corr_fwd)(const scalar_t*, const scalar_t*, scalar_t*, int, int, int, int, int) =
        vidinterp::correlation_forward_kernel<scalar_t>;
    void (*corr_bwd)(const scalar_t*, const scalar_t*, const scalar_t*, scalar_t*, scalar_t*, int, int, int, int,
                     int) = vidinterp::correlation_backward_kernel<scalar_t>;
    // Launch with a null grid so the host-side stubs are generated too (never executed).
    if (warp_fwd == nullptr || warp_bwd == nullptr || corr_fwd == nullptr || corr_bwd == nullptr) return;
    warp_fwd<<<0, 1>>>(nullptr, nullptr, nullptr, 0, 0, 0, 0, 0);
    warp_bwd<<<0, 1>>>(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0, 0, 0, 0);
    corr_fwd<<<0, 1>>>(nullptr, nullptr, nullptr, 0, 0, 0, 0, 0);
    corr_bwd<<<0, 1>>>(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0, 0, 0, 0);
    vidinterp::correlation_forward_tiled_kernel<scalar_t, 0><<<0, 1>>>(nullptr, nullptr, nullptr, 0, 0, 0, 0);
    vidinterp::correlation_forward_tiled_kernel<scalar_t, 1><<<0, 1>>>(nullptr, nullptr, nullptr, 0, 0, 0, 0);
    vidinterp::correlation_forward_tiled_kernel<scalar_t, 2><<<0, 1>>>(nullptr, nullptr, nullptr, 0, 0, 0, 0);
    vidinterp::correlation_forward_tiled_kernel<scalar_t, 3><<<0, 1>>>(nullptr, nullptr, nullptr, 0, 0, 0, 0);
    vidinterp::correlation_forward_tiled_kernel<scalar_t, 4><<<0, 1>>>(nullptr, nullptr, nullptr, 0, 0, 0, 0);
}

}  // namespace

void vidinterp_instantiate_kernels() {
    instantiate_all<float>();
    instantiate_all<__half>();
    instantiate_all<__nv_bfloat16>();
}
