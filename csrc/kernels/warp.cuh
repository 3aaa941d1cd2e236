// Bilinear backward warp: forward and backward kernels, templated on the storage type (float, __half,
// __nv_bfloat16), float coordinates and accumulation. Semantics match vidinterp/ops/reference.py exactly:
// padding 0 = "border" (clamp the sample position), 1 = "zeros" (outside corners weigh 0), NaN → 0.
#pragma once

#include "common.cuh"

namespace vidinterp {

// The four corners (y0,x0), (y0,x1), (y1,x0), (y1,x1) of one sample, their weights and ∂weight/∂x, ∂weight/∂y.
struct WarpCorners {
    long long index[4];  // flat y*W + x, always in range
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
    const long long ix0 = clamp_to_index(x0, W), ix1 = clamp_to_index(x1, W);
    const long long iy0 = clamp_to_index(y0, H), iy1 = clamp_to_index(y1, H);
    c.index[0] = iy0 * W + ix0;
    c.index[1] = iy0 * W + ix1;
    c.index[2] = iy1 * W + ix0;
    c.index[3] = iy1 * W + ix1;
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
__device__ __forceinline__ void pixel_corners(const scalar_t* __restrict__ flow, long long n, long long pixel,
                                              int H, int W, int padding, WarpCorners& c) {
    const long long hw = (long long)H * W;
    const int y = (int)(pixel / W), x = (int)(pixel - (long long)y * W);
    const float px = (float)x + to_float(flow[(2 * n) * hw + pixel]);
    const float py = (float)y + to_float(flow[(2 * n + 1) * hw + pixel]);
    warp_corners(px, py, H, W, padding, c);
}

// One thread per output pixel (n, y, x); loops over channels so the corners are computed once.
// image, out: N×C×H×W contiguous; flow: N×2×H×W contiguous.
template <typename scalar_t>
__global__ void warp_forward_kernel(const scalar_t* __restrict__ image, const scalar_t* __restrict__ flow,
                                    scalar_t* __restrict__ out, int N, int C, int H, int W, int padding) {
    const long long hw = (long long)H * W;
    VIDINTERP_KERNEL_LOOP(i, (long long)N * hw) {
        const long long n = i / hw;
        const long long pixel = i - n * hw;
        WarpCorners c;
        pixel_corners(flow, n, pixel, H, W, padding, c);
        const scalar_t* plane = image + n * C * hw;
        scalar_t* dst = out + n * C * hw + pixel;
        for (int ch = 0; ch < C; ++ch, plane += hw) {
            float acc = 0.f;
#pragma unroll
            for (int k = 0; k < 4; ++k) acc += c.weight[k] * to_float(plane[c.index[k]]);
            dst[ch * hw] = from_float<scalar_t>(acc);
        }
    }
}

// One thread per pixel: grad_flow is written directly (summed over channels in registers); grad_image is
// scattered with atomicAdd into a float buffer (N×C×H×W, zero-initialised) that the caller casts back.
// A null grad_image or grad_flow is a gradient nobody asked for: it is neither computed nor written.
template <typename scalar_t>
__global__ void warp_backward_kernel(const scalar_t* __restrict__ grad_out, const scalar_t* __restrict__ image,
                                     const scalar_t* __restrict__ flow, float* __restrict__ grad_image,
                                     scalar_t* __restrict__ grad_flow, int N, int C, int H, int W, int padding) {
    const long long hw = (long long)H * W;
    VIDINTERP_KERNEL_LOOP(i, (long long)N * hw) {
        const long long n = i / hw;
        const long long pixel = i - n * hw;
        WarpCorners c;
        pixel_corners(flow, n, pixel, H, W, padding, c);
        float gx = 0.f, gy = 0.f;
        for (int ch = 0; ch < C; ++ch) {
            const long long plane = (n * C + ch) * hw;
            const float g = to_float(grad_out[plane + pixel]);
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                if (grad_flow != nullptr) {
                    const float v = to_float(image[plane + c.index[k]]);
                    gx += g * v * c.dweight_dx[k];
                    gy += g * v * c.dweight_dy[k];
                }
                if (grad_image != nullptr && c.weight[k] != 0.f)
                    atomicAdd(grad_image + plane + c.index[k], g * c.weight[k]);
            }
        }
        if (grad_flow != nullptr) {
            grad_flow[(2 * n) * hw + pixel] = from_float<scalar_t>(gx);
            grad_flow[(2 * n + 1) * hw + pixel] = from_float<scalar_t>(gy);
        }
    }
}

}  // namespace vidinterp
