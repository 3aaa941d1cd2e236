// Host emulation of the CUDA kernels: compiles the kernel bodies of csrc/kernels with a plain C++20 compiler and
// runs them as a GPU would schedule them, block after block, each block's threads as real threads that meet at
// __syncthreads (a std::barrier) and share its __shared__ arrays. Block and grid sizes are the caller's
// (vidinterp_set_launch), so the tiled kernels run with real tiles, halos, partial edge tiles and grid-stride
// loops. Lets tests/test_ops_kernels_host.py check the kernels against the PyTorch reference on machines without a
// GPU. Not a performance path; never shipped.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <math.h>

#include <atomic>
#include <barrier>
#include <thread>
#include <type_traits>
#include <vector>

namespace {
struct EmulatedDim3 {
    unsigned x, y, z;
};
}  // namespace

// The CUDA built-ins the kernels use. Indices are per emulated thread; sizes are per launch.
static thread_local EmulatedDim3 blockIdx = {0, 0, 0};
static thread_local EmulatedDim3 threadIdx = {0, 0, 0};
static EmulatedDim3 blockDim = {1, 1, 1};
static EmulatedDim3 gridDim = {1, 1, 1};
static std::barrier<>* block_barrier = nullptr;

static inline float atomicAdd(float* address, float value) {
    return std::atomic_ref<float>(*address).fetch_add(value);
}

#undef __global__
#undef __device__
#undef __forceinline__
#undef __shared__
#define __global__
#define __device__
#define __forceinline__ inline
// Blocks run one at a time, so one static array per kernel instantiation is exactly one block's shared memory.
#define __shared__ static
static inline void __syncthreads() { block_barrier->arrive_and_wait(); }

#include "correlation.cuh"
#include "warp.cuh"

namespace {

EmulatedDim3 launch_grid = {1, 1, 1};
EmulatedDim3 launch_block = {1, 1, 1};

// Runs body() as every thread of every block of the launch set by vidinterp_set_launch.
template <typename Body>
void launch(Body body) {
    gridDim = launch_grid;
    blockDim = launch_block;
    const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
    for (unsigned bz = 0; bz < gridDim.z; ++bz)
        for (unsigned by = 0; by < gridDim.y; ++by)
            for (unsigned bx = 0; bx < gridDim.x; ++bx) {
                std::barrier<> sync((std::ptrdiff_t)threads);
                block_barrier = &sync;
                std::vector<std::thread> pool;
                pool.reserve(threads);
                for (unsigned t = 0; t < threads; ++t) {
                    pool.emplace_back([&, t] {
                        blockIdx = {bx, by, bz};
                        threadIdx = {t % blockDim.x, (t / blockDim.x) % blockDim.y, t / (blockDim.x * blockDim.y)};
                        body();
                        sync.arrive_and_drop();  // an exited thread no longer holds the others at a barrier
                    });
                }
                for (auto& worker : pool) worker.join();
            }
}

}  // namespace

extern "C" void vidinterp_set_launch(unsigned grid_x, unsigned grid_y, unsigned block_x, unsigned block_y) {
    launch_grid = {grid_x, grid_y, 1};
    launch_block = {block_x, block_y, 1};
}

