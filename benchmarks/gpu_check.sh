#!/usr/bin/env bash
# One prepared GPU check for a lent CUDA machine (see docs/howto/gpu.md).
# Installs the few wheels the machine lacks from .whl/ (if present), then runs the GPU
# tests, the tuning benchmark with the GPU engine side by side with the CPU engine, and the
# operating-conditions inference benchmark on the GPU and on all CPU cores.
# Usage: bash benchmarks/gpu_check.sh [OUTDIR]   (THROUGHPUT=1 adds gpu_throughput.py)
set -u
out="${1:-${OUT:-runs/gpu}}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$PWD/src"
else
    export PYTHONPATH="$PWD/src"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 - <<'PY'
import numba, numpy
from xbarsim.programming.cuda_support import load_cuda
cuda = load_cuda()
print("numpy", numpy.__version__, "numba", numba.__version__, "cuda available", cuda.is_available())
try:
    import numba_cuda
    print("numba-cuda", numba_cuda.__version__)
except Exception as exc:  # noqa: BLE001
    print("numba-cuda import:", exc)
PY
timeout 200 python3 -m pytest -m gpu -q -p no:cacheprovider tests 2>&1 | tee "$out/pytest_gpu.log" | tail -15
timeout 120 python3 benchmarks/tuning.py --engine gpu --size 64 --crossbars 8 \
    --direct-crossbars 1 --json "$out/tuning_gpu_8.json" 2>&1 | tee "$out/tuning_gpu_8.log"
# inference at operating conditions (ResNet-18 layout) on the GPU, and on all CPU cores
for batch in 1 16; do
    timeout 150 python3 benchmarks/conditions.py --device cuda --batch "$batch" --repeats 5 \
        --json "$out/conditions_cuda_b$batch.json" 2>&1 | tail -12
done
timeout 150 python3 benchmarks/conditions.py --threads "$(nproc)" --repeats 3 \
    --json "$out/conditions_cpu_threads.json" 2>&1 | tail -12
if [ "${THROUGHPUT:-0}" = 1 ]; then
    timeout 300 python3 benchmarks/gpu_throughput.py --sigmas 0.05,0.25 --batches 2048,8192 \
        --json "$out/gpu_throughput.json" 2>&1 | tee "$out/gpu_throughput.log"
fi
