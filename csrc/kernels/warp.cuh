// Bilinear backward warp: forward and backward kernels, templated on the storage type (float, __half,
// __nv_bfloat16), float coordinates and accumulation. Semantics match vidinterp/ops/reference.py exactly:
// padding 0 = "border" (clamp the sample position), 1 = "zeros" (outside corners weigh 0), NaN → 0.
#pragma once

#include "common.cuh"

namespace vidinterp {

// The four corners (y0,x0), (y0,x1), (y1,x0), (y1,x1) of one sample, their weights and ∂weight/∂x, ∂weight/∂y.
struct WarpCorners {
    int x[4], y[4];      // column and row, always in range
    long long index[4];  // flat y*W + x
    float weight[4];
    float dweight_dx[4];
    float dweight_dy[4];
};

__device__ __forceinline__ long long clamp_to_index(float v, int size) {
    // Compared as floats first: NaN, inf and huge values have no defined integer conversion.
    if (!(v >= 0.f)) return 0;
    if (v > (float)(size - 1)) return size - 1;
    return (long long)v;
}

__device__ __forceinline__ void warp_corners(float px, float py, int H, int W, int padding, WarpCorners& c) {
    bool valid[4];
    float wx, wy, x0, y0, x1, y1;
    bool grad_x, grad_y;
    const bool is_nan = isnan(px) || isnan(py);
    if (padding == 0) {
        grad_x = !is_nan && px >= 0.f && px <= (float)(W - 1);
        grad_y = !is_nan && py >= 0.f && py <= (float)(H - 1);
        const float xc = is_nan ? 0.f : fminf(fmaxf(px, 0.f), (float)(W - 1));
        const float yc = is_nan ? 0.f : fminf(fmaxf(py, 0.f), (float)(H - 1));
        // Keep x0 <= W-2 so x1 = x0 + 1 stays inside; at the right edge x1 gets weight 1.
        x0 = fminf(floorf(xc), (float)(W >= 2 ? W - 2 : 0));
        y0 = fminf(floorf(yc), (float)(H >= 2 ? H - 2 : 0));
        wx = xc - x0;
        wy = yc - y0;
        x1 = fminf(x0 + 1.f, (float)(W - 1));
        y1 = fminf(y0 + 1.f, (float)(H - 1));
        valid[0] = valid[1] = valid[2] = valid[3] = !is_nan;
    } else {
        const bool finite = isfinite(px) && isfinite(py);
        grad_x = grad_y = finite;
        x0 = floorf(px);
        y0 = floorf(py);
        wx = finite ? px - x0 : 0.f;
        wy = finite ? py - y0 : 0.f;
        x1 = x0 + 1.f;
        y1 = y0 + 1.f;
        const bool in_x0 = x0 >= 0.f && x0 <= (float)(W - 1);
        const bool in_x1 = x1 >= 0.f && x1 <= (float)(W - 1);
        const bool in_y0 = y0 >= 0.f && y0 <= (float)(H - 1);
        const bool in_y1 = y1 >= 0.f && y1 <= (float)(H - 1);
        valid[0] = in_y0 && in_x0;
        valid[1] = in_y0 && in_x1;
        valid[2] = in_y1 && in_x0;
        valid[3] = in_y1 && in_x1;
    }
    const int ix0 = (int)clamp_to_index(x0, W), ix1 = (int)clamp_to_index(x1, W);
    const int iy0 = (int)clamp_to_index(y0, H), iy1 = (int)clamp_to_index(y1, H);
    c.x[0] = c.x[2] = ix0;
    c.x[1] = c.x[3] = ix1;
    c.y[0] = c.y[1] = iy0;
    c.y[2] = c.y[3] = iy1;
#pragma unroll
    for (int k = 0; k < 4; ++k) c.index[k] = (long long)c.y[k] * W + c.x[k];
    const float ox = 1.f - wx, oy = 1.f - wy;
    const float w[4] = {oy * ox, oy * wx, wy * ox, wy * wx};
    const float dx[4] = {-oy, oy, -wy, wy};
    const float dy[4] = {-ox, -wx, ox, wx};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        c.weight[k] = valid[k] ? w[k] : 0.f;
        c.dweight_dx[k] = (valid[k] && grad_x) ? dx[k] : 0.f;
        c.dweight_dy[k] = (valid[k] && grad_y) ? dy[k] : 0.f;
    }
}

// The corners sampled for output pixel `pixel` of image n: its position plus the flow there, in fp32 whatever
// the storage type (fp16 absolute coordinates would lose sub-pixel precision above 2048 px).
template <typename scalar_t>
__device__ __forceinline__ void pixel_corners(const scalar_t* __restrict__ flow, const Strides& fs, long long n,
                                              long long pixel, int H, int W, int padding, WarpCorners& c) {
    const int y = (int)(pixel / W), x = (int)(pixel - (long long)y * W);
    const scalar_t* f = flow + n * fs.batch + pixel * fs.pixel;
    const float px = (float)x + to_float(f[0]);
    const float py = (float)y + to_float(f[fs.channel]);
    warp_corners(px, py, H, W, padding, c);
}

