#!/usr/bin/env bash
# Runs the benchmarks that docs/benchmarks.md reports. Each reports its own
# same-run baseline (raw signature verification) and the ratio to it.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${BENCH_N:-30000x}
go test -run '^$' -bench 'Verification|Decode' -benchtime 20000x ./op/
go test -run '^$' -bench 'CommittedRegistrations' -benchtime "$n" ./internal/node/
