#!/usr/bin/env bash
# The EVM engine against a real chain: builds geth v1.17.10 from the Go
# module proxy into a temporary GOBIN (BIAS_GETH skips the build), runs
# `geth --dev` on free ports, and has two engines follow and submit to it
# until they agree on every root, then a third that starts later replay the
# chain alone to the same roots (TestGethDev, internal/ledger/evmledger,
# build tag e2e). The engines run in process over the registry; the
# `bias node --ledger evm` command is not wired yet (docs/evm.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIAS_GETH:-}" ]; then
  gobin=$(mktemp -d)
  trap 'rm -rf "$gobin"' EXIT
  start=$(date +%s)
  GOBIN="$gobin" go install github.com/ethereum/go-ethereum/cmd/geth@v1.17.10
  echo "e2e-evm: geth built in $(( $(date +%s) - start )) s"
  export BIAS_GETH="$gobin/geth"
fi
go test -tags e2e -count=1 -run '^TestGethDev$' -v ./internal/ledger/evmledger/ 2>&1 | grep -v 'level=INFO'
