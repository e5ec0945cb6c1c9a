#!/usr/bin/env bash
# Rebuilds the anchor contract's bindings (go generate in evmledger):
# solc-js from npm (no compiler download) and abigen from go-ethereum, both
# pinned. CI needs neither: the generated anchor.go is committed.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx --yes solc@0.8.37 --optimize --optimize-runs 200 --bin --abi -o "$out" Anchor.sol
cp "$out/Anchor_sol_Anchor.abi" Anchor.abi
cp "$out/Anchor_sol_Anchor.bin" Anchor.bin
go run github.com/ethereum/go-ethereum/cmd/abigen@v1.17.10 \
  --abi Anchor.abi --bin Anchor.bin --pkg evmledger --type anchor --out ../anchor.go
