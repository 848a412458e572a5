#!/usr/bin/env bash
# The ext_proc link's transport: what a request costs when its ext_proc stream goes over TCP, over
# TCP with skip_envoy_headers (no x-envoy-* / x-forwarded-for on each stream), and over a Unix
# domain socket with skip_envoy_headers (server.extProcSocket). The variants run in turn (tcp,
# tcp+skip, uds+skip, tcp, ...) for several rounds so host drift hits each alike; each run starts
# chainroute and Envoy afresh, warms up, then measures a closed loop of 64 workers (vegeta) with
# eth_getBalance at latest (routed by chainroute, answered by a bench/upstream fake). SUT (Envoy +
# chainroute) pinned to one CPU, load and fakes to the other. Prints per-run rows, then a Markdown
# table: requests/s and SUT CPU µs/request, median and range. Uses what bench/run.sh built
# (bench/.build/bin, target/, .tools/; BENCH_BUILD=dir overrides bench/.build).
# Its ports are its own (listener 10200, Envoy admin 9921, chainroute 18200/18201/8281/8282, fakes
# 9201-9203), so it cannot talk to another benchmark's processes; still, run it alone (CPU).
#   bench/transport.sh [SECONDS] [ROUNDS]   (default 8 s per measurement after as long a warm-up,
#                                            5 rounds: about 6 minutes)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
B="${BENCH_BUILD:-$here/.build}"
D="${1:-8}"
R="${2:-5}"
LOAD_CPU="${LOAD_CPU:-0}" SUT_CPU="${SUT_CPU:-1}"
for f in "$B/bin/upstream" "$B/bin/vegeta" "$root/target/chainroute.jar" "$root/.tools/bin/envoy"; do
  [[ -e "$f" ]] || { echo "missing $f: run bench/run.sh (or mvn package) first" >&2; exit 1; }
done
if ss -ltn | grep -qE '127\.0\.0\.1:(10200|9921|18200|18201|8281|8282|920[123]) '; then
  echo "a port of this benchmark is taken (another run?): $(ss -ltn | grep -oE '127\.0\.0\.1:(10200|9921|18200|18201|8281|8282|920[123]) ' | paste -sd' ')" >&2
  exit 1
fi
W="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
for i in 1 2 3; do
  taskset -c "$LOAD_CPU" "$B/bin/upstream" -addr "127.0.0.1:920$i" -name "n$i" $([[ $i == 3 ]] && echo -archive) >"$W/up$i.log" 2>&1 &
  pids+=($!)
