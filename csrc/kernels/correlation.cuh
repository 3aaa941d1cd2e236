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

// One thread per input element (n, c, y, x) computes both gradients by gathering (no atomics):
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
            if (yf >= 0 && yf < H && xf >= 0 && xf < W)
                acc0 += to_float(g[k * hw + pixel]) * to_float(b[(long long)yf * W + xf]);
            const int yb = y - dy, xb = x - dx;  // the output pixel that read f1 here
            if (yb >= 0 && yb < H && xb >= 0 && xb < W) {
                const long long q = (long long)yb * W + xb;
                acc1 += to_float(g[k * hw + q]) * to_float(a[q]);
            }
        }
        grad_f0[i] = from_float<scalar_t>(acc0 * inv_c);
        grad_f1[i] = from_float<scalar_t>(acc1 * inv_c);
    }
}

}  // namespace vidinterp
