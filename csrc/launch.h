// Shared glue for the CUDA implementations: checks, dtype dispatch to the kernel storage types, launch config.
#pragma once

#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <limits>

#include "kernels/common.cuh"

// The kernels exist for float, half and bfloat16 only (float64 CUDA tensors use the PyTorch backend).
#define VIDINTERP_DISPATCH_KERNEL_TYPES(TYPE, NAME, ...)            \
    AT_DISPATCH_SWITCH(TYPE, NAME, AT_DISPATCH_CASE(at::kFloat, __VA_ARGS__) \
                           AT_DISPATCH_CASE(at::kHalf, __VA_ARGS__) AT_DISPATCH_CASE(at::kBFloat16, __VA_ARGS__))

namespace vidinterp {

// at::Half / at::BFloat16 have the same layout as the CUDA types the kernels are written for.
template <typename T>
struct KernelType { using type = T; };
template <>
struct KernelType<at::Half> { using type = __half; };
template <>
struct KernelType<at::BFloat16> { using type = __nv_bfloat16; };

template <typename T>
inline typename KernelType<T>::type* kernel_ptr(const at::Tensor& t) {
    return reinterpret_cast<typename KernelType<T>::type*>(t.data_ptr<T>());
}

// The (batch, channel, pixel) strides of kernels/warp.cuh for a tensor the kernels can read in place: NCHW-contiguous
// or channels-last. Anything else is copied to NCHW-contiguous first by read_in_place.
inline at::Tensor read_in_place(const at::Tensor& t) {
    if (t.is_contiguous() || t.is_contiguous(at::MemoryFormat::ChannelsLast)) return t;
    return t.contiguous();
}

inline Strides strides_of(const at::Tensor& t) {
    const long long C = t.size(1), hw = t.size(2) * t.size(3);
    if (t.is_contiguous()) return {C * hw, hw, 1};  // checked first: a tensor can be both (C = 1 or H·W = 1)
    return {hw * C, 1, C};
}

inline dim3 grid_for(long long total, int threads) {
    const long long blocks = (total + threads - 1) / threads;
    // The kernels use grid-stride loops, so capping the grid is safe.
    return dim3((unsigned)std::max<long long>(1, std::min<long long>(blocks, 65535LL * 32)));
}

// The checks at the C++ boundary: a direct torch.ops.vidinterp.* call (bypassing the Python wrappers) with a wrong
// shape, dtype or device must raise, not read out of bounds and poison the CUDA context.
inline void check_cuda_float(const at::Tensor& t, const char* name) {
    TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor, got one on ", t.device());
    TORCH_CHECK(t.dim() == 4, name, " must be 4-D (N×C×H×W), got shape ", t.sizes());
    TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16,
                name, " must be float32, float16 or bfloat16 on CUDA, got ", t.scalar_type());
    // The kernels take N, C, H, W as int (their products are 64-bit).
    for (int64_t i = 0; i < 4; ++i)
        TORCH_CHECK(t.size(i) <= std::numeric_limits<int>::max(), name, " dimension ", i, " is too large: ",
                    t.sizes());
}

inline void check_same_device(const at::Tensor& a, const char* a_name, const at::Tensor& b, const char* b_name) {
    TORCH_CHECK(a.device() == b.device(), a_name, " and ", b_name, " must be on the same device, got ", a.device(),
                " and ", b.device());
}

inline void check_same_dtype(const at::Tensor& a, const char* a_name, const at::Tensor& b, const char* b_name) {
    TORCH_CHECK(a.scalar_type() == b.scalar_type(), a_name, " and ", b_name, " must share a dtype, got ",
                a.scalar_type(), " and ", b.scalar_type());
}

inline void check_shape(const at::Tensor& t, const char* name, at::IntArrayRef expected) {
    TORCH_CHECK(t.sizes() == expected, name, " must have shape ", expected, ", got ", t.sizes());
}

// image N×C×H×W and flow N×2×H×W on one device with one dtype; padding 0 or 1.
inline void check_warp_args(const at::Tensor& image, const at::Tensor& flow, int64_t padding) {
    check_cuda_float(image, "image");
    check_cuda_float(flow, "flow");
    check_same_device(image, "image", flow, "flow");
    check_same_dtype(image, "image", flow, "flow");
    check_shape(flow, "flow", {image.size(0), 2, image.size(2), image.size(3)});
    TORCH_CHECK(padding == 0 || padding == 1, "padding must be 0 (border) or 1 (zeros), got ", padding);
}

// Equal-shape f0, f1 on one device with one dtype; 0 <= max_displacement with (2d+1)² channels fitting an int.
inline void check_correlation_args(const at::Tensor& f0, const at::Tensor& f1, int64_t max_displacement) {
    check_cuda_float(f0, "f0");
    check_cuda_float(f1, "f1");
    check_same_device(f0, "f0", f1, "f1");
    check_same_dtype(f0, "f0", f1, "f1");
    check_shape(f1, "f1", f0.sizes());
    TORCH_CHECK(max_displacement >= 0 && max_displacement <= 1024, "max_displacement must be in [0, 1024], got ",
                max_displacement);
}

}  // namespace vidinterp
