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

// Where element (n, c, pixel) of an N×C×H×W tensor is: n·batch + c·channel + pixel·pixel_stride, pixel = y·W + x.
// The launchers pass NCHW-contiguous strides (C·H·W, H·W, 1) or channels-last ones (H·W·C, 1, C), so a
// channels-last image or flow (the pipeline's frames, a channels-last model's features) is read in place, not
// copied to NCHW first.
struct Strides {
    long long batch, channel, pixel;
};

// Four consecutive elements loaded with one vector instruction (16 bytes of float, 8 of half or bfloat16): the
// alignment lets the compiler emit a single ld.v4 / ld.v2 instead of four loads. Callers check the address.
template <typename scalar_t>
struct alignas(4 * sizeof(scalar_t)) Pack4 {
    scalar_t v[4];
};

template <typename scalar_t>
__device__ __forceinline__ bool aligned_for_pack4(const scalar_t* p) {
    return ((unsigned long long)p % (4 * sizeof(scalar_t))) == 0;
}

template <typename scalar_t>
__device__ __forceinline__ void load_pack4(const scalar_t* p, float (&out)[4]) {
    const Pack4<scalar_t> pack = *reinterpret_cast<const Pack4<scalar_t>*>(p);
#pragma unroll
    for (int k = 0; k < 4; ++k) out[k] = to_float(pack.v[k]);
}

// Grid-stride loops index with 64-bit integers: N·C·H·W passes 2^31 at 4K with many channels.
#define VIDINTERP_KERNEL_LOOP(i, total)                                                       \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (total); \
         i += (long long)blockDim.x * gridDim.x)

}  // namespace vidinterp
