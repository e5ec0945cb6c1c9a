#!/usr/bin/env bash
# Multi-operator end-to-end tests: four validator processes on loopback,
# killed and restarted (tests/e2e, build tag e2e). About a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -tags e2e -count=1 -timeout 15m ./tests/e2e/ "$@"
