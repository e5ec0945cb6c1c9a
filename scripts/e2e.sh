#!/usr/bin/env bash
# Multi-operator end-to-end tests: four validator processes on loopback,
# killed and restarted; a fifth operator joins and one is removed through
# governance, with the commands of docs/operations.md, and a light client
# verifies from the original genesis (TestJoin, about 20 s); tests/e2e,
# build tag e2e. About three minutes in all on two shared cores.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -tags e2e -count=1 -timeout 15m ./tests/e2e/ "$@"
