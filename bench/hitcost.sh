#!/usr/bin/env bash
# The cost of an answer from chainroute itself: one body repeated, chainroute's cache on and off in
# turn (on, off, on, off), SUT CPU (Envoy + chainroute) per request and throughput, for three bodies:
# eth_chainId (an identity answer), a receipt (a cache hit once stored) and eth_getBalance at latest
# (never answered by chainroute: the control, what the cache's presence costs a request it cannot
# answer). Prints a Markdown table. Uses what bench/run.sh built (bench/.build/bin, target/, .tools/).
#   bench/hitcost.sh [SECONDS]   (default 8 s per measurement, after as long a warm-up)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
B="$here/.build"
D="${1:-8}"
LOAD_CPU="${LOAD_CPU:-0}" SUT_CPU="${SUT_CPU:-1}"
for f in "$B/bin/upstream" "$B/bin/vegeta" "$root/target/chainroute.jar" "$root/.tools/bin/envoy"; do
  [[ -e "$f" ]] || { echo "missing $f: run bench/run.sh (or bench/cache.sh) first" >&2; exit 1; }
done
W="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
for i in 1 2 3; do
  taskset -c "$LOAD_CPU" "$B/bin/upstream" -addr "127.0.0.1:900$i" -name "n$i" $([[ $i == 3 ]] && echo -archive) >"$W/up$i.log" 2>&1 &
  pids+=($!)
done
sleep 1
ticks() { local s=0 p v; for p in "$@"; do v=$(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12+$13}'); s=$((s + v)); done; echo "$s"; }
hz=$(getconf CLK_TCK)
sed '/^    pathPrefix: \/eth/a\    cache: { enabled: false }' "$here/chainroute.yaml" >"$W/off.yaml"
cp "$here/chainroute.yaml" "$W/on.yaml"
declare -A bodies=(
  [identity]='{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}'
  [hit]='{"jsonrpc":"2.0","id":7,"method":"eth_getTransactionReceipt","params":["0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"]}'
  [control]='{"jsonrpc":"2.0","id":7,"method":"eth_getBalance","params":["0x000000000000000000000000000000000000beef","latest"]}'
)
echo "| body | cache | requests/s | SUT CPU µs/req (Envoy + chainroute) | Envoy's share µs/req | answered by |"
echo "|---|---|---|---|---|---|"
for kind in identity hit control; do
  body="${bodies[$kind]}"
  python3 -c 'import json,sys,base64;print(json.dumps({"method":"POST","url":"http://127.0.0.1:10000/eth","body":base64.b64encode(sys.argv[1].encode()).decode(),"header":{"Content-Type":["application/json"]}}))' "$body" >"$W/t.json"
  for mode in on off on off; do
    (cd "$root" && bin/chainroute bootstrap --config "$W/$mode.yaml" --node-id bench --out "$W/envoy.yaml" >/dev/null)
    taskset -c "$SUT_CPU" "$root/bin/chainroute" run --config "$W/$mode.yaml" >"$W/cr.log" 2>&1 &
    cr=$!
    for _ in $(seq 150); do curl -sf -m1 http://127.0.0.1:8081/readyz >/dev/null && break; sleep 0.2; done
    taskset -c "$SUT_CPU" "$root/.tools/bin/envoy" -c "$W/envoy.yaml" --concurrency 1 --disable-hot-restart -l warn >"$W/envoy.log" 2>&1 &
    ev=$!
    for _ in $(seq 150); do curl -sf -m1 -d "$body" http://127.0.0.1:10000/eth | grep -q result && break; sleep 0.2; done
    taskset -c "$LOAD_CPU" "$B/bin/vegeta" attack -format=json -targets="$W/t.json" -rate=0 -workers=64 -max-workers=64 -duration="${D}s" >/dev/null
    s0=$(ticks "$cr" "$ev"); e0=$(ticks "$ev")
    taskset -c "$LOAD_CPU" "$B/bin/vegeta" attack -format=json -targets="$W/t.json" -rate=0 -workers=64 -max-workers=64 -duration="${D}s" >"$W/r.bin"
    s1=$(ticks "$cr" "$ev"); e1=$(ticks "$ev")
    node=$(curl -s -D - -o /dev/null -d "$body" http://127.0.0.1:10000/eth | tr -d '\r' | awk -F': ' 'tolower($1)=="x-node"{print $2}')
    "$B/bin/vegeta" report -type=json "$W/r.bin" | python3 -c '
import json, sys
r = json.load(sys.stdin)
kind, mode, hz, s, e, node = sys.argv[1:7]
n = r["requests"]
print("| %s | %s | %.0f | %.1f | %.1f | %s |" % (kind, mode, r["throughput"] * r["success"], int(s) / int(hz) * 1e6 / n,
      int(e) / int(hz) * 1e6 / n, node or "chainroute"))' "$kind" "$mode" "$hz" $((s1 - s0)) $((e1 - e0)) "$node"
    kill "$ev" "$cr"; wait "$ev" "$cr" 2>/dev/null || true
  done
done
