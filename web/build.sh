#!/usr/bin/env bash
# Builds the playground page: the crate for wasm32-unknown-unknown, then wasm-bindgen's
# JavaScript glue into web/pkg/. Needs `rustup target add wasm32-unknown-unknown` and
# `cargo install wasm-bindgen-cli --version` the wasm-bindgen version in Cargo.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
    echo "web/build.sh: need wasm-bindgen-cli $want (found '${have:-none}'):" >&2
    echo "    cargo install wasm-bindgen-cli --version $want" >&2
    exit 1
fi
cargo build -p backprop-playground --target wasm32-unknown-unknown --release
wasm-bindgen --target web --no-typescript --out-dir web/pkg \
    target/wasm32-unknown-unknown/release/backprop_playground.wasm
echo "built web/pkg ($(du -h web/pkg/backprop_playground_bg.wasm | cut -f1) of WebAssembly)"
