#!/usr/bin/env bash
# Every GPU check in one run, on a headless NVIDIA machine prepared from this checkout:
#   cargo build --release --examples && cargo bench --no-run && cargo test --release --no-run
#   ../shared/gpu/bundle.sh --data target/release/examples/{xor,mlp,autograd,vanishing_gradients}
#   cp target/release/deps/{all,xor,mlp,step}-<hash> .gpu/bin/{tests,xor_bench,mlp_bench,step_bench}
#   strip .gpu/bin/* && gzip -9 .gpu/bin/* && rm .gpu/data/fashion-mnist/t10k-*
#   (to fit the transfer limit; the t10k files are the ones in data/)
# then there: bash benches/gpu_check.sh  (charts and the checkpoint land in $OUT or /tmp)
set -u
out=${OUT:-/tmp}
run="bash .gpu/run.sh"
data=.gpu/data/fashion-mnist
section() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }
gunzip -f .gpu/bin/*.gz 2>/dev/null; chmod +x .gpu/bin/*
for f in data/t10k-*; do [ -e "$data/$(basename "$f")" ] || cp "$f" "$data/"; done

section "device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
section "test suite, REQUIRE_GPU=1"
REQUIRE_GPU=1 $run .gpu/bin/tests --test-threads=4 2>&1 | grep -E "test result|FAILED|panicked|SKIPPED" | head -20
section "autograd"
$run .gpu/bin/autograd
section "xor on the GPU, then the CPU"
$run .gpu/bin/xor
$run .gpu/bin/xor --backend cpu | tail -2
section "xor benchmark"
$run .gpu/bin/xor_bench
section "vanishing gradients"
$run .gpu/bin/vanishing_gradients --plot "$out/vanishing-gradients.png" --grad-flow "$out/gradient-flow-sigmoid.png"
section "mlp, full Fashion-MNIST, 10 epochs"
$run .gpu/bin/mlp --data $data --save "$out/mlp.safetensors" --plot "$out/mlp-training.png" \
  --grad-flow "$out/mlp-gradient-flow.png" --check-finite 2>&1 | grep -v "^epoch .*\[" 
section "the checkpoint in PyTorch"
python3 benches/torch_checkpoint.py check "$out/mlp.safetensors" $data
section "mlp benchmark, 1 epoch"
$run .gpu/bin/mlp_bench --data $data --epochs 1
section "step time and kernel profile"
$run .gpu/bin/step_bench 2>&1 | grep -v "^cpu"
section "pytorch eager cuda, 10 epochs (accuracy reference)"
python3 benches/mlp_torch.py --data $data --device cuda --epochs 10 | tail -3
section "done"