done
sleep 1
ticks() { local s=0 p v; for p in "$@"; do v=$(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12+$13}'); s=$((s + v)); done; echo "$s"; }
hz=$(getconf CLK_TCK)
# The SUT core's busy and total ticks (/proc/stat): busy minus the SUT's own is other load there.
core() { awk -v c="cpu$SUT_CPU" '$1==c{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
sed -e 's/xdsPort: 18000/xdsPort: 18200/; s/extProcPort: 18001/extProcPort: 18201/' \
  -e 's/adminHttpPort: 8081/adminHttpPort: 8281/; s/adminGrpcPort: 8082/adminGrpcPort: 8282/' \
  -e 's/listenerPort: 10000/listenerPort: 10200/; s/adminPort: 9901/adminPort: 9921/' \
  -e 's/127\.0\.0\.1:900\([123]\)/127.0.0.1:920\1/g' "$here/chainroute.yaml" >"$W/tcp.yaml"
for p in 18200 18201 8281 8282 10200 9921 9201; do grep -q "$p" "$W/tcp.yaml" || { echo "port $p not set in the config" >&2; exit 1; }; done
sed "/^  xdsCoalesce:/a\  extProcSocket: $W/extproc.sock" "$W/tcp.yaml" >"$W/uds.yaml"
(cd "$root" && bin/chainroute bootstrap --config "$W/tcp.yaml" --node-id bench --out "$W/tcp+skip.envoy.yaml" >/dev/null)
(cd "$root" && bin/chainroute bootstrap --config "$W/uds.yaml" --node-id bench --out "$W/uds+skip.envoy.yaml" >/dev/null)
# The pre-skip_envoy_headers bootstrap: the same file without that line.
sed '/skip_envoy_headers: true/d' "$W/tcp+skip.envoy.yaml" >"$W/tcp.envoy.yaml"
grep -q 'pipe:' "$W/uds+skip.envoy.yaml" || { echo "the uds bootstrap has no pipe address" >&2; exit 1; }
! grep -q skip_envoy_headers "$W/tcp.envoy.yaml" || { echo "tcp bootstrap still skips" >&2; exit 1; }
body='{"jsonrpc":"2.0","id":7,"method":"eth_getBalance","params":["0x000000000000000000000000000000000000beef","latest"]}'
python3 -c 'import json,sys,base64;print(json.dumps({"method":"POST","url":"http://127.0.0.1:10200/eth","body":base64.b64encode(sys.argv[1].encode()).decode(),"header":{"Content-Type":["application/json"]}}))' "$body" >"$W/t.json"
: >"$W/rows"
echo "| round | variant | requests/s | SUT CPU µs/req | ext_proc streams / request | failed open | other load on the SUT core |"
echo "|---|---|---|---|---|---|---|"
for round in $(seq "$R"); do
  for v in tcp tcp+skip uds+skip; do
    cfg="$W/${v%+skip}.yaml"
    taskset -c "$SUT_CPU" "$root/bin/chainroute" run --config "$cfg" >"$W/cr.log" 2>&1 &
    cr=$!
    for _ in $(seq 150); do curl -sf -m1 http://127.0.0.1:8281/readyz >/dev/null && break; sleep 0.2; done
    taskset -c "$SUT_CPU" "$root/.tools/bin/envoy" -c "$W/$v.envoy.yaml" --concurrency 1 --disable-hot-restart -l warn >"$W/envoy.log" 2>&1 &
    ev=$!
    for _ in $(seq 150); do curl -sf -m1 -d "$body" http://127.0.0.1:10200/eth | grep -q result && break; sleep 0.2; done
    kill -0 "$cr" "$ev" 2>/dev/null || { echo "chainroute or Envoy exited ($v):" >&2; tail -5 "$W/cr.log" "$W/envoy.log" >&2; exit 1; }
    taskset -c "$LOAD_CPU" "$B/bin/vegeta" attack -format=json -targets="$W/t.json" -rate=0 -workers=64 -max-workers=64 -duration="${D}s" >/dev/null
    st0=$(curl -s 'http://127.0.0.1:9921/stats?filter=http.rpc.ext_proc.(streams_started|failure_mode_allowed)$' | awk '{print $2}' | paste -sd' ')
    s0=$(ticks "$cr" "$ev"); c0=$(core)
    taskset -c "$LOAD_CPU" "$B/bin/vegeta" attack -format=json -targets="$W/t.json" -rate=0 -workers=64 -max-workers=64 -duration="${D}s" >"$W/r.bin"
    s1=$(ticks "$cr" "$ev"); c1=$(core)
    st1=$(curl -s 'http://127.0.0.1:9921/stats?filter=http.rpc.ext_proc.(streams_started|failure_mode_allowed)$' | awk '{print $2}' | paste -sd' ')
    "$B/bin/vegeta" report -type=json "$W/r.bin" | python3 -c '
import json, sys
r = json.load(sys.stdin)
rnd, v, hz, s, st0, st1, rows, c0, c1 = sys.argv[1:10]
b0, t0 = map(int, c0.split()); b1, t1 = map(int, c1.split())
other = max(0, (b1 - b0) - int(s)) / max(1, t1 - t0) * 100
n = r["requests"]
a0 = [int(x) for x in st0.split()] or [0, 0]
a1 = [int(x) for x in st1.split()] or [0, 0]
# stats sort by name: failure_mode_allowed, streams_started
failed, streams = a1[0] - a0[0], a1[1] - a0[1]
rps = r["throughput"] * r["success"]
us = int(s) / int(hz) * 1e6 / n
print("| %s | %s | %.0f | %.1f | %.2f | %d | %.0f%% |" % (rnd, v, rps, us, streams / n, failed, other))
with open(rows, "a") as f:
    f.write("%s %.1f %.2f\n" % (v, rps, us))' "$round" "$v" "$hz" $((s1 - s0)) "$st0" "$st1" "$W/rows" "$c0" "$c1"
    kill "$ev" "$cr"; wait "$ev" "$cr" 2>/dev/null || true
    rm -f "$W/extproc.sock"
  done
done
echo
echo "| variant | requests/s median (range) | SUT CPU µs/req median (range) | runs |"
echo "|---|---|---|---|"
python3 - "$W/rows" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    v, rps, us = line.split()
    rows.setdefault(v, []).append((float(rps), float(us)))
for v in ("tcp", "tcp+skip", "uds+skip"):
    x = rows.get(v, [])
    if not x:
        continue
    r = [a for a, _ in x]; u = [b for _, b in x]
    print("| %s | %.0f (%.0f–%.0f) | %.1f (%.1f–%.1f) | %d |" % (v, statistics.median(r), min(r), max(r),
          statistics.median(u), min(u), max(u), len(x)))
PY
