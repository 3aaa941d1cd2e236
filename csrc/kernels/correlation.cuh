// Local correlation (cost volume) forward and backward kernels, templated on the storage type, float
// accumulation. out[n, (dy+d)(2d+1) + (dx+d), y, x] = (1/C) Σ_c f0[n,c,y,x] · f1[n,c,y+dy,x+dx], 0 outside.
#pragma once

#include "common.cuh"

namespace vidinterp {

// One thread per output element (n, k, y, x), x fastest so a warp reads consecutive f0/f1 addresses per channel.
template <typename scalar_t>
__global__ void correlation_forward_kernel(const scalar_t* __restrict__ f0, const scalar_t* __restrict__ f1,
                                           scalar_t* __restrict__ out, int N, int C, int H, int W, int d) {
    const int K = 2 * d + 1;
    const long long hw = (long long)H * W;
    const float inv_c = C > 0 ? 1.f / (float)C : 0.f;
    VIDINTERP_KERNEL_LOOP(i, (long long)N * K * K * hw) {
        const long long pixel = i % hw;
        const long long nk = i / hw;
        const int k = (int)(nk % (K * K));
        const long long n = nk / (K * K);
        const int y = (int)(pixel / W), x = (int)(pixel - (long long)y * W);
        const int ys = y + k / K - d, xs = x + k % K - d;
        float acc = 0.f;
        if (ys >= 0 && ys < H && xs >= 0 && xs < W) {
            const scalar_t* a = f0 + n * C * hw + pixel;
            const scalar_t* b = f1 + n * C * hw + (long long)ys * W + xs;
            for (int ch = 0; ch < C; ++ch) acc += to_float(a[ch * hw]) * to_float(b[ch * hw]);
        }
        out[i] = from_float<scalar_t>(acc * inv_c);
    }
}

// The tiled forward, for the displacements the model uses (d ≤ kCorrTiledMaxD): a block computes a tile of
// blockDim.x × blockDim.y output pixels (at most kCorrTileX × kCorrTileY) for all (2d+1)² displacements at once.
// Per chunk of channels it stages the f0 tile and the f1 tile with its d-pixel halo in shared memory (zero outside
// the image), so each feature value is read from global memory once per tile instead of once per displacement;
// each thread keeps its (2d+1)² sums in registers (D is a template parameter so they stay there) and writes each
// displacement plane with x fastest (coalesced). Grid-stride over tiles, so any grid size is correct.
constexpr int kCorrTileX = 32;
constexpr int kCorrTileY = 8;
constexpr int kCorrChannelChunk = 8;
constexpr int kCorrTiledMaxD = 4;

// How a block of a tiled kernel walks its tiles: the thread's place in a blockDim.x × blockDim.y tile, that tile
// with its D-pixel halo, and the tiles over N images of H×W (grid-stride, so any grid size is correct).
template <int D>
struct CorrTiling {
    int bx, by, tx, ty, threads, thread;
    int hx, hy;  // the halo tile in use
    int H, W;
    long long hw, tiles_x, tiles_y, count;

    __device__ CorrTiling(int N, int height, int width)
        : bx((int)blockDim.x), by((int)blockDim.y), tx((int)threadIdx.x), ty((int)threadIdx.y),
          threads(bx * by), thread(ty * bx + tx), hx(bx + 2 * D), hy(by + 2 * D), H(height), W(width),
          hw((long long)height * width), tiles_x((width + bx - 1) / bx), tiles_y((height + by - 1) / by),
          count((long long)N * tiles_x * tiles_y) {}

    // The image and the top-left pixel of tile `index`.
    __device__ void origin(long long index, long long& n, int& y0, int& x0) const {
        n = index / (tiles_x * tiles_y);
        const long long rest = index - n * tiles_x * tiles_y;
        y0 = (int)(rest / tiles_x) * by;
        x0 = (int)(rest % tiles_x) * bx;
    }

