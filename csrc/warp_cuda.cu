// CUDA implementations of vidinterp::backward_warp and its backward (kernels in kernels/warp.cuh).
#include <torch/library.h>

#include "kernels/warp.cuh"
#include "launch.h"

namespace vidinterp {
namespace {

constexpr int kThreads = 256;

at::Tensor backward_warp_cuda(const at::Tensor& image_in, const at::Tensor& flow_in, int64_t padding) {
    check_cuda_float(image_in, "image");
    check_cuda_float(flow_in, "flow");
    TORCH_CHECK(flow_in.size(1) == 2, "flow must have 2 channels");
    TORCH_CHECK(image_in.scalar_type() == flow_in.scalar_type(), "image and flow must share a dtype");
    TORCH_CHECK(padding == 0 || padding == 1, "padding must be 0 (border) or 1 (zeros)");
    const c10::cuda::CUDAGuard guard(image_in.device());
    const at::Tensor image = image_in.contiguous();
    const at::Tensor flow = flow_in.contiguous();
    at::Tensor out = at::empty_like(image, at::MemoryFormat::Contiguous);
    const int N = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3);
    const long long total = (long long)N * H * W;
    if (out.numel() == 0 || total == 0) return out.zero_();
    auto stream = c10::cuda::getCurrentCUDAStream();
    VIDINTERP_DISPATCH_KERNEL_TYPES(image.scalar_type(), "vidinterp_warp_forward", [&] {
        warp_forward_kernel<typename KernelType<scalar_t>::type><<<grid_for(total, kThreads), kThreads, 0, stream>>>(
            kernel_ptr<scalar_t>(image), kernel_ptr<scalar_t>(flow), kernel_ptr<scalar_t>(out), N, C, H, W,
            (int)padding);
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}

std::tuple<at::Tensor, at::Tensor> backward_warp_backward_cuda(const at::Tensor& grad_in, const at::Tensor& image_in,
                                                               const at::Tensor& flow_in, int64_t padding,
                                                               std::array<bool, 2> output_mask) {
    check_cuda_float(grad_in, "grad_output");
    check_cuda_float(image_in, "image");
    check_cuda_float(flow_in, "flow");
    TORCH_CHECK(padding == 0 || padding == 1, "padding must be 0 (border) or 1 (zeros)");
    const c10::cuda::CUDAGuard guard(image_in.device());
    const at::Tensor grad = grad_in.to(image_in.scalar_type()).contiguous();
    const at::Tensor image = image_in.contiguous();
    const at::Tensor flow = flow_in.contiguous();
    // Atomics accumulate in float whatever the storage type: half atomics lose small contributions.
    at::Tensor grad_image_acc = at::zeros(image.sizes(), image.options().dtype(at::kFloat));
    at::Tensor grad_flow = at::empty_like(flow, at::MemoryFormat::Contiguous);
    const int N = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3);
    const long long total = (long long)N * H * W;
    // The kernel computes both gradients in one pass; the mask only decides what is returned.
    const auto masked = [&](at::Tensor grad_image, at::Tensor grad_flow) -> std::tuple<at::Tensor, at::Tensor> {
        return {output_mask[0] ? grad_image : image.new_empty({0}), output_mask[1] ? grad_flow : flow.new_empty({0})};
    };
    if (total == 0) return masked(grad_image_acc.to(image.scalar_type()), grad_flow.zero_());
    auto stream = c10::cuda::getCurrentCUDAStream();
    VIDINTERP_DISPATCH_KERNEL_TYPES(image.scalar_type(), "vidinterp_warp_backward", [&] {
        warp_backward_kernel<typename KernelType<scalar_t>::type><<<grid_for(total, kThreads), kThreads, 0, stream>>>(
            kernel_ptr<scalar_t>(grad), kernel_ptr<scalar_t>(image), kernel_ptr<scalar_t>(flow),
            grad_image_acc.data_ptr<float>(), kernel_ptr<scalar_t>(grad_flow), N, C, H, W, (int)padding);
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return masked(grad_image_acc.to(image.scalar_type()), grad_flow);
}

}  // namespace

TORCH_LIBRARY_IMPL(vidinterp, CUDA, m) {
    m.impl("backward_warp", &backward_warp_cuda);
    m.impl("backward_warp_backward", &backward_warp_backward_cuda);
}

}  // namespace vidinterp
