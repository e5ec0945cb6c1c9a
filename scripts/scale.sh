#!/usr/bin/env bash
# Scale run (issue 19; docs/benchmarks.md, "Scale script"): one real node
# (the built `bias node`, free ports, a fresh home), into which biasload
# enrolls devices in bulk over HTTP, measuring at 10k, 100k, 1M and 10M
# devices the node's RSS (/proc), its home's disk bytes per device (state,
# block store, indexes: all of the home) and resolution p50/p99 over HTTP;
# then a mixed soak (registrations, resolutions, authentications,
# revocations) sampling RSS; between the two, SCALE_AUTH authentications
# over HTTP (half at full load, half paced at half that rate: p50, p99).
# It prints a table and exits non-zero when an operation fails or a bound
# is broken.
#
#   scripts/scale.sh            # 10M devices, one-hour soak (hours: not in CI)
#   scripts/scale.sh --short    # 200k devices, 5-minute soak (CI)
#
# Settings (environment): SCALE_DEVICES, SCALE_MARKS, SCALE_SOAK (a Go
# duration), SCALE_AUTH (default 20000; --short 10000), SCALE_RATE (soak operations/s), SCALE_CACHE_MB (the node's
# --cache-mb, default 512), SCALE_RETAIN (storage.retainBlocks, default
# 100), SCALE_KEEP (storage.keepVersions, default 2: a version pruned
# while its nodes are still in the node cache costs a fraction of one
# pruned 100 blocks later; docs/benchmarks.md, "Pruning while it is
# warm"), SCALE_MAX_RSS_MB (default: the budget + a
# quarter + 256 MiB overhead + 128 MiB margin: 1024 at the default
# budget), SCALE_MAX_DISK (bytes per device at marks of 100k devices or
# more, default 1536), SCALE_HOME (keep the node's home there; default a
# temporary directory, removed; a SCALE_HOME that holds a home from an
# earlier run is started as it is, and the run goes on from the devices
# it holds up to SCALE_DEVICES: a 10M run split into several),
# SCALE_TASKSET_NODE / SCALE_TASKSET_LOAD
# (CPU lists: run the node and biasload pinned with taskset, e.g. 1 and 0).
set -euo pipefail
cd "$(dirname "$0")/.."

devices=${SCALE_DEVICES:-10000000}
marks=${SCALE_MARKS:-10000,100000,1000000}
soak=${SCALE_SOAK:-1h}
auth=${SCALE_AUTH:-20000}
case "${1:-}" in
--short)
	devices=${SCALE_DEVICES:-200000}
	marks=${SCALE_MARKS:-10000,100000}
	soak=${SCALE_SOAK:-5m}
	auth=${SCALE_AUTH:-10000}
	;;
"") ;;
*)
	echo "usage: scripts/scale.sh [--short]" >&2
	exit 2
	;;
esac
cache=${SCALE_CACHE_MB:-512}
retain=${SCALE_RETAIN:-100}
keep=${SCALE_KEEP:-2}
max_rss=${SCALE_MAX_RSS_MB:-$((cache * 5 / 4 + 256 + 128))}
max_disk=${SCALE_MAX_DISK:-1536}

work=$(mktemp -d)
home=${SCALE_HOME:-$work/home}
node_pid=
cleanup() {
	if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
		kill "$node_pid" && wait "$node_pid" || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/bias" ./cmd/bias
go build -o "$work/biasload" ./cmd/biasload
pin_node=() pin_load=()
[ -n "${SCALE_TASKSET_NODE:-}" ] && pin_node=(taskset -c "$SCALE_TASKSET_NODE")
[ -n "${SCALE_TASKSET_LOAD:-}" ] && pin_load=(taskset -c "$SCALE_TASKSET_LOAD")

# start_node starts the node on free ports (port 0) and waits until it
# serves; its JSON line names the API's URL.
start_node() {
	: >"$work/node.out"
	"${pin_node[@]}" "$work/bias" --output json node --home "$home" --http 127.0.0.1:0 --p2p tcp://127.0.0.1:0 \
		--cache-mb "$cache" --log-level warn >"$work/node.out" 2>>"$work/node.log" &
	node_pid=$!
	for _ in $(seq 6000); do # (a large kept home takes a while to load)
		url=$(sed -n 's/.*"api":"\([^"]*\)".*/\1/p' "$work/node.out")
		[ -n "$url" ] && return 0
		kill -0 "$node_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "scale: the node did not start; its log:" >&2
	tail -20 "$work/node.log" >&2
	exit 1
}

# devices_held prints the devices the node at $url holds, from its
# bias_entities gauges (counted in the background after a start: it waits
# for them).
devices_held() {
	for _ in $(seq 1200); do
		n=$(curl -fsS "$url/metrics" 2>/dev/null | awk '/^bias_entities\{kind="device"/ {s += $2; seen = 1} END {if (seen) printf "%d", s}')
		[ -n "$n" ] && echo "$n" && return 0
		sleep 0.5
	done
	echo "scale: the node at $url reports no device count" >&2
	return 1
}

existing=0
if [ -n "${SCALE_HOME:-}" ] && [ -f "$home/config/bias.json" ]; then
	# A home kept from an earlier run: go on from the devices it holds,
	# with the retention it was set up with.
	start_node
	existing=$(devices_held)
	retain=$(sed -n 's/.*"retainBlocks": *\([0-9]*\).*/\1/p' "$home/config/bias.json")
	keep=$(sed -n 's/.*"keepVersions": *\([0-9]*\).*/\1/p' "$home/config/bias.json")
	: "${retain:=0}" "${keep:=0}" # (none set: every block and version kept)
else
	# The first run initialises the home; the node is then restarted with
	# bounded retention (docs/operations.md, Disk).
	start_node
	kill "$node_pid" && wait "$node_pid" || true
	sed -i "s/^  \"network\": \(.*\),\$/  \"network\": \1,\n  \"storage\": {\"retainBlocks\": $retain, \"keepVersions\": $keep},/" "$home/config/bias.json"
	grep -q '"retainBlocks"' "$home/config/bias.json"
	start_node
fi
echo "scale: node pid $node_pid at $url, home $home (holding $existing devices), cacheMB $cache, retain $retain blocks, keep $keep versions; $devices devices, marks $marks, soak $soak" >&2

set +e
"${pin_load[@]}" "$work/biasload" --node "$url" --home "$home" --pid "$node_pid" --devices "$devices" --existing "$existing" --marks "$marks" \
	--soak "$soak" --auth "$auth" ${SCALE_RATE:+--rate "$SCALE_RATE"} --max-rss-mb "$max_rss" --max-disk-per-device "$max_disk"
rc=$?
set -e
if ! kill -0 "$node_pid" 2>/dev/null; then
	echo "scale: the node exited during the run; its log:" >&2
	tail -20 "$work/node.log" >&2
	rc=1
fi
echo "scale: bounds: RSS <= $max_rss MiB, disk <= $max_disk B/device (from 100k devices); exit $rc" >&2
exit $rc
