#!/usr/bin/env bash
# The fast path, off against on, measured side by side: two Envoy + chainroute pairs run at the same
# time on the SUT core (A: envoy.fastPath false, the shipped default; B: true, on its own ports), both
# warmed up, then loaded in turn for short windows in the order A B B A A B ... so the host's speed
# drift (this shared VM's calibration loop moves by up to 2x within minutes) hits both alike and each
# pair of neighbouring windows compares them on the same host. An idle pair costs next to nothing
# (probes), so the other pair's presence does not skew a window. Load: bench/mix (vegeta, closed loop,
# 64 workers) from the load core with the three bench/upstream fakes. Per window: requests/s, Envoy's
# and the JVM's CPU µs per request (/proc), the share decided in Envoy (1 - ext_proc streams / requests).
# Prints the windows and a Markdown summary (medians of the per-pair ratios B/A). Uses what
# bench/run.sh built (bench/.build/bin, target/, .tools/). Ports: A 10400/9941/18400/18401/8481/8482,
# B 10500/9951/18500/18501/8581/8582, fakes 9401-9403.
#   bench/fastpath.sh [SECONDS_PER_WINDOW] [PAIRS] [WARMUP_SECONDS]   (default 8 s, 8 pairs, 40 s)
# To take the fast path apart: B_FASTPATH=0 leaves envoy.fastPath off in B's configuration, and
# B_ENVOY_EDIT=CMD runs `CMD FILE` on B's rendered bootstrap before Envoy starts (e.g. bench/lua-variant.py
# to put a fixed Lua filter in front of ext_proc).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
B="${BENCH_BUILD:-$here/.build}"
D="${1:-8}" P="${2:-8}" WARM="${3:-40}"
LOAD_CPU="${LOAD_CPU:-0}" SUT_CPU="${SUT_CPU:-1}"
for f in "$B/bin/upstream" "$B/bin/vegeta" "$root/target/chainroute.jar" "$root/.tools/bin/envoy"; do
  [[ -e "$f" ]] || { echo "missing $f: run bench/run.sh (or mvn package) first" >&2; exit 1; }
done
ports='10400|9941|18400|18401|8481|8482|10500|9951|18500|18501|8581|8582|940[123]'
if ss -ltn | grep -qE "127\.0\.0\.1:($ports) "; then echo "a port of this benchmark is taken (another run?)" >&2; exit 1; fi
W="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
for i in 1 2 3; do
  taskset -c "$LOAD_CPU" "$B/bin/upstream" -addr "127.0.0.1:940$i" -name "n$i" $([[ $i == 3 ]] && echo -archive) >"$W/up$i.log" 2>&1 &
  pids+=($!)
done
sleep 1
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12+$13}'; }
hz=$(getconf CLK_TCK)
declare -A LISTEN ADMIN HTTP EP JP
for s in A B; do
  n=$([[ $s == A ]] && echo 4 || echo 5)
  sed -e "s/xdsPort: 18000/xdsPort: 18${n}00/; s/extProcPort: 18001/extProcPort: 18${n}01/" \
    -e "s/adminHttpPort: 8081/adminHttpPort: 8${n}81/; s/adminGrpcPort: 8082/adminGrpcPort: 8${n}82/" \
    -e "s/listenerPort: 10000/listenerPort: 10${n}00/; s/adminPort: 9901/adminPort: 99${n}1/" \
    -e 's/127\.0\.0\.1:900\([123]\)/127.0.0.1:940\1/g' "$here/chainroute.yaml" >"$W/$s.yaml"
  [[ $s == B && "${B_FASTPATH:-1}" == 1 ]] && sed -i '/^envoy:/a\  fastPath: true' "$W/$s.yaml"
  for p in "18${n}00" "18${n}01" "8${n}81" "10${n}00" "99${n}1" 9401; do
    grep -q "$p" "$W/$s.yaml" || { echo "port $p not set in the config" >&2; exit 1; }
  done
  (cd "$root" && bin/chainroute bootstrap --config "$W/$s.yaml" --node-id bench --out "$W/$s.envoy.yaml" >/dev/null)
  LISTEN[$s]="http://127.0.0.1:10${n}00/eth" ADMIN[$s]="http://127.0.0.1:99${n}1" HTTP[$s]="http://127.0.0.1:8${n}81"