// Forward: out[n, c, pixel] (NCHW contiguous) = Σ_k weight_k · image[n, c, corner_k].
// Threads run along x (blockIdx.x/threadIdx.x over N·H·W pixels: the flow reads, the output writes and, for the
// smooth flows of real video, the corner gathers are consecutive across a warp) and blockIdx.y picks a group of
// kWarpChannelGroup channels, so the small maps at the model's coarse levels (30k pixels at 1/8 of 1080p, 16–48
// channels) still give the GPU thousands of blocks. A thread computes its corners once and reuses them for its
// channels; with a channels-last image whose channel count is a multiple of 4, each corner's four channels come
// in one vector load. Grid-stride in both dimensions, so any grid is correct.
constexpr int kWarpChannelGroup = 8;

template <typename scalar_t>
__global__ void warp_forward_kernel(const scalar_t* __restrict__ image, const scalar_t* __restrict__ flow,
                                    scalar_t* __restrict__ out, int N, int C, int H, int W, int padding,
                                    long long is_batch, long long is_channel, long long is_pixel, long long fs_batch,
                                    long long fs_channel, long long fs_pixel) {
    // Strides come as plain integers so CuPy can pass them too (kernels/common.cuh's Strides).
    const Strides is = {is_batch, is_channel, is_pixel}, fs = {fs_batch, fs_channel, fs_pixel};
    const long long hw = (long long)H * W;
    const bool packed = is.channel == 1 && is.pixel % 4 == 0 && is.batch % 4 == 0 && aligned_for_pack4(image);
    VIDINTERP_KERNEL_LOOP(i, (long long)N * hw) {
        const long long n = i / hw;
        const long long pixel = i - n * hw;
        WarpCorners c;
        pixel_corners(flow, fs, n, pixel, H, W, padding, c);
        const scalar_t* src = image + n * is.batch;
        scalar_t* dst = out + n * C * hw + pixel;
        for (int c0 = (int)blockIdx.y * kWarpChannelGroup; c0 < C; c0 += (int)gridDim.y * kWarpChannelGroup) {
            const int c1 = C - c0 < kWarpChannelGroup ? C : c0 + kWarpChannelGroup;
            int ch = c0;
            if (packed) {
                for (; ch + 4 <= c1; ch += 4) {
                    float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
                    for (int k = 0; k < 4; ++k) {
                        float v[4];
                        load_pack4(src + c.index[k] * is.pixel + ch, v);
#pragma unroll
                        for (int j = 0; j < 4; ++j) acc[j] += c.weight[k] * v[j];
                    }
#pragma unroll
                    for (int j = 0; j < 4; ++j) dst[(ch + j) * hw] = from_float<scalar_t>(acc[j]);
                }
            }
#pragma unroll 4
            for (; ch < c1; ++ch) {
                const scalar_t* plane = src + ch * is.channel;
                float acc = 0.f;
#pragma unroll
                for (int k = 0; k < 4; ++k) acc += c.weight[k] * to_float(plane[c.index[k] * is.pixel]);
                dst[ch * hw] = from_float<scalar_t>(acc);
            }
        }
    }
}

// Backward. Each output pixel owns its flow, so its flow gradient is summed over channels in the thread's registers
// and written once: no atomics. The image gradient is a scatter (each sample adds to its four corners); global
// float atomics for all of them cost 4·C per pixel. Here a block takes a tile of at most kWarpTileX × kWarpTileY
// output pixels and, per chunk of kWarpChannelChunk channels, adds into a shared-memory copy of the image area
// the tile reads plus a kWarpHalo-pixel margin (for smooth motion of up to kWarpHalo pixels: all of it), then adds
// that area's non-zero cells to the global float buffer: about one global atomic per image pixel and channel
// instead of four per sample. Corners outside the area (large or chaotic motion) still go straight to global
// atomics, so any flow is correct. A null grad_image or grad_flow is a gradient nobody asked for: neither computed
// nor written (only the flow gradient: no shared memory, no barriers, no atomics).
// grad_out: NCHW contiguous; grad_image: float NCHW contiguous, zero-initialised; grad_flow: N×2×H×W contiguous.
constexpr int kWarpTileX = 32;
constexpr int kWarpTileY = 8;
constexpr int kWarpHalo = 4;
constexpr int kWarpChannelChunk = 4;

