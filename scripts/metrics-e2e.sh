#!/usr/bin/env bash
# Metrics end to end, with a real Prometheus (Debian packages prometheus,
# which brings promtool, and curl, jq; .ci/run installs them):
#
#  1. a node (single validator) on free loopback ports, with /metrics on a
#     listener of its own (--metrics) and JSON logs;
#  2. Prometheus on a free port, scraping it every second (generated
#     config, the alert rules of deploy/prometheus/alerts.yml loaded);
#  3. registrations, validations and authentications through the CLI;
#  4. Prometheus's HTTP API: the counters moved by the expected amounts,
#     CometBFT's height metric is the node's /v1/status height, the latency
#     histograms have samples, the alert rules are loaded and healthy;
#  5. promtool check metrics on the node's output, promtool check rules on
#     the alert rules, and the Grafana dashboard is JSON whose every query
#     names a metric the node serves.
#
# Every server is stopped at exit. A missing tool fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in prometheus promtool curl jq go; do
  command -v "$tool" >/dev/null || { echo "metrics-e2e: $tool is missing (apt-get install -y prometheus curl jq)" >&2; exit 1; }
done

W=$(mktemp -d)
pids=()
cleanup() {
  status=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    echo "metrics-e2e: FAILED; logs:" >&2
    for f in "$W"/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 40 "$f" >&2; }; done
  fi
  [ -n "${KEEP:-}" ] && echo "kept $W" >&2 || rm -rf "$W"
  exit "$status"
}
trap cleanup EXIT

step() { echo "== $*"; }
fail() { echo "metrics-e2e: FAIL: $*" >&2; exit 1; }

# free_base N: a port P with P..P+N-1 all free on 127.0.0.1, below the
# ephemeral range (where outgoing connections could take one first).
free_base() {
  local n=$1 base p ok lo=32768
  [ -r /proc/sys/net/ipv4/ip_local_port_range ] && read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range
  [ "$lo" -gt $((10000 + n + 1000)) ] || fail "the ephemeral port range starts at $lo: no room below it"
  for _ in $(seq 1 100); do
    base=$((10000 + RANDOM % (lo - 10000 - n))); ok=1
    for p in $(seq "$base" $((base + n - 1))); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then ok=0; break; fi
    done
    [ "$ok" = 1 ] && { echo "$base"; return; }
  done
  fail "no $n free consecutive ports"
}

BIAS=$W/bias
go build -o "$BIAS" ./cmd/bias

step "static checks: alert rules and dashboard"
promtool check rules deploy/prometheus/alerts.yml
jq -e '.panels | length > 0' deploy/grafana/bias.json >/dev/null || fail "the dashboard has no panels"

P=$(free_base 4)
API=127.0.0.1:$P; MET=127.0.0.1:$((P + 1)); P2P=127.0.0.1:$((P + 2)); PROM=127.0.0.1:$((P + 3))
N=http://$API
export BIAS_NODE=$N

step "node on $API, metrics on $MET"
"$BIAS" node --home "$W/home" --http "$API" --metrics "$MET" --log-format json >"$W/node.out" 2>"$W/node.log" &
pids+=($!)
for _ in $(seq 1 300); do curl -fsS -m 1 "$N/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$N/readyz" >/dev/null || fail "the node is not ready"
head -n 1 "$W/node.log" | jq -e . >/dev/null || fail "the node's log is not JSON"

step "prometheus on $PROM"
cat >"$W/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: bias
    static_configs:
      - targets: ['$MET']
EOF
promtool check config "$W/prometheus.yml" >/dev/null
prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/tsdb" --web.listen-address="$PROM" >"$W/prometheus.log" 2>&1 &
pids+=($!)
PQ=http://$PROM/api/v1
for _ in $(seq 1 300); do curl -fsS -m 1 "http://$PROM/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://$PROM/-/ready" >/dev/null || fail "prometheus is not ready"

