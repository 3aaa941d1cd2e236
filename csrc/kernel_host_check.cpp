// Host emulation of the CUDA kernels: compiles the kernel bodies of csrc/kernels with a plain C++
// compiler and runs them one emulated thread at a time (blockDim = gridDim = 1, so each grid-stride loop visits
// every element). Lets tests/test_ops_kernels_host.py check the kernels' arithmetic against the PyTorch
// reference on machines without a GPU. Not a performance path; never shipped.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <math.h>

namespace {
struct EmulatedDim3 {
    unsigned x, y, z;
};
}  // namespace

// The CUDA built-ins the kernels use, for one block of one thread.
static const EmulatedDim3 blockIdx = {0, 0, 0};
static const EmulatedDim3 threadIdx = {0, 0, 0};
static const EmulatedDim3 blockDim = {1, 1, 1};
static const EmulatedDim3 gridDim = {1, 1, 1};
static inline float atomicAdd(float* address, float value) {
    const float old = *address;
    *address = old + value;
    return old;
}

#undef __global__
#undef __device__
#undef __forceinline__
#define __global__
#define __device__
#define __forceinline__ inline
// One emulated thread per block: shared memory is a plain static array and a barrier has nothing to wait for.
#define __shared__ static
static inline void __syncthreads() {}

#include "correlation.cuh"
#include "warp.cuh"

#define VIDINTERP_HOST_ENTRY_POINTS(SUFFIX, T)                                                                   \
    extern "C" void warp_forward_##SUFFIX(const void* image, const void* flow, void* out, int N, int C, int H,     \
                                          int W, int padding) {                                                \
        vidinterp::warp_forward_kernel<T>((const T*)image, (const T*)flow, (T*)out, N, C, H, W, padding);       \
    }                                                                                                          \
    extern "C" void warp_backward_##SUFFIX(const void* grad, const void* image, const void* flow,               \
                                           float* grad_image, void* grad_flow, int N, int C, int H, int W,      \
                                           int padding) {                                                      \
        vidinterp::warp_backward_kernel<T>((const T*)grad, (const T*)image, (const T*)flow, grad_image,         \
                                           (T*)grad_flow, N, C, H, W, padding);                                 \
    }                                                                                                          \
    extern "C" void correlation_forward_##SUFFIX(const void* f0, const void* f1, void* out, int N, int C, int H, \
                                                 int W, int d) {                                               \
        vidinterp::correlation_forward_kernel<T>((const T*)f0, (const T*)f1, (T*)out, N, C, H, W, d);           \
    }                                                                                                          \
    extern "C" void correlation_backward_##SUFFIX(const void* grad, const void* f0, const void* f1, void* g0,   \
                                                  void* g1, int N, int C, int H, int W, int d) {                \
        vidinterp::correlation_backward_kernel<T>((const T*)grad, (const T*)f0, (const T*)f1, (T*)g0, (T*)g1,   \
                                                  N, C, H, W, d);                                              \
    }

#define VIDINTERP_HOST_TILED_ENTRY_POINT(SUFFIX, T)                                                              \
    extern "C" int correlation_forward_tiled_##SUFFIX(const void* f0, const void* f1, void* out, int N, int C,   \
                                                      int H, int W, int d) {                                  \
        switch (d) {                                                                                           \
            case 0: vidinterp::correlation_forward_tiled_kernel<T, 0>((const T*)f0, (const T*)f1, (T*)out, N, C, H, W); return 0; \
            case 1: vidinterp::correlation_forward_tiled_kernel<T, 1>((const T*)f0, (const T*)f1, (T*)out, N, C, H, W); return 0; \
            case 2: vidinterp::correlation_forward_tiled_kernel<T, 2>((const T*)f0, (const T*)f1, (T*)out, N, C, H, W); return 0; \
            case 3: vidinterp::correlation_forward_tiled_kernel<T, 3>((const T*)f0, (const T*)f1, (T*)out, N, C, H, W); return 0; \
            case 4: vidinterp::correlation_forward_tiled_kernel<T, 4>((const T*)f0, (const T*)f1, (T*)out, N, C, H, W); return 0; \
            default: return 1;                                                                                 \
        }                                                                                                      \
    }

VIDINTERP_HOST_TILED_ENTRY_POINT(f32, float)
VIDINTERP_HOST_TILED_ENTRY_POINT(f16, __half)
VIDINTERP_HOST_TILED_ENTRY_POINT(bf16, __nv_bfloat16)

VIDINTERP_HOST_ENTRY_POINTS(f32, float)
VIDINTERP_HOST_ENTRY_POINTS(f16, __half)
VIDINTERP_HOST_ENTRY_POINTS(bf16, __nv_bfloat16)
