// CUDA implementations of vidinterp::correlation and its backward (kernels in kernels/correlation.cuh).
#include <torch/library.h>

#include <type_traits>

#include "kernels/correlation.cuh"
#include "launch.h"

namespace vidinterp {
namespace {

constexpr int kThreads = 256;

at::Tensor correlation_cuda(const at::Tensor& f0_in, const at::Tensor& f1_in, int64_t max_displacement) {
    check_correlation_args(f0_in, f1_in, max_displacement);
    const c10::cuda::CUDAGuard guard(f0_in.device());
    const at::Tensor f0 = f0_in.contiguous();
    const at::Tensor f1 = f1_in.contiguous();
    const int N = f0.size(0), C = f0.size(1), H = f0.size(2), W = f0.size(3), d = (int)max_displacement;
    const int K = 2 * d + 1;
    at::Tensor out = at::empty({N, K * K, H, W}, f0.options());
    const long long total = out.numel();
    if (total == 0) return out;
    auto stream = c10::cuda::getCurrentCUDAStream();
    VIDINTERP_DISPATCH_KERNEL_TYPES(f0.scalar_type(), "vidinterp_correlation", [&] {
        using kernel_t = typename KernelType<scalar_t>::type;
        const kernel_t* a = kernel_ptr<scalar_t>(f0);
        const kernel_t* b = kernel_ptr<scalar_t>(f1);
        kernel_t* o = kernel_ptr<scalar_t>(out);
        if (d > kCorrTiledMaxD) {  // larger windows than the model uses: the untiled kernel
            correlation_forward_kernel<kernel_t><<<grid_for(total, kThreads), kThreads, 0, stream>>>(a, b, o, N, C, H,
                                                                                                    W, d);
            return;
        }
        const dim3 block(kCorrTileX, kCorrTileY);
        const long long tiles = (long long)N * ((H + kCorrTileY - 1) / kCorrTileY) * ((W + kCorrTileX - 1) / kCorrTileX);
        const dim3 grid = grid_for(tiles, 1);
        switch (d) {
            case 0: correlation_forward_tiled_kernel<kernel_t, 0><<<grid, block, 0, stream>>>(a, b, o, N, C, H, W); break;
            case 1: correlation_forward_tiled_kernel<kernel_t, 1><<<grid, block, 0, stream>>>(a, b, o, N, C, H, W); break;
            case 2: correlation_forward_tiled_kernel<kernel_t, 2><<<grid, block, 0, stream>>>(a, b, o, N, C, H, W); break;
            case 3: correlation_forward_tiled_kernel<kernel_t, 3><<<grid, block, 0, stream>>>(a, b, o, N, C, H, W); break;
            default: correlation_forward_tiled_kernel<kernel_t, 4><<<grid, block, 0, stream>>>(a, b, o, N, C, H, W); break;
        }
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}

std::tuple<at::Tensor, at::Tensor> correlation_backward_cuda(const at::Tensor& grad_in, const at::Tensor& f0_in,
                                                             const at::Tensor& f1_in, int64_t max_displacement,
                                                             std::array<bool, 2> output_mask) {
    check_correlation_args(f0_in, f1_in, max_displacement);
    check_cuda_float(grad_in, "grad_output");
    check_same_device(grad_in, "grad_output", f0_in, "f0");
    const int64_t K = 2 * max_displacement + 1;
    check_shape(grad_in, "grad_output", {f0_in.size(0), K * K, f0_in.size(2), f0_in.size(3)});
    const c10::cuda::CUDAGuard guard(f0_in.device());
    const at::Tensor grad = grad_in.to(f0_in.scalar_type()).contiguous();
    const at::Tensor f0 = f0_in.contiguous();
    const at::Tensor f1 = f1_in.contiguous();
    const int N = f0.size(0), C = f0.size(1), H = f0.size(2), W = f0.size(3), d = (int)max_displacement;
    // Only the gradients autograd asked for are computed; an unrequested one comes back as an empty tensor.
    const auto gradient = [&](bool wanted, const at::Tensor& like) {
        return wanted ? at::empty(like.sizes(), like.options().memory_format(at::MemoryFormat::Contiguous))
                      : like.new_empty({0});
    };
    at::Tensor grad_f0 = gradient(output_mask[0], f0);
    at::Tensor grad_f1 = gradient(output_mask[1], f1);
    const long long total = f0.numel();
    if (total == 0 || !(output_mask[0] || output_mask[1])) return {grad_f0, grad_f1};
    auto stream = c10::cuda::getCurrentCUDAStream();
    VIDINTERP_DISPATCH_KERNEL_TYPES(f0.scalar_type(), "vidinterp_correlation_backward", [&] {
        using kernel_t = typename KernelType<scalar_t>::type;
        const kernel_t* g = kernel_ptr<scalar_t>(grad);
        const kernel_t* a = kernel_ptr<scalar_t>(f0);
        const kernel_t* b = kernel_ptr<scalar_t>(f1);
        kernel_t* g0 = output_mask[0] ? kernel_ptr<scalar_t>(grad_f0) : nullptr;
        kernel_t* g1 = output_mask[1] ? kernel_ptr<scalar_t>(grad_f1) : nullptr;
        if (d > kCorrTiledMaxD) {  // larger windows than the model uses: the untiled kernel, both in one pass
            correlation_backward_kernel<kernel_t><<<grid_for(total, kThreads), kThreads, 0, stream>>>(
                g, a, b, g0, g1, N, C, H, W, d);
            return;
        }
        const dim3 block(kCorrTileX, kCorrTileY);
        const dim3 grid = grid_for(
            (long long)N * ((H + kCorrTileY - 1) / kCorrTileY) * ((W + kCorrTileX - 1) / kCorrTileX), 1);
        // One launch per requested gradient (the radius is a template parameter so the sums stay in registers).
        const auto run = [&](auto radius) {
            constexpr int D = decltype(radius)::value;
            if (g0 != nullptr)
                correlation_backward_tiled_kernel<kernel_t, D, false><<<grid, block, 0, stream>>>(g, a, b, g0, N, C,
                                                                                                 H, W);
            if (g1 != nullptr)
                correlation_backward_tiled_kernel<kernel_t, D, true><<<grid, block, 0, stream>>>(g, a, b, g1, N, C,
                                                                                                H, W);
        };
        switch (d) {
            case 0: run(std::integral_constant<int, 0>{}); break;
            case 1: run(std::integral_constant<int, 1>{}); break;
            case 2: run(std::integral_constant<int, 2>{}); break;
            case 3: run(std::integral_constant<int, 3>{}); break;
            default: run(std::integral_constant<int, 4>{}); break;
        }
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return {grad_f0, grad_f1};
}

}  // namespace

TORCH_LIBRARY_IMPL(vidinterp, CUDA, m) {
    m.impl("correlation", &correlation_cuda);
    m.impl("correlation_backward", &correlation_backward_cuda);
}

}  // namespace vidinterp
