#!/usr/bin/env bash
# The EVM engine against a real chain: builds geth v1.17.10 from the Go
# module proxy into a temporary GOBIN (BIAS_GETH skips the build) and bias
# (BIAS_BIN skips it), and runs, against a `geth --dev` on free ports each:
#   - TestGethDev (internal/ledger/evmledger, build tag e2e): two engines in
#     process follow and submit until they agree on every root, then a
#     third that starts later replays the chain alone to the same roots;
#   - TestNodesOnGethDev (internal/node, build tag e2e): two built
#     `bias node --ledger evm --evm-rpc` processes; a device registered and
#     validated through one node's API resolves at the other.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${BIAS_GETH:-}" ]; then
  start=$(date +%s)
  GOBIN="$tmp" go install github.com/ethereum/go-ethereum/cmd/geth@v1.17.10
  echo "e2e-evm: geth built in $(( $(date +%s) - start )) s"
  export BIAS_GETH="$tmp/geth"
fi
if [ -z "${BIAS_BIN:-}" ]; then
  go build -o "$tmp/bias" ./cmd/bias
  export BIAS_BIN="$tmp/bias"
fi
go test -tags e2e -count=1 -run '^TestGethDev$' -v ./internal/ledger/evmledger/ 2>&1 | grep -v 'level=INFO'
go test -tags e2e -count=1 -run '^TestNodesOnGethDev$' -v ./internal/node/ 2>&1 | grep -v 'level=INFO'