# query EXPR: the value of an instant query's single sample ("" if none).
query() { curl -fsS "$PQ/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // ""'; }
# scraped: wait until Prometheus has a scrape newer than now.
scraped() {
  local t0; t0=$(date +%s)
  for _ in $(seq 1 100); do
    local last; last=$(curl -fsS "$PQ/targets" | jq -r '.data.activeTargets[0].lastScrape // ""')
    [ -n "$last" ] && [ "$(date -d "$last" +%s)" -gt "$t0" ] && [ "$(curl -fsS "$PQ/targets" | jq -r '.data.activeTargets[0].health')" = up ] && return
    sleep 0.2
  done
  fail "prometheus does not scrape the node: $(curl -fsS "$PQ/targets" | jq -c '.data.activeTargets')"
}
val() { local v; v=$(query "$1"); echo "${v:-0}"; }
scraped
submitted0=$(val 'sum(bias_operations_submitted_total{type="entity.register",result="accepted"})')
committed0=$(val 'sum(bias_operations_committed_total{type="entity.register",result="applied"})')
validated0=$(val 'sum(bias_operations_committed_total{type="entity.validate",result="applied"})')
allow0=$(val 'sum(bias_authn_decisions_total{endpoint="verify",result="allow"})')

step "traffic: 3 devices and a service registered and validated, 3 authentications"
ADMIN=$W/home/provider/admin.key
PROV=$(cat "$W/home/provider/did")
reg() { # reg KIND KEYFILE: registers, validates, prints the DID
  "$BIAS" key new "$2" >/dev/null
  local did; did=$("$BIAS" register --kind "$1" --key "$2" --provider "$PROV" | grep -o 'did:bias:[^ ]*' | head -n 1)
  [ -n "$did" ] || fail "no DID from register"
  "$BIAS" provider validate "$did" --key "$ADMIN" >/dev/null
  echo "$did"
}
SVC=$(reg service "$W/svc.key")
DEVS=()
for i in 1 2 3; do DEVS+=("$(reg device "$W/dev$i.key")"); done
URL=https://printer.example
for i in 1 2 3; do # the node decides (POST /v1/authn/verify)
  "$BIAS" auth challenge "$SVC" --key "$W/svc.key" --url "$URL" >"$W/ch$i.txt"
  "$BIAS" auth answer "${DEVS[$((i - 1))]}" "$W/ch$i.txt" --key "$W/dev$i.key" --url "$URL" >"$W/pr$i.txt"
  "$BIAS" auth verify "$W/ch$i.txt" "$W/pr$i.txt" >"$W/auth$i.out" 2>&1 || fail "authentication $i: $(tail -n 5 "$W/auth$i.out")"
done
curl -fsS "$N/1.0/identifiers/${DEVS[0]}" >/dev/null

step "prometheus sees the counters move"
scraped
check() { # check NAME GOT WANT
  awk -v g="$2" -v w="$3" 'BEGIN { exit !(g + 0 == w + 0) }' || fail "$1: $2, want $3"
  echo "ok: $1 = $2"
}
check "registrations submitted" "$(val 'sum(bias_operations_submitted_total{type="entity.register",result="accepted"})')" "$(awk -v a="$submitted0" 'BEGIN{print a + 4}')"
check "registrations committed" "$(val 'sum(bias_operations_committed_total{type="entity.register",result="applied"})')" "$(awk -v a="$committed0" 'BEGIN{print a + 4}')"
check "validations committed" "$(val 'sum(bias_operations_committed_total{type="entity.validate",result="applied"})')" "$(awk -v a="$validated0" 'BEGIN{print a + 4}')"
check "authentications allowed" "$(val 'sum(bias_authn_decisions_total{endpoint="verify",result="allow"})')" "$(awk -v a="$allow0" 'BEGIN{print a + 3}')"
check "validated devices" "$(val 'bias_entities{kind="device",status="validated"}')" 3
check "validated services" "$(val 'bias_entities{kind="service",status="validated"}')" 1
for h in bias_authn_decision_duration_seconds bias_resolution_duration_seconds bias_http_request_duration_seconds; do
  c=$(val "sum(${h}_count)")
  awk -v c="$c" 'BEGIN { exit !(c > 0) }' || fail "$h has no samples"
  echo "ok: $h has $c samples"
done
# CometBFT's height is the node's: cometbft_consensus_height is the height
# consensus works on, one above the last committed block that /v1/status
# shows. Read both until they agree at a scrape after the status (a block
# may commit between the two reads).
ok=0
for _ in $(seq 1 20); do
  hs=$(curl -fsS "$N/v1/status" | jq -r .height)
  scraped
  hm=$(val 'cometbft_consensus_height')
  [ "$hm" = "$((hs + 1))" ] && { ok=1; break; }
done
[ "$ok" = 1 ] || fail "cometbft_consensus_height $hm, /v1/status height $hs"
echo "ok: cometbft_consensus_height $hm = /v1/status height $hs + 1"
[ "$(val 'up{job="bias"}')" = 1 ] || fail "target not up"
[ "$(val 'bias_ready')" = 1 ] || fail "bias_ready is not 1"

step "alert rules loaded and healthy"
curl -fsS "$PQ/rules" | jq -e '[.data.groups[].rules[]] | length > 0 and all(.health == "ok")' >/dev/null ||
  fail "rules: $(curl -fsS "$PQ/rules" | jq -c '[.data.groups[].rules[] | {name, health, lastError}]')"

step "promtool check metrics on the node's output"
curl -fsS "http://$MET/metrics" >"$W/metrics.txt"
# bias's, Go's and the process's metrics pass promtool's lint outright.
grep -vE '^(# (HELP|TYPE) )?cometbft_' "$W/metrics.txt" | promtool check metrics || fail "promtool check metrics (bias, go, process)"
# The whole output parses; promtool's only complaints are about CometBFT's
# own names (upstream's: counters without _total and the like).
if ! promtool check metrics <"$W/metrics.txt" >"$W/promtool.txt" 2>&1; then
  grep -vE '^cometbft_' "$W/promtool.txt" && fail "promtool check metrics: the problems above are not CometBFT's names"
  echo "promtool: $(wc -l <"$W/promtool.txt") naming remarks on CometBFT's own metrics (upstream), none on bias's"
fi
# Every metric of bias, Go or the process that the dashboard queries is
# served (CometBFT's appear once set: peers once a peer connects).
for m in $(jq -r '.. | .expr? // empty' deploy/grafana/bias.json | grep -oE '(bias|go|process)_[a-z_]+' | sed -E 's/_(bucket|count|sum)$//' | sort -u); do
  grep -qE "^(# TYPE )?$m[ {]|^# TYPE $m " "$W/metrics.txt" || fail "the dashboard queries $m, which the node does not serve"
done
echo "metrics-e2e: OK"