template <typename scalar_t>
__global__ void warp_backward_kernel(const scalar_t* __restrict__ grad_out, const scalar_t* __restrict__ image,
                                     const scalar_t* __restrict__ flow, float* __restrict__ grad_image,
                                     scalar_t* __restrict__ grad_flow, int N, int C, int H, int W, int padding,
                                     long long is_batch, long long is_channel, long long is_pixel, long long fs_batch,
                                    long long fs_channel, long long fs_pixel) {
    // Strides come as plain integers so CuPy can pass them too (kernels/common.cuh's Strides).
    const Strides is = {is_batch, is_channel, is_pixel}, fs = {fs_batch, fs_channel, fs_pixel};
    constexpr int kAreaY = kWarpTileY + 2 * kWarpHalo, kAreaX = kWarpTileX + 2 * kWarpHalo;
    __shared__ float area[kWarpChannelChunk][kAreaY][kAreaX];
    const int bx = (int)blockDim.x, by = (int)blockDim.y;
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    const int threads = bx * by, thread = ty * bx + tx;
    const int ay = by + 2 * kWarpHalo, ax = bx + 2 * kWarpHalo;  // the area in use
    const long long hw = (long long)H * W;
    const long long tiles_x = (W + bx - 1) / bx, tiles_y = (H + by - 1) / by;
    const long long tiles = (long long)N * tiles_x * tiles_y;
    const bool scatter = grad_image != nullptr;  // the same for every thread: the barriers below are uniform
    for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const long long n = tile / (tiles_x * tiles_y);
        const long long rest = tile - n * tiles_x * tiles_y;
        const int y0 = (int)(rest / tiles_x) * by, x0 = (int)(rest % tiles_x) * bx;
        const int y = y0 + ty, x = x0 + tx;
        const bool inside = y < H && x < W;
        const long long pixel = (long long)y * W + x;
        const int area_y0 = y0 - kWarpHalo, area_x0 = x0 - kWarpHalo;
        WarpCorners c;
        bool local[4] = {false, false, false, false};
        if (inside) {
            pixel_corners(flow, fs, n, pixel, H, W, padding, c);
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const int ly = c.y[k] - area_y0, lx = c.x[k] - area_x0;
                local[k] = ly >= 0 && ly < ay && lx >= 0 && lx < ax;
            }
        }
        float gx = 0.f, gy = 0.f;
        for (int c0 = 0; c0 < C; c0 += kWarpChannelChunk) {
            const int cc = C - c0 < kWarpChannelChunk ? C - c0 : kWarpChannelChunk;
            if (scatter) {
                __syncthreads();  // the previous chunk's area has been flushed
                for (int j = thread; j < cc * ay * ax; j += threads) {
                    const int ch = j / (ay * ax), r = j - ch * (ay * ax);
                    area[ch][r / ax][r % ax] = 0.f;
                }
                __syncthreads();
            }
            if (inside) {
                for (int ch = 0; ch < cc; ++ch) {
                    const long long plane = (n * C + c0 + ch) * hw;
                    const float g = to_float(grad_out[plane + pixel]);
                    const scalar_t* src = image + n * is.batch + (long long)(c0 + ch) * is.channel;
#pragma unroll
                    for (int k = 0; k < 4; ++k) {
                        if (grad_flow != nullptr) {
                            const float v = to_float(src[c.index[k] * is.pixel]);
                            gx += g * v * c.dweight_dx[k];
                            gy += g * v * c.dweight_dy[k];
                        }
                        if (scatter && c.weight[k] != 0.f) {
                            if (local[k])
                                atomicAdd(&area[ch][c.y[k] - area_y0][c.x[k] - area_x0], g * c.weight[k]);
                            else
                                atomicAdd(grad_image + plane + c.index[k], g * c.weight[k]);
                        }
                    }
                }
            }
            if (scatter) {
                __syncthreads();  // the whole tile has added into the area
                for (int j = thread; j < cc * ay * ax; j += threads) {
                    const int ch = j / (ay * ax), r = j - ch * (ay * ax);
                    const float v = area[ch][r / ax][r % ax];
                    const int iy = area_y0 + r / ax, ix = area_x0 + r % ax;
                    // Cells outside the image are never added to (corners are clamped into it); zero cells (most
                    // of the margin) cost no atomic.
                    if (v != 0.f && iy >= 0 && iy < H && ix >= 0 && ix < W)
                        atomicAdd(grad_image + (n * C + c0 + ch) * hw + (long long)iy * W + ix, v);
                }
            }
        }
        if (inside && grad_flow != nullptr) {
            grad_flow[(2 * n) * hw + pixel] = from_float<scalar_t>(gx);
            grad_flow[(2 * n + 1) * hw + pixel] = from_float<scalar_t>(gy);
        }
    }
}

}  // namespace vidinterp
