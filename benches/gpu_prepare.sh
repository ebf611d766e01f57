#!/usr/bin/env bash
# Builds everything benches/gpu_check.sh runs and packs it into .gpu/ (ignored by git) for
# a headless NVIDIA machine without a Rust toolchain: the release test binary and the
# matmul, step, mlp and cnn benches under the names gpu_check.sh uses, the `mlp` example,
# stripped and gzipped, with the Vulkan loader, a launcher and Fashion-MNIST
# (../shared/gpu/bundle.sh --data). Then, there, in one run:
#   bash benches/gpu_check.sh      (one device run, carrying [".gpu"])
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${BUNDLE:-../shared/gpu/bundle.sh}
cargo build --release --examples --benches
cargo test --release --no-run
# The newest build of a target: target/release/deps/NAME-<hash>, executable.
newest() { find target/release/deps -maxdepth 1 -name "$1-*" -type f -executable -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2; }
staging=$(mktemp -d)
cp "$(newest all)" "$staging/tests"
for bench in matmul step mlp cnn; do cp "$(newest "$bench")" "$staging/${bench}_bench"; done
cp target/release/examples/mlp "$staging/mlp"
strip "$staging"/*
bash "$bundle" --data "$staging"/*
gzip -9 .gpu/bin/*
rm -rf "$staging"
du -sh .gpu/bin .gpu
