#!/usr/bin/env bash
# Overload: Envoy + chainroute driven at twice what they can serve, open loop, one variant after another.
#
#   bench/overload.sh                   about 2 minutes; writes bench/OVERLOAD.md
#
# For each variant: start chainroute and Envoy (from `chainroute bootstrap`) pinned to the SUT core, warm up,
# measure the closed-loop maximum (c=64), then send 2x that rate open loop (vegeta: requests leave on the
# clock whatever the answers do) for OVER_DUR seconds with a client timeout of 10 s. Reported per variant:
# the share answered 200, the latency of the answered requests (p50/p99/max), what the rest got (status
# codes, JSON-RPC codes, client timeouts), and Envoy's ext_proc counters (requests that skipped routing).
# Variants (VARIANTS="..."): default = the rendered defaults (extProcMaxRequests 4096, no rate limit);
# rl = capacity measured with the limit off, then Envoy restarted with envoy.maxRequestsPerSecond =
# RL_SHARE % (75) of that capacity (rejections cost CPU too: a limit at capacity leaves none for them);
# rlN = N % of it (rl100: the limit at capacity); unbounded = envoy.extProcMaxRequests 100000 (the old default); capN =
# envoy.extProcMaxRequests N. Before the overload each variant runs 5 s at a tenth of capacity (unloaded
# latency). Uses what bench/run.sh builds (bench/.build/bin) and builds it if missing.
# Knobs: RL_SHARE=75 OVER_DUR=15 WARM=10 LOAD_CPU=0 SUT_CPU=1 FACTOR=2 VARIANTS="default rl"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
B="$here/.build"
R="$B/overload"
export PATH="/usr/local/go/bin:$PATH"
RL_SHARE="${RL_SHARE:-75}"
OVER_DUR="${OVER_DUR:-15}" WARM="${WARM:-10}" LOAD_CPU="${LOAD_CPU:-0}" SUT_CPU="${SUT_CPU:-1}" FACTOR="${FACTOR:-2}"
VARIANTS="${VARIANTS:-default rl}"
OUT="${OUT:-$here/OVERLOAD.md}"
ENVOY="$root/.tools/bin/envoy"
VEGETA="$B/bin/vegeta"
ADMIN=http://127.0.0.1:9901
LB=http://127.0.0.1:10000/eth
log() { printf '[overload %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

PIDS=()
start() { local name="$1" cpu="$2"; shift 2; taskset -c "$cpu" "$@" >"$R/$name.log" 2>&1 & LAST_PID=$!; PIDS+=("$LAST_PID"); }
stop() { local p; for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap 'trap - EXIT INT TERM; [[ ${#PIDS[@]} -gt 0 ]] && stop "${PIDS[@]}"' EXIT INT TERM
wait_for() { local t="$1" what="$2"; shift 2; for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; log "timed out: $what"; return 1; }
rpc_ok() { curl -sf -m 2 -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$1" | grep -q '"result"'; }
tw_wait() { local t=0; while (($(ss -Htan state time-wait | wc -l) > 2000 && t < 65)); do sleep 1; t=$((t + 1)); done; }

mkdir -p "$B/bin"; rm -rf "$R"; mkdir -p "$R"
"$root/.ci/install-tools" >"$R/install-tools.log" 2>&1
if [[ ! -f "$root/target/chainroute.jar" ]] || [[ -n "$(find "$root/src/main" "$root/pom.xml" -newer "$root/target/chainroute.jar" -print -quit)" ]]; then
  (cd "$root" && mvn -B -q package -DskipTests)
fi
[[ -x "$B/bin/upstream" ]] || (cd "$here" && go build -o "$B/bin/upstream" ./upstream)
[[ -x "$VEGETA" ]] || GOBIN="$B/bin" go install "github.com/tsenart/vegeta/v12@v12.13.0"
python3 "$here/mix/gen.py" >/dev/null

ports=(9001 9002 9003); names=(full-1 full-2 archive-1); UP=()
for i in 0 1 2; do
  extra=(); [[ ${names[$i]} == archive-1 ]] && extra=(-archive)
  start "upstream-${names[$i]}" "$LOAD_CPU" "$B/bin/upstream" -addr "127.0.0.1:${ports[$i]}" -name "${names[$i]}" "${extra[@]}"; UP+=("$LAST_PID")
done
for p in "${ports[@]}"; do wait_for 10 "upstream :$p" rpc_ok "http://127.0.0.1:$p/"; done
python3 "$here/tool.py" targets "$R/targets.json" "$LB"

# One Envoy for the variant's bootstrap; sets EV.
start_envoy() { start "envoy-$1" "$SUT_CPU" "$ENVOY" -c "$2" --concurrency 1 --disable-hot-restart -l warn; EV=$LAST_PID; wait_for 20 "Envoy" rpc_ok "$LB"; }
closed_loop() { # closed-loop maximum at c=64 -> $R/$1-capacity
  taskset -c "$LOAD_CPU" "$VEGETA" attack -format=json -targets="$R/targets.json" -rate=0 -workers=64 -max-workers=64 -duration="${WARM}s" >/dev/null
  tw_wait
  taskset -c "$LOAD_CPU" "$VEGETA" attack -format=json -targets="$R/targets.json" -rate=0 -workers=64 -max-workers=64 -duration=5s -timeout=10s >"$R/$1-closed.bin"
  "$VEGETA" report -type=json "$R/$1-closed.bin" >"$R/$1-closed.json"
  python3 -c "import json;r=json.load(open('$R/$1-closed.json'));print(int(r['throughput']))" >"$R/$1-capacity"
  tw_wait
}

for v in $VARIANTS; do
  log "=== $v"
  cfg="$R/chainroute-$v.yaml"
  limit=""
  case "$v" in
    default) cp "$here/chainroute.yaml" "$cfg" ;;
    unbounded) sed '/^envoy:/a\  extProcMaxRequests: 100000' "$here/chainroute.yaml" >"$cfg" ;;
    cap*) sed "/^envoy:/a\  extProcMaxRequests: ${v#cap}" "$here/chainroute.yaml" >"$cfg" ;;
    rl) limit="$RL_SHARE"; cp "$here/chainroute.yaml" "$cfg" ;;
    rl[0-9]*) limit="${v#rl}"; cp "$here/chainroute.yaml" "$cfg" ;;
    *) log "unknown variant $v"; exit 2 ;;
  esac
  (cd "$root" && bin/chainroute bootstrap --config "$cfg" --node-id bench --out "$R/envoy-$v.yaml")
  start "chainroute-$v" "$SUT_CPU" "$root/bin/chainroute" run --config "$cfg"; CR=$LAST_PID
  wait_for 30 "chainroute /readyz" curl -sf -m 1 http://127.0.0.1:8081/readyz
  start_envoy "$v" "$R/envoy-$v.yaml"
  closed_loop "$v"
  cap=$(cat "$R/$v-capacity")
  rate=$((cap * FACTOR))
  if [[ -n "$limit" ]]; then
    # rl: the capacity just measured with the limit off (the default bootstrap), times limit %, becomes
    # envoy.maxRequestsPerSecond; Envoy restarts with it against the same chainroute.
    rps=$((cap * limit / 100))
    sed "/^envoy:/a\  maxRequestsPerSecond: $rps" "$cfg" >"$cfg.limited"
    (cd "$root" && bin/chainroute bootstrap --config "$cfg.limited" --node-id bench --out "$R/envoy-$v.yaml")
    stop "$EV"
    start_envoy "$v" "$R/envoy-$v.yaml"
    echo "$rps" >"$R/$v-limit"
    log "$v: capacity $cap req/s with the limit off; envoy.maxRequestsPerSecond $rps"
  fi
  # Unloaded latency: a tenth of capacity for 5 s.
  taskset -c "$LOAD_CPU" "$VEGETA" attack -format=json -targets="$R/targets.json" -rate="$((cap / 10 > 0 ? cap / 10 : 1))/1s" -workers=16 \
    -duration=5s -timeout=10s >"$R/$v-light.bin"
  "$VEGETA" encode -to=csv "$R/$v-light.bin" >"$R/$v-light.csv"
  sleep 1
  log "$v: closed-loop maximum $cap req/s; open loop at $rate req/s for ${OVER_DUR}s"
  curl -sf "$ADMIN/reset_counters" -X POST >/dev/null || true
  taskset -c "$LOAD_CPU" "$VEGETA" attack -format=json -targets="$R/targets.json" -rate="$rate/1s" -workers=64 \
    -max-connections=512 -duration="${OVER_DUR}s" -timeout=10s >"$R/$v-over.bin"
  "$VEGETA" encode -to=csv "$R/$v-over.bin" >"$R/$v-over.csv"
  curl -sf "$ADMIN/stats" >"$R/$v-envoy-stats.txt" || true
  stop "$EV" "$CR"
  tw_wait
