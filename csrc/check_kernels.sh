#!/usr/bin/env bash
# Compile checks for the CUDA code, for machines without a GPU (CI): compiling is the check.
#  1. The torch-free kernel headers (csrc/kernels/*.cuh), instantiated for float, half and bfloat16, with -Werror.
#  2. When torch imports ($PYTHON, default python3), the whole extension against its headers: warp_cuda.cu and
#     correlation_cuda.cu with nvcc, ops.cpp with the host compiler; compiled, not linked (a CPU wheel has no
#     CUDA libraries; its headers need -DC10_CUDA_NO_CMAKE_CONFIGURE_FILE). Linking is left to the GPU check
#     (benchmarks/gpu_check.py). The two nvcc runs go in parallel (about 35 s each on a free core).
# Exits 0 with "skipped" when no nvcc is found, non-zero on any compile error. CUDA_ARCH sets the target (sm_90).
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

python_bin="${PYTHON:-python3}"
if ! includes="$("$python_bin" - 2>/dev/null <<'PY'
import sysconfig
from torch.utils import cpp_extension
print(" ".join(["-I" + p for p in cpp_extension.include_paths()] + ["-I" + sysconfig.get_paths()["include"]]))
PY
)"; then
    echo "check_kernels: extension skipped: torch does not import with $python_bin"
    exit 0
fi
# shellcheck disable=SC2206
flags=(-std=c++20 -DC10_CUDA_NO_CMAKE_CONFIGURE_FILE -DTORCH_EXTENSION_NAME=_C -DTORCH_API_INCLUDE_EXTENSION_H $includes -I"$here")
pids=()
for unit in warp_cuda correlation_cuda; do
    "$nvcc_bin" "${flags[@]}" -arch="$arch" --expt-relaxed-constexpr -Xcompiler -fPIC -w \
        -c "$here/$unit.cu" -o "$out/$unit.o" >"$out/$unit.log" 2>&1 &
    pids+=($!)
done
cxx="${CXX:-$(command -v g++ || command -v c++)}"
status=0
"$cxx" "${flags[@]}" -fPIC -w -c "$here/ops.cpp" -o "$out/ops.o" || status=1
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        status=1
        cat "$out/$([ "$i" -eq 0 ] && echo warp_cuda || echo correlation_cuda).log" >&2
    fi
done
[ "$status" -eq 0 ] || { echo "check_kernels: FAILED: the extension does not compile" >&2; exit 1; }
echo "check_kernels: ok: ops.cpp, warp_cuda.cu and correlation_cuda.cu compile against torch $("$python_bin" -c 'import torch; print(torch.__version__)') ($arch, not linked)"
