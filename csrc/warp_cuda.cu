// CUDA implementations of vidinterp::backward_warp and its backward (kernels in kernels/warp.cuh).
#include <torch/library.h>

#include "kernels/warp.cuh"
#include "launch.h"

namespace vidinterp {
namespace {

constexpr int kThreads = 256;

// The forward's grid: blocks along the pixels, and one row of blocks per group of kWarpChannelGroup channels.
dim3 warp_forward_grid(long long pixels, int channels) {
    const dim3 along = grid_for(pixels, kThreads);
    return dim3(along.x, (unsigned)std::min(65535, (channels + kWarpChannelGroup - 1) / kWarpChannelGroup));
}

// The backward's grid: one block per kWarpTileX × kWarpTileY tile (grid-stride beyond the cap).
dim3 warp_backward_grid(int N, int H, int W) {
    return grid_for((long long)N * ((H + kWarpTileY - 1) / kWarpTileY) * ((W + kWarpTileX - 1) / kWarpTileX), 1);
}

at::Tensor backward_warp_cuda(const at::Tensor& image_in, const at::Tensor& flow_in, int64_t padding) {
    check_warp_args(image_in, flow_in, padding);
    const c10::cuda::CUDAGuard guard(image_in.device());
    // NCHW and channels-last inputs are read in place; the output is NCHW-contiguous (as the fake kernel says).
    const at::Tensor image = read_in_place(image_in);
    const at::Tensor flow = read_in_place(flow_in);
    at::Tensor out = at::empty(image.sizes(), image.options().memory_format(at::MemoryFormat::Contiguous));
    const int N = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3);
    const long long total = (long long)N * H * W;
    if (out.numel() == 0 || total == 0) return out.zero_();
    auto stream = c10::cuda::getCurrentCUDAStream();
    const Strides is = strides_of(image), fs = strides_of(flow);
    VIDINTERP_DISPATCH_KERNEL_TYPES(image.scalar_type(), "vidinterp_warp_forward", [&] {
        warp_forward_kernel<typename KernelType<scalar_t>::type><<<warp_forward_grid(total, C), kThreads, 0, stream>>>(
            kernel_ptr<scalar_t>(image), kernel_ptr<scalar_t>(flow), kernel_ptr<scalar_t>(out), N, C, H, W,
            (int)padding, is.batch, is.channel, is.pixel, fs.batch, fs.channel, fs.pixel);
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}

std::tuple<at::Tensor, at::Tensor> backward_warp_backward_cuda(const at::Tensor& grad_in, const at::Tensor& image_in,
                                                               const at::Tensor& flow_in, int64_t padding,
                                                               std::array<bool, 2> output_mask) {
    check_warp_args(image_in, flow_in, padding);
    check_cuda_float(grad_in, "grad_output");
    check_same_device(grad_in, "grad_output", image_in, "image");
    check_shape(grad_in, "grad_output", image_in.sizes());
    const bool need_image = output_mask[0], need_flow = output_mask[1];
    const c10::cuda::CUDAGuard guard(image_in.device());
    const at::Tensor grad = grad_in.to(image_in.scalar_type()).contiguous();
    const at::Tensor image = read_in_place(image_in);
    const at::Tensor flow = read_in_place(flow_in);
    const int N = image.size(0), C = image.size(1), H = image.size(2), W = image.size(3);
    const long long total = (long long)N * H * W;
    // Only what autograd asked for is computed: no scatter (and no float buffer) when only the flow gradient is
    // wanted, no flow sums when only the image gradient is.
    at::Tensor grad_image_acc =
        need_image ? at::zeros(image.sizes(), image.options().dtype(at::kFloat)) : image.new_empty({0});
    at::Tensor grad_flow = need_flow
                               ? at::empty(flow.sizes(), flow.options().memory_format(at::MemoryFormat::Contiguous))
                               : flow.new_empty({0});
    if (need_image && total > 0 && C > 0) {
        // The image gradient is scattered with float atomics: its summation order varies from run to run.
        at::globalContext().alertNotDeterministic("vidinterp::backward_warp_backward (CUDA, image gradient)");
    }
    if (total > 0 && (need_image || need_flow)) {
        auto stream = c10::cuda::getCurrentCUDAStream();
        const Strides is = strides_of(image), fs = strides_of(flow);
        VIDINTERP_DISPATCH_KERNEL_TYPES(image.scalar_type(), "vidinterp_warp_backward", [&] {
            warp_backward_kernel<typename KernelType<scalar_t>::type>
                <<<warp_backward_grid(N, H, W), dim3(kWarpTileX, kWarpTileY), 0, stream>>>(
                    kernel_ptr<scalar_t>(grad), kernel_ptr<scalar_t>(image), kernel_ptr<scalar_t>(flow),
                    need_image ? grad_image_acc.data_ptr<float>() : nullptr,
                    need_flow ? kernel_ptr<scalar_t>(grad_flow) : nullptr, N, C, H, W, (int)padding,
                    is.batch, is.channel, is.pixel, fs.batch, fs.channel, fs.pixel);
        });
        C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    return {need_image ? grad_image_acc.to(image.scalar_type()) : grad_image_acc, grad_flow};
}

}  // namespace

TORCH_LIBRARY_IMPL(vidinterp, CUDA, m) {
    m.impl("backward_warp", &backward_warp_cuda);
    m.impl("backward_warp_backward", &backward_warp_backward_cuda);
}

}  // namespace vidinterp
