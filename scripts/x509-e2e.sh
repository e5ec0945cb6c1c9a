#!/usr/bin/env bash
# X.509 bridge end to end, with real servers from Debian packages (nginx,
# mosquitto, mosquitto-clients, openssl, curl; .ci/run installs them):
#
#  1. a validated device of operator A gets a certificate at operator B's
#     node, with A's node stopped (a 4-validator testnet, one provider each);
#  2. it connects to B's Mosquitto (mosquitto_pub/mosquitto_sub over TLS with
#     its certificate) and to B's nginx (curl --cert), P-256 and Ed25519;
#  3. A revokes it, and within one block B's nginx refuses a new TLS
#     connection (OCSP), and B's Mosquitto refuses one after the CRL reload
#     (B's node writes the CRL file and runs its hook, which sends SIGHUP);
#  4. a device of another network, a self-signed certificate and an expired
#     certificate are refused by both servers;
#  5. openssl verify and openssl ocsp accept the chain and the responses
#     (independent checks of the encoding), and openssl sees the revocation.
#
# Every port is free when picked; every server is started on loopback and
# stopped at exit. A missing tool fails the script. About a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in nginx mosquitto mosquitto_pub mosquitto_sub openssl curl go; do
  command -v "$tool" >/dev/null || { echo "x509-e2e: $tool is missing (apt-get install -y nginx mosquitto mosquitto-clients openssl curl)" >&2; exit 1; }
done

