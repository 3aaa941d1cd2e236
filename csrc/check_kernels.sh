#!/usr/bin/env bash
# Compile the torch-free CUDA kernel headers (csrc/kernels/*.cuh) for float, half and bfloat16
# with nvcc. CI runs this on machines without a GPU: compiling is the check. Exits 0 with "skipped" when no
# nvcc is found, non-zero on any compile error. Override the target with CUDA_ARCH (default sm_90).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernels="$here/kernels"
nvcc_bin="${NVCC:-$(command -v nvcc || true)}"
if [ -z "$nvcc_bin" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc_bin=/usr/local/cuda/bin/nvcc; fi
if [ -z "$nvcc_bin" ]; then
    echo "check_kernels: skipped: no nvcc (install the CUDA toolkit to compile the kernels)"
    exit 0
fi
arch="${CUDA_ARCH:-sm_90}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "check_kernels: $("$nvcc_bin" --version | tail -n 1)"
"$nvcc_bin" -std=c++17 -arch="$arch" -Werror all-warnings -I"$kernels" -c "$here/kernel_harness.cu" -o "$out/harness.o"
echo "check_kernels: ok: warp and correlation kernels compile for float, half and bfloat16 ($arch)"