done
[[ -n "${B_ENVOY_EDIT:-}" ]] && $B_ENVOY_EDIT "$W/B.envoy.yaml"
grep -q 'envoy.filters.http.lua' "$W/B.envoy.yaml" || { echo "B's bootstrap has no Lua filter" >&2; exit 1; }
! grep -q 'envoy.filters.http.lua' "$W/A.envoy.yaml" || { echo "A's bootstrap has the fast path" >&2; exit 1; }
body='{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'
for s in A B; do
  taskset -c "$SUT_CPU" "$root/bin/chainroute" run --config "$W/$s.yaml" >"$W/$s.cr.log" 2>&1 &
  JP[$s]=$!; pids+=($!)
  for _ in $(seq 150); do curl -sf -m1 "${HTTP[$s]}/readyz" >/dev/null && break; sleep 0.2; done
  taskset -c "$SUT_CPU" "$root/.tools/bin/envoy" -c "$W/$s.envoy.yaml" --concurrency 1 --disable-hot-restart \
    -l warn >"$W/$s.envoy.log" 2>&1 &
  EP[$s]=$!; pids+=($!)
  for _ in $(seq 150); do curl -sf -m1 -d "$body" "${LISTEN[$s]}" | grep -q result && break; sleep 0.2; done
  kill -0 "${JP[$s]}" "${EP[$s]}" 2>/dev/null || { echo "chainroute or Envoy exited ($s):" >&2; tail -5 "$W/$s.cr.log" "$W/$s.envoy.log" >&2; exit 1; }
  python3 "$here/tool.py" targets "$W/$s.targets.json" "${LISTEN[$s]}"
done
attack() { # attack SYSTEM SECONDS [OUT]
  taskset -c "$LOAD_CPU" "$B/bin/vegeta" attack -format=json -targets="$W/$1.targets.json" -rate=0 -workers=64 \
    -max-workers=64 -duration="$2s" >"${3:-/dev/null}"
}
stat() { curl -sfG -m 2 --data-urlencode 'filter=^http\.rpc\.(downstream_rq_total|ext_proc\.streams_started)$' "${ADMIN[$1]}/stats" |
  awk '{v[$1]=$2} END {print (v["http.rpc.downstream_rq_total:"]+0), (v["http.rpc.ext_proc.streams_started:"]+0)}'; }
for s in A B; do attack "$s" "$WARM"; done
: >"$W/rows"
echo "| window | system | requests/s | Envoy CPU µs/req | JVM CPU µs/req | SUT CPU µs/req | decided in Envoy |"
echo "|---|---|---|---|---|---|---|"
k=0
for pair in $(seq "$P"); do
  order="A B"; ((pair % 2 == 0)) && order="B A"
  for s in $order; do
    k=$((k + 1))
    s0=$(stat "$s"); e0=$(ticks "${EP[$s]}"); j0=$(ticks "${JP[$s]}")
    attack "$s" "$D" "$W/r.bin"
    e1=$(ticks "${EP[$s]}"); j1=$(ticks "${JP[$s]}"); s1=$(stat "$s")
    "$B/bin/vegeta" report -type=json "$W/r.bin" | python3 -c '
import json, os, sys
r = json.load(sys.stdin)
k, s, pair, hz, e, j, s0, s1, rows = sys.argv[1:10]
(q0, x0), (q1, x1) = map(int, s0.split()), map(int, s1.split())
n = q1 - q0
ok = r["throughput"] * r["success"]
eu, ju = int(e) / int(hz) * 1e6 / n, int(j) / int(hz) * 1e6 / n
name = {"A": "A: fast path off", "B": "B: " + os.environ.get("B_NAME", "fast path on")}[s]
print("| %s | %s | %.0f | %.1f | %.1f | %.1f | %.1f%% |" % (k, name, ok, eu, ju, eu + ju, 100 * (1 - (x1 - x0) / n)))
with open(rows, "a") as f:
    f.write("%s %s %.1f %.2f %.2f\n" % (pair, s, ok, eu, ju))' "$k" "$s" "$pair" "$hz" $((e1 - e0)) $((j1 - j0)) "$s0" "$s1" "$W/rows"
  done
done
python3 - "$W/rows" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for pair, s, rps, eu, ju in rows:
    by.setdefault(pair, {})[s] = (float(rps), float(eu), float(ju))
ratios = {"throughput": [], "Envoy CPU/req": [], "JVM CPU/req": [], "SUT CPU/req": []}
for p in by.values():
    a, b = p["A"], p["B"]
    ratios["throughput"].append(b[0] / a[0])
    ratios["Envoy CPU/req"].append(b[1] / a[1])
    ratios["JVM CPU/req"].append(b[2] / a[2])
    ratios["SUT CPU/req"].append((b[1] + b[2]) / (a[1] + a[2]))
print()
print("| B / A over %d neighbouring pairs | median | min | max | pairs where B is better |" % len(by))
print("|---|---|---|---|---|")
for k, v in ratios.items():
    better = sum(1 for x in v if (x > 1 if k == "throughput" else x < 1))
    print("| %s | %.2f | %.2f | %.2f | %d of %d |" % (k, st.median(v), min(v), max(v), better, len(v)))
for s in "AB":
    v = [r for r in rows if r[1] == s]
    print("\n%s medians: %.0f req/s, Envoy %.1f µs/req, JVM %.1f µs/req" % (
        s, st.median(float(r[2]) for r in v), st.median(float(r[3]) for r in v), st.median(float(r[4]) for r in v)), end="")
print()
PY
