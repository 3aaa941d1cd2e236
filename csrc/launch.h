// Shared glue for the CUDA implementations: checks, dtype dispatch to the kernel storage types, launch config.
#pragma once

#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

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

inline dim3 grid_for(long long total, int threads) {
    const long long blocks = (total + threads - 1) / threads;
    // The kernels use grid-stride loops, so capping the grid is safe.
    return dim3((unsigned)std::max<long long>(1, std::min<long long>(blocks, 65535LL * 32)));
}

inline void check_cuda_float(const at::Tensor& t, const char* name) {
    TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor");
    TORCH_CHECK(t.dim() == 4, name, " must be 4-D (N×C×H×W)");
    TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16,
                name, " must be float32, float16 or bfloat16 on CUDA");
}

}  // namespace vidinterp