    // Stage channels [c0, c0 + cc) of image n of `src` (N×C×H×W) under the tile at (y0, x0) and its D-pixel halo
    // into the shared `halo`, zero outside the image. The caller synchronises the block before and after.
    template <typename scalar_t>
    __device__ void stage_halo(const scalar_t* __restrict__ src, long long n, int C, int c0, int cc, int y0, int x0,
                               float (*halo)[kCorrTileY + 2 * D][kCorrTileX + 2 * D]) const {
        for (int i = thread; i < cc * hy * hx; i += threads) {
            const int ch = i / (hy * hx), r = i - ch * (hy * hx);
            const int yy = y0 - D + r / hx, xx = x0 - D + r % hx;
            const bool in_image = yy >= 0 && yy < H && xx >= 0 && xx < W;
            halo[ch][r / hx][r % hx] =
                in_image ? to_float(src[(n * C + c0 + ch) * hw + (long long)yy * W + xx]) : 0.f;
        }
    }
};

template <typename scalar_t, int D>
__global__ void correlation_forward_tiled_kernel(const scalar_t* __restrict__ f0, const scalar_t* __restrict__ f1,
                                                 scalar_t* __restrict__ out, int N, int C, int H, int W) {
    constexpr int K = 2 * D + 1;
    __shared__ float tile0[kCorrChannelChunk][kCorrTileY][kCorrTileX];
    __shared__ float tile1[kCorrChannelChunk][kCorrTileY + 2 * D][kCorrTileX + 2 * D];
    const CorrTiling<D> tiling(N, H, W);
    const int bx = tiling.bx, by = tiling.by, tx = tiling.tx, ty = tiling.ty;
    const long long hw = tiling.hw;
    const float inv_c = C > 0 ? 1.f / (float)C : 0.f;
    for (long long tile = blockIdx.x; tile < tiling.count; tile += gridDim.x) {
        long long n;
        int y0, x0;
        tiling.origin(tile, n, y0, x0);
        const int y = y0 + ty, x = x0 + tx;
        float acc[K * K];
#pragma unroll
        for (int k = 0; k < K * K; ++k) acc[k] = 0.f;
        for (int c0 = 0; c0 < C; c0 += kCorrChannelChunk) {
            const int cc = C - c0 < kCorrChannelChunk ? C - c0 : kCorrChannelChunk;
            __syncthreads();  // every thread is done reading the previous chunk
            tiling.stage_halo(f1, n, C, c0, cc, y0, x0, tile1);
            for (int i = tiling.thread; i < cc * by * bx; i += tiling.threads) {
                const int ch = i / (by * bx), r = i - ch * (by * bx);
                const int yy = y0 + r / bx, xx = x0 + r % bx;
                const bool inside = yy < H && xx < W;
                tile0[ch][r / bx][r % bx] = inside ? to_float(f0[(n * C + c0 + ch) * hw + (long long)yy * W + xx]) : 0.f;
            }
            __syncthreads();
            for (int ch = 0; ch < cc; ++ch) {
                const float a = tile0[ch][ty][tx];
#pragma unroll
                for (int dy = 0; dy < K; ++dy) {
#pragma unroll
                    for (int dx = 0; dx < K; ++dx) acc[dy * K + dx] += a * tile1[ch][ty + dy][tx + dx];
                }
            }
        }
        if (y < H && x < W) {
            scalar_t* dst = out + n * K * K * hw + (long long)y * W + x;
#pragma unroll
            for (int k = 0; k < K * K; ++k) dst[k * hw] = from_float<scalar_t>(acc[k] * inv_c);
        }
    }
}

// The untiled backward, for windows larger than the model uses: one thread per input element (n, c, y, x) gathers
// (no atomics); a null grad_f0 or grad_f1 is not asked for and not computed.
//   grad_f0[y, x] = (1/C) Σ_k g[k, y, x] · f1[y+dy, x+dx]
//   grad_f1[y, x] = (1/C) Σ_k g[k, y-dy, x-dx] · f0[y-dy, x-dx]
template <typename scalar_t>
__global__ void correlation_backward_kernel(const scalar_t* __restrict__ grad_out, const scalar_t* __restrict__ f0,
                                            const scalar_t* __restrict__ f1, scalar_t* __restrict__ grad_f0,
                                            scalar_t* __restrict__ grad_f1, int N, int C, int H, int W, int d) {
    const int K = 2 * d + 1;
    const long long hw = (long long)H * W;
    const float inv_c = C > 0 ? 1.f / (float)C : 0.f;
    VIDINTERP_KERNEL_LOOP(i, (long long)N * C * hw) {
        const long long pixel = i % hw;
        const long long nc = i / hw;
        const long long n = nc / C;
        const int y = (int)(pixel / W), x = (int)(pixel - (long long)y * W);
        const scalar_t* g = grad_out + n * K * K * hw;
        const scalar_t* a = f0 + nc * hw;
        const scalar_t* b = f1 + nc * hw;
        float acc0 = 0.f, acc1 = 0.f;
        for (int k = 0; k < K * K; ++k) {
            const int dy = k / K - d, dx = k % K - d;
            const int yf = y + dy, xf = x + dx;  // where f1 is read for grad_f0
            if (grad_f0 != nullptr && yf >= 0 && yf < H && xf >= 0 && xf < W)
                acc0 += to_float(g[k * hw + pixel]) * to_float(b[(long long)yf * W + xf]);
            const int yb = y - dy, xb = x - dx;  // the output pixel that read f1 here
            if (grad_f1 != nullptr && yb >= 0 && yb < H && xb >= 0 && xb < W) {
                const long long q = (long long)yb * W + xb;
                acc1 += to_float(g[k * hw + q]) * to_float(a[q]);
            }
        }
        if (grad_f0 != nullptr) grad_f0[i] = from_float<scalar_t>(acc0 * inv_c);
        if (grad_f1 != nullptr) grad_f1[i] = from_float<scalar_t>(acc1 * inv_c);
    }
}

// The tiled backward (d ≤ kCorrTiledMaxD), one launch per gradient asked for (kGradF1 false: grad_f0, true:
// grad_f1), tiled like the forward. The untiled kernel re-reads all (2d+1)² planes of grad_out once per channel;
// here each thread loads the (2d+1)² gradient values its pixel needs into registers once:
//   grad_f0[c, p] = (1/C) Σ_k g[k, p] · f1[c, p + δ_k]          (g at its own pixel)
//   grad_f1[c, p] = (1/C) Σ_k g[k, p − δ_k] · f0[c, p − δ_k]    (g of the output pixel that read f1 at p)
// and, per chunk of channels, the block stages the other feature map's tile with its d-pixel halo in shared memory
// (zero outside the image), so every input is read from global memory about once and every gradient plane is
// written once, x fastest. No atomics: each thread writes only its own pixel's gradients.
template <typename scalar_t, int D, bool kGradF1>
__global__ void correlation_backward_tiled_kernel(const scalar_t* __restrict__ grad_out,
                                                  const scalar_t* __restrict__ f0, const scalar_t* __restrict__ f1,
                                                  scalar_t* __restrict__ grad_f, int N, int C, int H, int W) {
    constexpr int K = 2 * D + 1;
    __shared__ float tile[kCorrChannelChunk][kCorrTileY + 2 * D][kCorrTileX + 2 * D];
    const scalar_t* __restrict__ other = kGradF1 ? f0 : f1;  // the map multiplied with the gradient
    const CorrTiling<D> tiling(N, H, W);
    const int tx = tiling.tx, ty = tiling.ty;
    const long long hw = tiling.hw;
    const float inv_c = C > 0 ? 1.f / (float)C : 0.f;
    for (long long tile_index = blockIdx.x; tile_index < tiling.count; tile_index += gridDim.x) {
        long long n;
        int y0, x0;
        tiling.origin(tile_index, n, y0, x0);
        const int y = y0 + ty, x = x0 + tx;
        const bool inside = y < H && x < W;
        float g[K * K];
#pragma unroll
        for (int k = 0; k < K * K; ++k) {
            const int dy = k / K - D, dx = k % K - D;
            const int yg = kGradF1 ? y - dy : y, xg = kGradF1 ? x - dx : x;
            const bool ok = inside && yg >= 0 && yg < H && xg >= 0 && xg < W;
            g[k] = ok ? to_float(grad_out[(n * K * K + k) * hw + (long long)yg * W + xg]) : 0.f;
        }
        for (int c0 = 0; c0 < C; c0 += kCorrChannelChunk) {
            const int cc = C - c0 < kCorrChannelChunk ? C - c0 : kCorrChannelChunk;
            __syncthreads();  // every thread is done reading the previous chunk
            tiling.stage_halo(other, n, C, c0, cc, y0, x0, tile);
            __syncthreads();
            if (!inside) continue;
            for (int ch = 0; ch < cc; ++ch) {
                float acc = 0.f;
#pragma unroll
                for (int k = 0; k < K * K; ++k) {
                    const int dy = k / K - D, dx = k % K - D;
                    acc += g[k] * (kGradF1 ? tile[ch][ty - dy + D][tx - dx + D] : tile[ch][ty + dy + D][tx + dx + D]);
                }
                grad_f[(n * C + c0 + ch) * hw + (long long)y * W + x] = from_float<scalar_t>(acc * inv_c);
            }
        }
    }
}

}  // namespace vidinterp