// Strides are (batch, channel, pixel) triples, as the CUDA launchers pass them.
#define VIDINTERP_HOST_ENTRY_POINTS(SUFFIX, T)                                                                   \
    extern "C" void warp_forward_##SUFFIX(const void* image, const void* flow, void* out, int N, int C, int H,     \
                                          int W, int padding, const long long* is, const long long* fs) {      \
        launch([&] {                                                                                           \
            vidinterp::warp_forward_kernel<T>((const T*)image, (const T*)flow, (T*)out, N, C, H, W, padding,    \
                                              is[0], is[1], is[2], fs[0], fs[1], fs[2]);                                       \
        });                                                                                                    \
    }                                                                                                          \
    extern "C" void warp_backward_##SUFFIX(const void* grad, const void* image, const void* flow,               \
                                           float* grad_image, void* grad_flow, int N, int C, int H, int W,      \
                                           int padding, const long long* is, const long long* fs) {            \
        launch([&] {                                                                                           \
            vidinterp::warp_backward_kernel<T>((const T*)grad, (const T*)image, (const T*)flow, grad_image,     \
                                               (T*)grad_flow, N, C, H, W, padding, is[0], is[1], is[2], fs[0], fs[1], fs[2]);  \
        });                                                                                                    \
    }                                                                                                          \
    extern "C" void correlation_forward_##SUFFIX(const void* f0, const void* f1, void* out, int N, int C, int H, \
                                                 int W, int d) {                                               \
        launch([&] {                                                                                           \
            vidinterp::correlation_forward_kernel<T>((const T*)f0, (const T*)f1, (T*)out, N, C, H, W, d);       \
        });                                                                                                    \
    }                                                                                                          \
    extern "C" void correlation_backward_##SUFFIX(const void* grad, const void* f0, const void* f1, void* g0,   \
                                                  void* g1, int N, int C, int H, int W, int d) {                \
        launch([&] {                                                                                           \
            vidinterp::correlation_backward_kernel<T>((const T*)grad, (const T*)f0, (const T*)f1, (T*)g0,       \
                                                      (T*)g1, N, C, H, W, d);                                  \
        });                                                                                                    \
    }

namespace {

// Calls f(std::integral_constant<int, d>) for the window radii the tiled kernels cover; 1 for any other d.
template <typename F>
int with_radius(int d, F f) {
    switch (d) {
        case 0: f(std::integral_constant<int, 0>{}); return 0;
        case 1: f(std::integral_constant<int, 1>{}); return 0;
        case 2: f(std::integral_constant<int, 2>{}); return 0;
        case 3: f(std::integral_constant<int, 3>{}); return 0;
        case 4: f(std::integral_constant<int, 4>{}); return 0;
        default: return 1;
    }
}

template <typename T>
int correlation_forward_tiled(const void* f0, const void* f1, void* out, int N, int C, int H, int W, int d) {
    return with_radius(d, [&](auto D) {
        launch([&] {
            vidinterp::correlation_forward_tiled_kernel<T, decltype(D)::value>((const T*)f0, (const T*)f1, (T*)out,
                                                                               N, C, H, W);
        });
    });
}

// One launch per gradient asked for (a null output is not), as the CUDA launcher does.
template <typename T>
int correlation_backward_tiled(const void* grad, const void* f0, const void* f1, void* g0, void* g1, int N, int C,
                               int H, int W, int d) {
    return with_radius(d, [&](auto D) {
        constexpr int radius = decltype(D)::value;
        if (g0 != nullptr)
            launch([&] {
                vidinterp::correlation_backward_tiled_kernel<T, radius, false>((const T*)grad, (const T*)f0,
                                                                               (const T*)f1, (T*)g0, N, C, H, W);
            });
        if (g1 != nullptr)
            launch([&] {
                vidinterp::correlation_backward_tiled_kernel<T, radius, true>((const T*)grad, (const T*)f0,
                                                                              (const T*)f1, (T*)g1, N, C, H, W);
            });
    });
}

}  // namespace

#define VIDINTERP_HOST_TILED_ENTRY_POINTS(SUFFIX, T)                                                             \
    extern "C" int correlation_forward_tiled_##SUFFIX(const void* f0, const void* f1, void* out, int N, int C,   \
                                                      int H, int W, int d) {                                  \
        return correlation_forward_tiled<T>(f0, f1, out, N, C, H, W, d);                                       \
    }                                                                                                          \
    extern "C" int correlation_backward_tiled_##SUFFIX(const void* grad, const void* f0, const void* f1,        \
                                                       void* g0, void* g1, int N, int C, int H, int W, int d) { \
        return correlation_backward_tiled<T>(grad, f0, f1, g0, g1, N, C, H, W, d);                             \
    }

VIDINTERP_HOST_ENTRY_POINTS(f32, float)
VIDINTERP_HOST_ENTRY_POINTS(f16, __half)
VIDINTERP_HOST_ENTRY_POINTS(bf16, __nv_bfloat16)
VIDINTERP_HOST_TILED_ENTRY_POINTS(f32, float)
VIDINTERP_HOST_TILED_ENTRY_POINTS(f16, __half)
VIDINTERP_HOST_TILED_ENTRY_POINTS(bf16, __nv_bfloat16)
