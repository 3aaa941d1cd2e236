// Scalar helpers shared by the kernels. Torch-free and standard-library-free on purpose: nvcc compiles these
// headers alone (csrc/check_kernels.sh) and CuPy compiles them at run time with NVRTC.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace vidinterp {

// All arithmetic runs in float: half inputs are widened on load and rounded once on store.
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename scalar_t>
__device__ __forceinline__ scalar_t from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Grid-stride loops index with 64-bit integers: N·C·H·W passes 2^31 at 4K with many channels.
#define VIDINTERP_KERNEL_LOOP(i, total)                                                       \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (total); \
         i += (long long)blockDim.x * gridDim.x)

}  // namespace vidinterp
