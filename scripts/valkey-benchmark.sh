#!/usr/bin/env bash
# Commands per second of a Valkey cluster `dosim serve` serves, against Debian's redis-server on the
# same machine in the same run, both in TLS with the bundled certificate, measured by redis-benchmark.
# Needs redis-tools and redis-server (scripts/test.sh installs them) and a release build of dosim.
set -euo pipefail
cd "$(dirname "$0")/.."
CERT=crates/dosim-base/src/tls/localhost.crt
KEY=crates/dosim-base/src/tls/localhost.key
REQUESTS=${REQUESTS:-50000}
TESTS=${TESTS:-set,get,incr,lpush,lpop}
work=$(mktemp -d)
cleanup() { kill "$dosim_pid" "$redis_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

./target/release/dosim serve --addr 127.0.0.1:0 --seed 1 >"$work/serve.log" 2>&1 &
dosim_pid=$!
for _ in $(seq 100); do grep -q "token: dop_v1_" "$work/serve.log" && break; sleep 0.1; done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)
token=$(grep -o 'dop_v1_[0-9a-f]*' "$work/serve.log" | head -1)
cluster=$(curl -s -X POST "$url/v2/databases" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"name":"bench","engine":"valkey","region":"nyc3","size":"db-s-1vcpu-1gb","num_nodes":1}')
port=$(echo "$cluster" | python3 -c 'import json,sys; print(json.load(sys.stdin)["database"]["connection"]["port"])')
password=$(echo "$cluster" | python3 -c 'import json,sys; print(json.load(sys.stdin)["database"]["connection"]["password"])')

redis_port=$((20000 + RANDOM % 20000))
redis-server --port 0 --tls-port "$redis_port" --tls-cert-file "$CERT" --tls-key-file "$KEY" \
  --tls-ca-cert-file "$CERT" --tls-auth-clients no --save '' --appendonly no --requirepass "$password" \
  --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
sleep 0.5

bench() {
  redis-benchmark --tls --cacert "$CERT" -h 127.0.0.1 -p "$1" --user default -a "$password" \
    -n "$REQUESTS" -c 20 -t "$TESTS" -q 2>/dev/null | tr '\r' '\n' | grep 'requests per second' || true
}
echo "dosim serve (port $port):"
bench "$port" | tee "$work/dosim.txt"
echo "redis-server $(redis-server --version | grep -o 'v=[0-9.]*') (port $redis_port):"
bench "$redis_port" | tee "$work/redis.txt"