done
stop "${UP[@]}"

python3 - "$R" "$OUT" "$VARIANTS" "$FACTOR" "$OVER_DUR" "$RL_SHARE" <<'PY'
import base64, csv, json, os, re, sys
raw, out, variants, factor, dur, rlshare = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4], int(sys.argv[5]), sys.argv[6]
def pct(xs, p):
    if not xs: return float("nan")
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1)); return xs[k]
def stat(text, name):
    m = re.search(r"^%s: (\d+)$" % re.escape(name), text, re.M); return int(m.group(1)) if m else 0
def read(path):
    ok, refused, kinds, n, slowest = [], [], {}, 0, 0.0
    with open(path, newline="") as f:
        for row in csv.reader(f):
            n += 1
            code, ms = row[1], int(row[2]) / 1e6
            slowest = max(slowest, ms)
            body = base64.b64decode(row[6]) if len(row) > 6 and row[6] else b""
            if code == "200" and b'"result"' in body:
                ok.append(ms); continue
            m = re.search(rb'"code":\s*(-?\d+)', body)
            if code == "429" and m and m.group(1) == b"-32005":
                refused.append(ms)
            key = ("HTTP %s" % code if code != "0" else "client timeout/error") + (" %s" % m.group(1).decode() if m else "")
            kinds[key] = kinds.get(key, 0) + 1
    ok.sort(); refused.sort()
    return ok, refused, kinds, n, slowest
