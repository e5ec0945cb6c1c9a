#!/usr/bin/env bash
# Runs every fuzz target for a bounded amount of work each (default 100000
# inputs; a duration such as 1m works too): ./scripts/fuzz.sh 1m
# A count rather than a duration keeps CI from failing on a busy machine
# with "context deadline exceeded" (the fuzzer's own deadline while it
# still gathers its baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-100000x}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $f ($t)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" > /tmp/fuzz-$f.log 2>&1 || { cat /tmp/fuzz-$f.log; exit 1; }
  done
done
