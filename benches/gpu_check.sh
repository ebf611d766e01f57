#!/usr/bin/env bash
# Every GPU check in one run, on a headless NVIDIA machine without a Rust toolchain,
# prepared from this checkout by `bash benches/gpu_prepare.sh`, which writes:
#   .gpu/bin/: the `mlp` example and target/release/deps/{all,matmul,step,mlp,cnn}-<hash> as
#     tests, matmul_bench, step_bench, mlp_bench, cnn_bench (stripped, gzipped: gunzipped here)
#   .gpu/data/fashion-mnist/: the training IDX files (the t10k ones are copied from data/)
#   .gpu/run.sh CMD...: runs CMD with a Vulkan loader and an ICD manifest that works
#     without a display (on NVIDIA, one naming libEGL_nvidia.so.0 rather than the stock
#     libGLX_nvidia.so.0)
# then there: bash benches/gpu_check.sh  (charts land in $OUT or /tmp). Needs python3 with
# torch for the PyTorch columns.
set -u
out=${OUT:-/tmp}
run="bash .gpu/run.sh"
data=.gpu/data/fashion-mnist
section() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }
gunzip -f .gpu/bin/*.gz 2>/dev/null; chmod +x .gpu/bin/*
for f in data/t10k-*; do [ -e "$data/$(basename "$f")" ] || cp "$f" "$data/"; done

section "device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
section "GPU tests (kernels, fusion, training), REQUIRE_GPU=1"
for filter in crosscheck fusion training:: resident classifier; do
  REQUIRE_GPU=1 timeout 45 $run .gpu/bin/tests --test-threads=8 $filter 2>&1 \
    | grep -E "test result|FAILED|panicked|SKIPPED|failed" | head -8
done
section "matmul benchmark"
timeout 120 $run .gpu/bin/matmul_bench
section "step benchmark"
timeout 120 $run .gpu/bin/step_bench
section "10 epochs with evaluation, ours and PyTorch eager / CUDA graph"
timeout 120 $run .gpu/bin/mlp_bench --data $data --epochs 10 --gpu-only
section "cnn: our CPU beside PyTorch's, our GPU step beside PyTorch eager / CUDA graph"
timeout 150 $run .gpu/bin/cnn_bench --data $data --rounds 1 --limit 6400
section "mlp example, 10 epochs"
timeout 60 $run .gpu/bin/mlp --data $data --plot "$out/mlp-training.png" 2>&1 | grep -v "^epoch .*\["
section "done"