rows = []
for v in variants:
    ok, refused, kinds, n, slowest = read(os.path.join(raw, v + "-over.csv"))
    light = read(os.path.join(raw, v + "-light.csv"))[0]
    sp = os.path.join(raw, v + "-envoy-stats.txt")
    st = open(sp).read() if os.path.exists(sp) else ""
    lp = os.path.join(raw, v + "-limit")
    rows.append(dict(v=v, cap=int(open(os.path.join(raw, v + "-capacity")).read()), limit=open(lp).read().strip() if os.path.exists(lp) else "off",
                     light="%.1f / %.1f" % (pct(light, 50), pct(light, 99)), n=n, ok=len(ok), okps=len(ok) / dur,
                     p50=pct(ok, 50), p99=pct(ok, 99), mx=ok[-1] if ok else float("nan"),
                     rej=len(refused), rej99=("%.1f" % pct(refused, 99)) if refused else "–", slowest=slowest,
                     rest=", ".join("%s: %d" % kv for kv in sorted(kinds.items(), key=lambda kv: -kv[1])) or "none",
                     fo=stat(st, "http.rpc.ext_proc.failure_mode_allowed"), ov=stat(st, "cluster.chainroute_extproc.upstream_rq_pending_overflow"),
                     rl=stat(st, "chainroute_rate_limit.http_local_rate_limit.rate_limited"),
                     es=stat(st, "http.rpc.ext_proc.streams_started")))
with open(out, "w") as f:
    f.write("# Overload: Envoy + chainroute at %sx capacity\n\nWritten by `bench/overload.sh`. Each variant: closed-loop maximum at c=64 (capacity), "
            "5 s at a tenth of it open loop (unloaded latency), then %sx capacity open loop for %d s (vegeta, client timeout 10 s, at most 512 "
            "connections). Envoy (one worker) and chainroute share one core; the load generator and the three fake upstreams the other. "
            "`rlN` measures capacity with the limit off, then restarts Envoy with `envoy.maxRequestsPerSecond` = N %% of that capacity (`rl`: %s %%).\n\n" % (factor, factor, dur, rlshare))
    f.write("| variant | capacity req/s | limit req/s | unloaded p50 / p99 ms | sent | answered 200 | answered per s of sending | p50 of answered ms | p99 ms | max ms | "
            "refused 429 -32005 | p99 of refused ms | slowest reply ms | the rest got | failed open (no routing) | ext_proc overflows | ext_proc streams |\n")
    f.write("|" + "---|" * 17 + "\n")
    for r in rows:
        f.write("| {v} | {cap} | {limit} | {light} | {n} | {ok} ({okpct:.1f}%) | {okps:.0f} | {p50:.1f} | {p99:.1f} | {mx:.1f} | {rej} | {rej99} | {slowest:.1f} | {rest} | {fo} | {ov} | {es} |\n"
                .format(okpct=100.0 * r["ok"] / max(1, r["n"]), **r))
print(open(out).read())
PY