W=$(mktemp -d)
chmod 755 "$W" # nginx's workers run as another user and read nothing here but need the path
pids=()
cleanup() {
  status=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    echo "x509-e2e: FAILED; logs:" >&2
    for f in "$W"/*.log "$W"/nginx/error.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 40 "$f" >&2; }; done
  fi
  [ -n "${KEEP:-}" ] && echo "kept $W" >&2 || rm -rf "$W"
  exit "$status"
}
trap cleanup EXIT

step() { echo "== $*"; }
fail() { echo "x509-e2e: FAIL: $*" >&2; exit 1; }

# free_base N: a port P with P..P+N-1 all free on 127.0.0.1, below the
# ephemeral range (where the nodes' own outgoing connections could take
# one before its listener binds it).
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

# --- the networks -------------------------------------------------------------
# One run of free ports for everything (picked apart, two runs could overlap):
# testnet API and p2p, othernet API and p2p, nginx, mosquitto.
P0=$(free_base 14)
HB=$P0; PB=$((P0 + 4)); OHB=$((P0 + 8)); OPB=$((P0 + 10)); NGX=$((P0 + 12)); MQ=$((P0 + 13))
"$BIAS" testnet init --validators 4 --dir "$W/net" --http-base "$HB" --p2p-base "$PB" --timeout-commit 200ms >/dev/null
A=$(cat "$W/net/node0/provider/did"); B=$(cat "$W/net/node1/provider/did")
NA=http://127.0.0.1:$HB; NB=http://127.0.0.1:$((HB + 1))
# B's node writes its CRL where Mosquitto reads it, and makes Mosquitto
# reload it (SIGHUP) after each write.
cat > "$W/reload-mosquitto.sh" <<EOF
#!/bin/sh
[ -f "$W/mosquitto.pid" ] && kill -HUP "\$(cat "$W/mosquitto.pid")"
exit 0
EOF
chmod +x "$W/reload-mosquitto.sh"
sed -i "s|\"allowDuplicateIP\": true|\"allowDuplicateIP\": true, \"x509\": {\"crlFile\": \"$W/crl-b.pem\", \"crlHook\": [\"$W/reload-mosquitto.sh\"]}|" "$W/net/node1/config/bias.json"
grep -q crlHook "$W/net/node1/config/bias.json" || fail "could not configure node1's CRL hook"

"$BIAS" testnet init --validators 1 --network othernet --dir "$W/other" --http-base "$OHB" --p2p-base "$OPB" >/dev/null
O=$(cat "$W/other/node0/provider/did"); NO=http://127.0.0.1:$OHB

start_node() { # home log
  "$BIAS" node --home "$1" >"$2" 2>&1 &
  pids+=($!)
  echo $!
}
PID_A=$(start_node "$W/net/node0" "$W/node0.log")
for i in 1 2 3; do start_node "$W/net/node$i" "$W/node$i.log" >/dev/null; done
start_node "$W/other/node0" "$W/other.log" >/dev/null

wait_ok() { # what command...
  local what=$1; shift
  for _ in $(seq 1 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out: $what"
}
step "four validators of network testnet (operators a-d) and one of network othernet"
wait_ok "A's CA published" "$BIAS" --node "$NA" x509 ca "$A"
wait_ok "B's CA published" "$BIAS" --node "$NB" x509 ca "$B"
wait_ok "othernet's CA published" "$BIAS" --node "$NO" x509 ca "$O"
"$BIAS" --node "$NB" x509 ca "$B" > "$W/ca-b.pem"
openssl x509 -in "$W/ca-b.pem" -noout -subject

# register name node alg provider admin-key: a validated device; prints its DID.
register() {
  local name=$1 node=$2 alg=$3 prov=$4 admin=$5 id
  "$BIAS" key new "$W/$name.key" --alg "$alg" >/dev/null
  id=$("$BIAS" --node "$node" register --key "$W/$name.key" --provider "$prov" | sed -n 's/^did: //p')
  [ -n "$id" ] || fail "register $name"
  "$BIAS" --node "$node" provider validate "$id" --key "$admin" >/dev/null
  echo "$id"
}
DEV=$(register dev "$NA" p256 "$A" "$W/net/node0/provider/admin.key")
EDDEV=$(register eddev "$NA" ed25519 "$A" "$W/net/node0/provider/admin.key")
OTHER=$(register other "$NO" p256 "$O" "$W/other/node0/provider/admin.key")
echo "device of A: $DEV (P-256), $EDDEV (Ed25519); device of othernet: $OTHER"

# --- 1. A's node down, the device gets B's certificate at B's node -----------
step "1. A's node stopped; A's devices get certificates at B's node"
kill "$PID_A"; wait "$PID_A" 2>/dev/null || true
curl -fsS -m 2 "$NA/healthz" >/dev/null 2>&1 && fail "A's node still answers"
"$BIAS" --node "$NB" x509 issue "$DEV" --key "$W/dev.key" --provider "$B" --out "$W/dev.pem" --ca-out "$W/dev-ca.pem"
"$BIAS" --node "$NB" x509 issue "$EDDEV" --key "$W/eddev.key" --provider "$B" --out "$W/eddev.pem"
"$BIAS" --node "$NB" x509 issue "$EDDEV" --key "$W/eddev.key" --provider "$B" --out "$W/short.pem" --lifetime 10s
SHORT_UNTIL=$(( $(date +%s) + 12 ))
cmp -s "$W/dev-ca.pem" "$W/ca-b.pem" || fail "the issuing CA is not B's published CA"
"$BIAS" x509 show "$W/dev.pem"
"$BIAS" --node "$NO" x509 issue "$OTHER" --key "$W/other.key" --provider "$O" --out "$W/other.pem"

# --- the servers: B's nginx and B's Mosquitto ---------------------------------
# The servers' own certificates come from a CA of their own (server auth is
# not bias's business); they trust B's CA alone for clients.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=servers test CA" \
  -keyout "$W/srvca.key" -out "$W/srvca.pem" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" -keyout "$W/srv.key" -out "$W/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$W/srv.ext"
openssl x509 -req -in "$W/srv.csr" -CA "$W/srvca.pem" -CAkey "$W/srvca.key" -CAcreateserial -days 2 -extfile "$W/srv.ext" -out "$W/srv.pem" 2>/dev/null
chmod 644 "$W"/*.pem "$W/srv.key"

mkdir -p "$W/nginx"
cat > "$W/nginx/nginx.conf" <<EOF
worker_processes 1;
error_log $W/nginx/error.log info;
pid $W/nginx/nginx.pid;
events { worker_connections 64; }
http {
  access_log $W/nginx/access.log;
  client_body_temp_path $W/nginx/body; proxy_temp_path $W/nginx/proxy; fastcgi_temp_path $W/nginx/fcgi;
  uwsgi_temp_path $W/nginx/uwsgi; scgi_temp_path $W/nginx/scgi;
  # The device's DID is the subject's CN (and the first URI SAN).
  map \$ssl_client_s_dn \$client_did { ~CN=(?<cn>did:bias:[^,]+) \$cn; default ""; }
  server {
    listen 127.0.0.1:$NGX ssl;
    ssl_certificate $W/srv.pem;
    ssl_certificate_key $W/srv.key;
    ssl_client_certificate $W/ca-b.pem;
    ssl_verify_client on;
    ssl_verify_depth 1;
    ssl_ocsp on;
    ssl_ocsp_responder $NB/v1/x509/ocsp/$B;
    location / { default_type text/plain; return 200 "hello \$client_did\n"; }
  }
}
EOF
nginx -t -p "$W/nginx" -c "$W/nginx/nginx.conf" 2>/dev/null || { nginx -t -p "$W/nginx" -c "$W/nginx/nginx.conf"; fail "nginx config"; }
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -g 'daemon off;' >"$W/nginx.log" 2>&1 &
pids+=($!)

cat > "$W/mosquitto.conf" <<EOF
# As root, mosquitto would switch to its own user, which cannot read here.
user $(id -un)
pid_file $W/mosquitto.pid
log_dest stdout
log_type error
log_type warning
log_type notice
listener $MQ 127.0.0.1
cafile $W/ca-b.pem
certfile $W/srv.pem
keyfile $W/srv.key
require_certificate true
use_identity_as_username true
crlfile $W/crl-b.pem
EOF
[ -f "$W/crl-b.pem" ] || fail "B's node wrote no CRL file"
mosquitto -c "$W/mosquitto.conf" >"$W/mosquitto.log" 2>&1 &
pids+=($!)
wait_ok "nginx listens" bash -c "exec 3<>/dev/tcp/127.0.0.1/$NGX"
wait_ok "mosquitto listens" bash -c "exec 3<>/dev/tcp/127.0.0.1/$MQ"
wait_ok "mosquitto pid" test -s "$W/mosquitto.pid"

https() { # cert key: prints the body, fails if the TLS connection is refused
  curl -sS -f -m 5 --cacert "$W/srvca.pem" --cert "$1" --key "$2" "https://127.0.0.1:$NGX/"
}
mqtt() { # cert key name: one message through B's broker, as the device: it
  # publishes (retained, on a topic of its own) and subscribes to get it back.
  local got topic="bias/test/$RANDOM$RANDOM"
  : >"$W/sub.out"; : >"$W/sub.err"
  mosquitto_pub -h 127.0.0.1 -p "$MQ" --cafile "$W/srvca.pem" --cert "$1" --key "$2" -t "$topic" -r -m "hello from $3" 2>"$W/pub.err" || return 1
  mosquitto_sub -h 127.0.0.1 -p "$MQ" --cafile "$W/srvca.pem" --cert "$1" --key "$2" -t "$topic" -C 1 -W 10 >"$W/sub.out" 2>"$W/sub.err" || return 1
  got=$(cat "$W/sub.out")
  [ "$got" = "hello from $3" ]
}

# --- 2. connections -------------------------------------------------------------
step "2. A's device connects to B's nginx (curl --cert) and B's Mosquitto (TLS client certificate)"
out=$(https "$W/dev.pem" "$W/dev.key") || fail "nginx refused the P-256 device"
[ "$out" = "hello $DEV" ] || fail "nginx saw '$out', want the DID"
echo "nginx: $out"
out=$(https "$W/eddev.pem" "$W/eddev.key") || fail "nginx refused the Ed25519 device"
[ "$out" = "hello $EDDEV" ] || fail "nginx saw '$out'"
echo "nginx (Ed25519): $out"
mqtt "$W/dev.pem" "$W/dev.key" "$DEV" || fail "mosquitto refused the P-256 device: $(cat "$W/pub.err" "$W/sub.err")"
echo "mosquitto: published and received as $DEV"
mqtt "$W/eddev.pem" "$W/eddev.key" "$EDDEV" || fail "mosquitto refused the Ed25519 device: $(cat "$W/pub.err" "$W/sub.err")"
echo "mosquitto (Ed25519): published and received as $EDDEV"

# --- 5. independent checks of the encoding (before revocation) ------------------
step "5. openssl verify and openssl ocsp accept the chain and the responses"
openssl verify -CAfile "$W/ca-b.pem" -purpose sslclient "$W/dev.pem"
openssl verify -CAfile "$W/ca-b.pem" -purpose sslclient "$W/eddev.pem"
openssl verify -CAfile "$W/ca-b.pem" -crl_check -CRLfile "$W/crl-b.pem" -purpose sslclient "$W/dev.pem"
ocsp() { # certs...: prints openssl's verdict lines (openssl sends a nonce and checks its echo, RFC 8954)
  local args=()
  for c in "$@"; do args+=(-cert "$c"); done
  openssl ocsp -issuer "$W/ca-b.pem" "${args[@]}" -url "$NB/v1/x509/ocsp/$B" -CAfile "$W/ca-b.pem" 2>&1
}
out=$(ocsp "$W/dev.pem"); echo "$out"
echo "$out" | grep -q "Response verify OK" || fail "openssl does not verify the OCSP response"
echo "$out" | grep -q ": good" || fail "OCSP: not good"
if echo "$out" | grep -qi "nonce"; then fail "openssl reports a nonce problem: $out"; fi
out=$(ocsp "$W/dev.pem" "$W/eddev.pem"); echo "$out"
[ "$(echo "$out" | grep -c ": good")" = 2 ] || fail "OCSP: one request for two certificates does not answer both"

# --- 3. revocation within one block ---------------------------------------------
step "3. A revokes the device (at B's node: A's is down); B's servers refuse it"
serial=$(openssl x509 -in "$W/dev.pem" -noout -serial | cut -d= -f2)
t0=$(date +%s%N)
"$BIAS" --node "$NB" provider revoke "$DEV" --key "$W/net/node0/provider/admin.key" --reason compromised
t1=$(date +%s%N)
if https "$W/dev.pem" "$W/dev.key" >/dev/null 2>&1; then fail "nginx still accepts the revoked device"; fi
t2=$(date +%s%N)
echo "nginx refuses the revoked device: $(( (t2 - t1) / 1000000 )) ms after the revocation committed (submit to commit: $(( (t1 - t0) / 1000000 )) ms)"
grep -q "certificate revoked\|OCSP" "$W/nginx/error.log" && grep -m1 "revoked" "$W/nginx/error.log" || true
https "$W/eddev.pem" "$W/eddev.key" >/dev/null || fail "nginx refuses the other, unrevoked device"
for _ in $(seq 1 100); do
  openssl crl -in "$W/crl-b.pem" -noout -text 2>/dev/null | grep -qi "serial number: *$serial" && break
  sleep 0.05
done
openssl crl -in "$W/crl-b.pem" -noout -text | grep -qi "serial number: *$serial" || fail "the CRL file does not list $serial"
t3=$(date +%s%N)
echo "the CRL file lists the serial $(( (t3 - t1) / 1000000 )) ms after the commit; the hook sent SIGHUP to mosquitto"
sleep 0.5
if mqtt "$W/dev.pem" "$W/dev.key" "$DEV"; then fail "mosquitto still accepts the revoked device"; fi
echo "mosquitto refuses the revoked device: $(cat "$W/pub.err" | head -1)"
mqtt "$W/eddev.pem" "$W/eddev.key" "$EDDEV" || fail "mosquitto refuses the other, unrevoked device"
out=$(ocsp "$W/dev.pem"); echo "$out"
echo "$out" | grep -q "Response verify OK" || fail "openssl does not verify the OCSP response"
echo "$out" | grep -q ": revoked" || fail "OCSP: not revoked"
if openssl verify -CAfile "$W/ca-b.pem" -crl_check -CRLfile "$W/crl-b.pem" "$W/dev.pem" 2>/dev/null; then fail "openssl verify -crl_check accepts the revoked certificate"; fi
out=$(openssl verify -CAfile "$W/ca-b.pem" -crl_check -CRLfile "$W/crl-b.pem" "$W/dev.pem" 2>&1 || true)
echo "$out" | grep -q "certificate revoked" || fail "openssl does not say revoked: $out"
echo "openssl verify -crl_check: certificate revoked"

# --- 4. refusals ------------------------------------------------------------------
step "4. another network's device, a self-signed certificate, an expired certificate: refused"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$EDDEV" \
  -addext "subjectAltName=URI:$EDDEV" -addext extendedKeyUsage=clientAuth -keyout "$W/self.key" -out "$W/self.pem" 2>/dev/null
now=$(date +%s); [ "$now" -lt "$SHORT_UNTIL" ] && sleep $((SHORT_UNTIL - now))
openssl x509 -in "$W/short.pem" -noout -checkend 0 >/dev/null && fail "the short certificate has not expired"
for c in other self short; do
  key=$W/$c.key; [ "$c" = short ] && key=$W/eddev.key
  if https "$W/$c.pem" "$key" >/dev/null 2>&1; then fail "nginx accepts the $c certificate"; fi
  if mqtt "$W/$c.pem" "$key" "$c"; then fail "mosquitto accepts the $c certificate"; fi
  echo "$c: refused by nginx and mosquitto"
done
if openssl verify -CAfile "$W/ca-b.pem" "$W/short.pem" 2>/dev/null; then fail "openssl accepts the expired certificate"; fi
if openssl verify -CAfile "$W/ca-b.pem" "$W/other.pem" 2>/dev/null; then fail "openssl accepts the other network's certificate"; fi

step "x509-e2e: ok"
