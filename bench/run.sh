#!/usr/bin/env bash
# chainroute benchmark: one command. Builds what it needs (into .tools/ and bench/.build/), runs every
# system under test against the same three fake upstreams with the same request mix, and writes
# bench/RESULTS.md. Loopback only; every process it starts is killed on exit.
#
#   bench/run.sh              full run, about 60 minutes with the peers (9 systems x 3 rounds, twice: closed
#                             loop, then open loop; estimate from the per-round times, not yet timed end to end)
#   QUICK=1 bench/run.sh      about 15 minutes (shorter runs and warm-ups, 2 rounds, fewer head samples, no JMH)
#
# How: REPS rounds; each round starts every system in turn (SYSTEMS order), warms it up, runs one closed-loop
# run per concurrency and stops it, so the host's speed drift hits every system alike. Then the open-loop
# rates come from those medians: "common" = 50% of the slowest system's best (the upstreams direct left
# out), "open10" = 10% of plain Envoy's best; and REPS more rounds (start, warm up, both open-loop points,
# stop). Envoy's admin counters before and after every run give the share of the mix decided in Envoy
# (1 - ext_proc streams / requests). The mix check runs once per system (first round); chainroute's RSS
# and the head -> Envoy probe once (chainroute's first round).
#
# Knobs: SYSTEMS="plain direct json floor chainroute fastpath nometrics erpc proxyd" ("fastpath": chainroute with
#        envoy.fastPath: true; "nometrics": chainroute with server.metrics: false, for what the metrics cost;
#        add "capped" for chainroute with envoy.extProcMaxRequests: 256, the overload setting, and "nocache"
#        for chainroute with the chain's cache off (no answers from chainroute, every call to a node); neither
#        is in the default set). plain is required (the baseline).
#        MIX=bodies|public (the request mix, bench/mix/<MIX>.jsonl; "public": a public endpoint's
#        mix of identity calls, receipts and final blocks, see bench/mix/gen.py)
#        CONCS="16 64 256"  LOAD_CPU=0 SUT_CPU=1
#        DUR=10 (s per closed-loop run)  REPS=3 (rounds)  OPEN_DUR=15 (s per open-loop run)
#        WARM=30 (s of load per round before measuring, JVM systems)  WARM_NATIVE=10 (the others; at most WARM)
#        HEAD_CYCLES=10  QUIET_BUDGET=240 (s of waiting for a quiet machine over the whole run)
#        RESUME=1 (keep bench/.build/raw and skip the rounds already done, e.g. after an interrupted run)
#        TOOLS=0 (skip .ci/install-tools when Envoy is already in .tools/)
#        ERPC_BIN=path PROXYD_BIN=path (the peers' binaries; default: built by ../shared/peers/build.sh,
#        else go install from the module proxy)
#        OPEN_CONNS=512 (open loop: vegeta's connections per target host)
#        JMH=0|1  PROFILE=1 (JFR recording of chainroute into bench/.build/<system>.jfr, the last round's)
#        RESULTS=path (default bench/RESULTS.md)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
B="$here/.build"
R="$B/raw"
LOGS="$B/logs"
export PATH="/usr/local/go/bin:$PATH"
QUICK="${QUICK:-0}"
if [[ "$QUICK" == 1 ]]; then
  DUR="${DUR:-3}" REPS="${REPS:-2}" OPEN_DUR="${OPEN_DUR:-5}" WARM="${WARM:-10}" WARM_NATIVE="${WARM_NATIVE:-3}"
  HEAD_CYCLES="${HEAD_CYCLES:-5}" JMH="${JMH:-0}"
else
  DUR="${DUR:-10}" REPS="${REPS:-3}" OPEN_DUR="${OPEN_DUR:-15}" WARM="${WARM:-30}" HEAD_CYCLES="${HEAD_CYCLES:-10}" JMH="${JMH:-1}"
fi
WARM_NATIVE="${WARM_NATIVE:-$((WARM < 10 ? WARM : 10))}"
CONCS="${CONCS:-16 64 256}"
SYSTEMS="${SYSTEMS:-plain direct json floor chainroute fastpath nometrics erpc proxyd}"
LOAD_CPU="${LOAD_CPU:-0}"
SUT_CPU="${SUT_CPU:-1}"
OPEN_CONNS="${OPEN_CONNS:-512}" # open loop: vegeta's connections per target host; past them requests wait (timed)
RESULTS="${RESULTS:-$here/RESULTS.md}"
VEGETA_VERSION="v12.13.0"
# @latest, like proxyd: bench/erpc/erpc.yaml follows eRPC's current docs (failsafe as a list), which an old pin
# would not read; pin the version the first successful build resolves (go version -m bench/.build/bin/erpc)
ERPC_MODULE="github.com/erpc/erpc/cmd/erpc@latest"
PROXYD_MODULE="github.com/ethereum-optimism/infra/proxyd/cmd/proxyd@latest"

ENVOY="$root/.tools/bin/envoy"
VEGETA="$B/bin/vegeta"
UPSTREAMS=(9001 9002 9003)
ADMIN=http://127.0.0.1:9901

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# ------------------------------------------------------------------------------------- processes
ALL_PIDS=()
LAST_PID=
start() { # start NAME CPU CMD...: runs CMD pinned to CPU, logs to $LOGS/NAME.log, sets LAST_PID
  local name="$1" cpu="$2"; shift 2
  taskset -c "$cpu" "$@" >"$LOGS/$name.log" 2>&1 &
  LAST_PID=$!
  ALL_PIDS+=("$LAST_PID")
}
stop() { # stop PID...: TERM, wait up to 10 s, then KILL
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ ${#ALL_PIDS[@]} -gt 0 ]] && stop "${ALL_PIDS[@]}"
  exit "$rc"
}
trap cleanup EXIT INT TERM

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
  local t="$1" what="$2"; shift 2
  for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "timed out waiting for $what"; return 1
}
ticks() { # ticks PID...: utime+stime (clock ticks) summed over the processes
  local p s=0 v
  for p in "$@"; do v=$(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}'); s=$((s + v)); done
  echo "$s"
}
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }   # all CPUs, ticks
kids() { sed 's/^.*) //' "/proc/$$/stat" | awk '{print $14 + $15}'; }  # waited-for children's ticks
QUIET_LEFT="${QUIET_BUDGET:-240}"  # seconds of waiting for a quiet machine, over the whole run
quiet() { # wait (up to 30 s, within the budget) until other load is under a quarter of a core for 1 s
  local b0 b1 hz t=0 tw; hz=$(getconf CLK_TCK)
  # and for the sockets an overloaded run left in TIME_WAIT (they live 60 s): with tens of thousands of them
  # every connect() searches the ephemeral port range in the kernel and the next run measures that instead
  tw=$(ss -Htan state time-wait | wc -l)
  if ((tw > 2000)); then
    log "$tw sockets in TIME_WAIT from the previous run; waiting for them to expire (at most 65 s)"
    while ((tw > 2000 && t < 65)); do sleep 1; t=$((t + 1)); tw=$(ss -Htan state time-wait | wc -l); done
    t=0
  fi
  while ((t < 30 && QUIET_LEFT > 0)); do
    b0=$(busy); sleep 1; b1=$(busy)
    (((b1 - b0) * 4 < hz)) && return 0
    ((t == 0)) && log "machine busy ($(((b1 - b0) * 100 / hz))% of a core from other processes); waiting (budget ${QUIET_LEFT} s)"
    t=$((t + 1)); QUIET_LEFT=$((QUIET_LEFT - 1))
  done
}
up_calls() { # JSON-RPC calls the three upstreams have answered since they started
  local p s=0 v
  for p in "${UPSTREAMS[@]}"; do v=$(curl -sf -m 2 "http://127.0.0.1:$p/control/calls" | awk '{print $2}'); s=$((s + ${v:-0})); done
  echo "$s"
}
rpc_ok() { curl -sf -m 2 -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$1" | grep -q '"result"'; }

# ------------------------------------------------------------------------------------------ build
mkdir -p "$B/bin" "$LOGS"
[[ "${RESUME:-0}" == 1 ]] || rm -rf "$R"
mkdir -p "$R"
log "building (tools, chainroute jar, upstream, head probe, vegeta, eRPC, proxyd)"
if [[ "${TOOLS:-1}" != 0 ]]; then
  "$root/.ci/install-tools" >"$LOGS/install-tools.log" 2>&1 || { cat "$LOGS/install-tools.log"; exit 1; }
fi
if [[ ! -f "$root/target/chainroute.jar" ]] || [[ -n "$(find "$root/src/main" "$root/pom.xml" -newer "$root/target/chainroute.jar" -print -quit)" ]]; then
  (cd "$root" && mvn -B -q package -DskipTests)
fi
(cd "$here" && go build -o "$B/bin/upstream" ./upstream && go build -o "$B/bin/headprobe" ./headprobe && go build -o "$B/bin/nullproc" ./nullproc)
[[ -x "$VEGETA" ]] || GOBIN="$B/bin" go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
export MIX="${MIX:-bodies}"
python3 "$here/mix/gen.py" $([[ $MIX == public ]] && echo public) >/dev/null
# The peers: ERPC_BIN / PROXYD_BIN when given; else the source snapshots' build script beside the
# checkout (../shared/peers/build.sh: eRPC 0.1.2, proxyd c367a36), else `go install` from the module proxy.
PEERS_BUILD="${PEERS_BUILD:-}"
if [[ -z "$PEERS_BUILD" ]]; then
  for c in "$root/../shared/peers/build.sh" /work/shared/peers/build.sh; do [[ -x "$c" ]] && { PEERS_BUILD="$c"; break; }; done
fi
for sys in erpc proxyd; do
  [[ " $SYSTEMS " == *" $sys "* ]] || continue
  given=$([[ $sys == erpc ]] && echo "${ERPC_BIN:-}" || echo "${PROXYD_BIN:-}")
  if [[ -n "$given" ]]; then
    ln -sf "$given" "$B/bin/$sys"; echo "given: $given" >"$R/$sys-build.cmd"; continue
  fi
  [[ -x "$B/bin/$sys" ]] && continue
  if [[ -n "$PEERS_BUILD" ]]; then
    echo "$PEERS_BUILD bench/.build/bin" >"$R/$sys-build.cmd"
    timeout 900 "$PEERS_BUILD" "$B/bin" >"$R/$sys-build.log" 2>&1 || true
  fi
  if [[ ! -x "$B/bin/$sys" ]]; then
    mod=$([[ $sys == erpc ]] && echo "$ERPC_MODULE" || echo "$PROXYD_MODULE")
    echo "GOBIN=bench/.build/bin go install $mod" >"$R/$sys-build.cmd"
    if ! GOBIN="$B/bin" timeout 900 go install "$mod" >>"$R/$sys-build.log" 2>&1; then
      log "$sys could not be built (recorded in RESULTS.md); going on without it"
      SYSTEMS="${SYSTEMS/$sys/}"
    fi
  fi
done

# ---------------------------------------------------------------------------------- environment
cat >"$R/env.json" <<JSON
{"date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "quick": $([[ $QUICK == 1 ]] && echo true || echo false),
 "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)", "cores": $(nproc), "kernel": "Linux $(uname -r)",
 "envoy": "$("$ENVOY" --version | grep -o '1\.[0-9]*\.[0-9]*' | head -1)", "java": "$(java -version 2>&1 | head -1 | tr -d '"')",
 "go": "$(go env GOVERSION)", "vegeta": "$VEGETA_VERSION", "clk_tck": $(getconf CLK_TCK),
 "load_cpu": "$LOAD_CPU", "sut_cpu": "$SUT_CPU", "mix": "$MIX", "systems": "$SYSTEMS", "rounds": true, "dur": $DUR, "reps": $REPS, "warm": $WARM, "warm_native": $WARM_NATIVE, "open_dur": $OPEN_DUR, "open_conns": $OPEN_CONNS, "concs": "$CONCS"}
JSON

# ------------------------------------------------------------------------------------- upstreams
UP_PIDS=()
names=(full-1 full-2 archive-1)
for i in 0 1 2; do
  extra=(); [[ ${names[$i]} == archive-1 ]] && extra=(-archive)
  start "upstream-${names[$i]}" "$LOAD_CPU" "$B/bin/upstream" -addr "127.0.0.1:${UPSTREAMS[$i]}" -name "${names[$i]}" "${extra[@]}"
  UP_PIDS+=("$LAST_PID")
done
for p in "${UPSTREAMS[@]}"; do wait_for 10 "upstream :$p" rpc_ok "http://127.0.0.1:$p/"; done

# ------------------------------------------------------------------------------------ measuring
# Envoy's count of downstream requests and of the routing ext_proc filter's streams so far: "RQ STREAMS"
# ("null" for a counter the bootstrap has not got: no ext_proc filter). The capture filter counts under its
# own prefix (http.rpc.ext_proc.capture.*) and is left out. Only what goes to ext_proc opens a stream, so
# 1 - Δstreams/Δrequests over a run is the share of the mix decided in Envoy (fast path, or no processor).
envoy_stats() {
  curl -sfG -m 2 --data-urlencode 'filter=^http\.rpc\.(downstream_rq_total|ext_proc\.streams_started)$' "$ADMIN/stats" |
    awk '$1 == "http.rpc.downstream_rq_total:" {rq = $2} $1 == "http.rpc.ext_proc.streams_started:" {st = $2}
         END {printf "%s %s\n", (rq == "" ? "null" : rq), (st == "" ? "null" : st)}'
}
ENVOY_PID=
envoy_json() { # envoy_json "RQ0 ST0" "RQ1 ST1": the deltas as JSON members (empty when the SUT has no Envoy)
  [[ -n "$ENVOY_PID" ]] || return 0
  python3 - "$1" "$2" <<'PY'
import sys
a, b = sys.argv[1].split(), sys.argv[2].split()
d = lambda i: "null" if "null" in (a[i], b[i]) else str(int(b[i]) - int(a[i]))
print(', "envoy_rq": %s, "envoy_extproc_streams": %s' % (d(0), d(1)), end="")
PY
}
closed() { # closed NAME CONC REP TARGETS SUT_PIDS...
  local name="$1" c="$2" r="$3" tg="$4"; shift 4
  local out="$R/$name-c$c-r$r" s0 s1 u0 u1 e0= e1=
  quiet
  [[ -n "$ENVOY_PID" ]] && e0=$(envoy_stats)
  s0=$(ticks "$@"); u0=$(ticks "${UP_PIDS[@]}"); m0=$(busy); k0=$(kids); c0=$(up_calls)
  taskset -c "$LOAD_CPU" "$VEGETA" attack -format=json -targets="$tg" -rate=0 -workers="$c" -max-workers="$c" \
    -duration="${DUR}s" -timeout=10s >"$out.bin"
  s1=$(ticks "$@"); u1=$(ticks "${UP_PIDS[@]}"); m1=$(busy); k1=$(kids); c1=$(up_calls)
  [[ -n "$ENVOY_PID" ]] && e1=$(envoy_stats)
  echo "{\"sut_ticks\": $((s1 - s0)), \"up_ticks\": $((u1 - u0)), \"load_ticks\": $((k1 - k0)), \"machine_ticks\": $((m1 - m0)), \"up_calls\": $((c1 - c0))$(envoy_json "$e0" "$e1")}" >"$out.cpu.json"
  "$VEGETA" report -type=json "$out.bin" >"$out.json"
  rm -f "$out.bin"
  log "$name c=$c #$r: $(python3 -c "
import json
r = json.load(open('$out.json')); t = json.load(open('$out.cpu.json'))
s = '%.0f req/s ok, success %.4f, p99 %.2f ms' % (r['throughput'], r['success'], r['latencies']['99th'] / 1e6)
if t.get('envoy_rq') and t.get('envoy_extproc_streams') is not None:
    s += ', decided in Envoy %.1f%%' % (100 * (1 - t['envoy_extproc_streams'] / t['envoy_rq']))
print(s)")"
}
open_loop() { # open_loop NAME REP TARGETS KIND SUT_PIDS...  (KIND: common = 50% of the slowest system's best, open10 = 10% of plain's)
  local name="$1" r="$2" tg="$3" kind="$4"; shift 4
  local out="$R/$name-$kind-r$r" rate s0 s1 u0 u1 e0= e1=
  rate=$(cat "$R/${kind}_rate")
  quiet
  [[ -n "$ENVOY_PID" ]] && e0=$(envoy_stats)
  s0=$(ticks "$@"); u0=$(ticks "${UP_PIDS[@]}"); m0=$(busy); k0=$(kids)
  taskset -c "$LOAD_CPU" "$VEGETA" attack -format=json -targets="$tg" -rate="$rate/1s" -workers=32 \
    -max-connections="$OPEN_CONNS" -duration="${OPEN_DUR}s" -timeout=10s >"$out.bin"
  s1=$(ticks "$@"); u1=$(ticks "${UP_PIDS[@]}"); m1=$(busy); k1=$(kids)
  [[ -n "$ENVOY_PID" ]] && e1=$(envoy_stats)
  echo "{\"sut_ticks\": $((s1 - s0)), \"up_ticks\": $((u1 - u0)), \"load_ticks\": $((k1 - k0)), \"machine_ticks\": $((m1 - m0))$(envoy_json "$e0" "$e1")}" >"$out.cpu.json"
  "$VEGETA" report -type=json "$out.bin" >"$out.json"
  "$VEGETA" encode -to=csv "$out.bin" | python3 "$here/tool.py" latency /dev/stdin >"$out.lat.json"
  rm -f "$out.bin"
  log "$name $kind $rate/s #$r: $(cat "$out.lat.json")"
}
calib() { # calib NAME WHEN: ms a fixed CPU-bound loop takes on the SUT's core, best of 5: the machine's speed now.
  # The host's speed drifts over minutes (a shared VM); the rounds spread that over every system alike, and the
  # report shows this per system to tell a real difference from a slower machine.
  taskset -c "$SUT_CPU" python3 -c '
import time
best = 1e9
for _ in range(5):
    t = time.perf_counter(); s = 0
    for i in range(1000000): s += i * i
    best = min(best, time.perf_counter() - t)
print("%.1f" % (best * 1e3))' >"$R/$1-calib-$2"
}
envoy_up() { [[ "$(curl -sf -m 1 "$ADMIN/ready")" == LIVE ]]; }
start_envoy() { # start_envoy NAME CONFIG
  start "envoy-$1" "$SUT_CPU" "$ENVOY" -c "$2" --concurrency 1 --disable-hot-restart -l warn
  ENVOY_PID=$LAST_PID
  wait_for 20 "Envoy ($1)" envoy_up
}
LB=http://127.0.0.1:10000/eth
jvm() { [[ " chainroute fastpath capped nometrics nocache " == *" $1 "* ]]; }

# sys_up SYS: start SYS (pinned to SUT_CPU) and wait until it answers; sets URLS (comma-separated), SUT (the
# processes whose CPU counts), ENVOY_PID and CR_PID (empty when absent) and STOP (what sys_down stops).
# Fails (after keeping the end of the log in $R/SYS-start.log) when it does not answer.
sys_up() {
  local sys="$1" cfg jopts
  SUT=() STOP=() ENVOY_PID= CR_PID=
  case "$sys" in
    direct)
      URLS="http://127.0.0.1:9001/,http://127.0.0.1:9002/,http://127.0.0.1:9003/"; SUT=("${UP_PIDS[@]}") ;;
    plain | json)
      cfg="$here/envoy/plain.yaml"; [[ $sys == json ]] && cfg="$here/envoy/json-to-metadata.yaml"
      start_envoy "$sys" "$cfg"; SUT=("$ENVOY_PID"); STOP=("$ENVOY_PID"); URLS=$LB
      wait_for 10 "route through Envoy" rpc_ok "$LB" ;;
    floor)
      start nullproc "$SUT_CPU" "$B/bin/nullproc" -addr 127.0.0.1:18101
      SUT=("$LAST_PID"); STOP=("$LAST_PID")
      start_envoy floor "$here/envoy/extproc-floor.yaml"; SUT+=("$ENVOY_PID"); STOP=("$ENVOY_PID" "${STOP[@]}"); URLS=$LB
      wait_for 10 "route through Envoy + nullproc" rpc_ok "$LB" ;;
    chainroute | fastpath | capped | nometrics | nocache)
      # fastpath: the same, with envoy.fastPath: true (head reads routed in Envoy by the Lua filter, no ext_proc)
      # capped: the same, with envoy.extProcMaxRequests 256 (requests past it fail open; see notes)
      # nometrics: the same, with server.metrics: false (no /metrics, no series kept)
      # nocache: the same, with the chain's cache off (chainroute answers nothing itself)
      cfg="$here/chainroute.yaml"
      case "$sys" in
        fastpath) cfg="$B/chainroute-$sys.yaml"; sed '/^envoy:/a\  fastPath: true' "$here/chainroute.yaml" >"$cfg" ;;
        capped) cfg="$B/chainroute-$sys.yaml"; sed '/^envoy:/a\  extProcMaxRequests: 256' "$here/chainroute.yaml" >"$cfg" ;;
        nometrics) cfg="$B/chainroute-$sys.yaml"; sed '/^server:/a\  metrics: false' "$here/chainroute.yaml" >"$cfg" ;;
        nocache) cfg="$B/chainroute-$sys.yaml"; sed '/^    pathPrefix: \/eth/a\    cache: { enabled: false }' "$here/chainroute.yaml" >"$cfg" ;;
      esac
      (cd "$root" && bin/chainroute bootstrap --config "$cfg" --node-id bench --out "$B/envoy-$sys.yaml")
      jopts="${JAVA_OPTS:-}"
      [[ "${PROFILE:-0}" == 1 ]] && jopts="$jopts -XX:FlightRecorderOptions:stackdepth=256 -XX:StartFlightRecording=filename=$B/$sys.jfr,settings=profile,dumponexit=true"
      JAVA_OPTS="$jopts" start "$sys" "$SUT_CPU" "$root/bin/chainroute" run --config "$cfg"
      CR_PID=$LAST_PID; STOP=("$CR_PID")
      wait_for 30 "chainroute /readyz" curl -sf -m 1 http://127.0.0.1:8081/readyz
      start_envoy "$sys" "$B/envoy-$sys.yaml"; SUT=("$ENVOY_PID" "$CR_PID"); STOP=("$ENVOY_PID" "$CR_PID"); URLS=$LB
      wait_for 20 "route through Envoy + chainroute" rpc_ok "$LB" ;;
    erpc | proxyd)
      if [[ $sys == erpc ]]; then
        start erpc "$SUT_CPU" "$B/bin/erpc" "$here/erpc/erpc.yaml"; URLS=http://127.0.0.1:4000/main/evm/1
      else
        start proxyd "$SUT_CPU" "$B/bin/proxyd" "$here/proxyd/proxyd.toml"; URLS=http://127.0.0.1:4100/
      fi
      SUT=("$LAST_PID"); STOP=("$LAST_PID")
      if ! wait_for 30 "$sys to answer" rpc_ok "$URLS"; then
        log "$sys did not answer; skipped from now on (its log: bench/.build/logs/$sys.log)"
        tail -20 "$LOGS/$sys.log" >"$R/$sys-start.log" || true
        return 1
      fi ;;
    *) log "unknown system $sys"; return 1 ;;
  esac
}
sys_down() { [[ ${#STOP[@]} -gt 0 ]] && stop "${STOP[@]}"; STOP=() ENVOY_PID= CR_PID=; }
warm() { # warm SYS TARGETS: closed-loop load before measuring (the JVM's C2 needs ~30 s; native code far less)
  local t="$WARM_NATIVE"; jvm "$1" && t="$WARM"
  taskset -c "$LOAD_CPU" "$VEGETA" attack -format=json -targets="$2" -rate=0 -workers=64 -max-workers=64 \
    -duration="${t}s" >/dev/null
}
usable() { [[ ! -f "$R/$1-start.log" ]]; }  # a system that did not answer once is not started again

closed_round() { # closed_round SYS REP: start, (first round: the mix check), warm up, one run per concurrency, stop
  local sys="$1" rep="$2" tg="$B/targets-$1.json" c t0=$SECONDS
  [[ -f "$R/$sys-r$rep.done" ]] && return 0
  usable "$sys" || return 0
  log "=== $sys: round $rep of $REPS, closed loop"
  sys_up "$sys" || { sys_down; return 0; }
  python3 "$here/tool.py" targets "$tg" ${URLS//,/ }
  [[ -f "$R/$sys-check.json" ]] || python3 "$here/tool.py" check ${URLS//,/ } >"$R/$sys-check.json"
  warm "$sys" "$tg"
  calib "$sys" "before-r$rep"
  for c in $CONCS; do closed "$sys" "$c" "$rep" "$tg" "${SUT[@]}"; done
  calib "$sys" "after-r$rep"
  if [[ $sys == chainroute && ! -f "$R/headprobe.json" ]]; then
    python3 - "$CR_PID" "$ENVOY_PID" >"$R/chainroute-rss.json" <<'PY'
import json, sys
def kb(pid, key):
    for l in open("/proc/%s/status" % pid):
        if l.startswith(key + ":"): return int(l.split()[1])
print(json.dumps({"chainroute_rss_kb": kb(sys.argv[1], "VmRSS"), "chainroute_hwm_kb": kb(sys.argv[1], "VmHWM"),
                  "envoy_rss_kb": kb(sys.argv[2], "VmRSS")}))
PY
    log "head -> Envoy probe ($HEAD_CYCLES cycles)"
    taskset -c "$LOAD_CPU" "$B/bin/headprobe" -admin "$ADMIN" -cluster eth-head -samples "$HEAD_CYCLES" >"$R/headprobe.json" || true
    curl -sf http://127.0.0.1:8081/status >"$LOGS/chainroute-status.json" || true
  fi
  # Envoy's ext_proc counters and chainroute's own, over this round (the report sums the rounds)
  [[ -n "$ENVOY_PID" ]] && { curl -sf "$ADMIN/stats?filter=ext_proc" >"$R/$sys-envoy-extproc-r$rep.txt" || true; }
  [[ -n "$CR_PID" ]] && { curl -sf http://127.0.0.1:8081/metrics | grep -E '^chainroute_(cache|requests)_' >"$R/$sys-metrics-r$rep.txt" || true; }
  sys_down
  touch "$R/$sys-r$rep.done"
  log "$sys round $rep: $((SECONDS - t0)) s"
}
open_round() { # open_round SYS REP: start, warm up, open loop at the common rate and at 10% of plain's, stop
  local sys="$1" rep="$2" tg="$B/targets-$1.json"
  [[ -f "$R/$sys-open-r$rep.done" ]] && return 0
  usable "$sys" || return 0
  log "=== $sys: round $rep of $REPS, open loop"
  sys_up "$sys" || { sys_down; return 0; }
  python3 "$here/tool.py" targets "$tg" ${URLS//,/ }
  warm "$sys" "$tg"
  open_loop "$sys" "$rep" "$tg" common "${SUT[@]}"
  open_loop "$sys" "$rep" "$tg" open10 "${SUT[@]}"
  sys_down
  touch "$R/$sys-open-r$rep.done"
}

[[ " $SYSTEMS " == *" plain "* ]] || { log "SYSTEMS must include plain (the baseline, and the 10% open-loop rate)"; exit 2; }
T0=$SECONDS
# Rounds: every system once per round, in SYSTEMS order, so drift of the host's speed over the run hits every
# system alike instead of whichever ran during a slow spell.
for rep in $(seq "$REPS"); do for sys in $SYSTEMS; do closed_round "$sys" "$rep"; done; done
log "closed loop done after $(((SECONDS - T0) / 60)) min"
# The open-loop rates, from the closed-loop medians: 50% of the slowest system's best (every system should
# sustain it; the upstreams direct left out) and 10% of plain Envoy's best (light load).
python3 "$here/tool.py" rates "$R" $SYSTEMS
log "open-loop rates: $(cat "$R/common_rate") req/s ($(cat "$R/common_rate.why")) and $(cat "$R/open10_rate") req/s (10% of plain's best)"
for rep in $(seq "$REPS"); do for sys in $SYSTEMS; do open_round "$sys" "$rep"; done; done
log "open loop done after $(((SECONDS - T0) / 60)) min"
stop "${UP_PIDS[@]}"

if [[ "$JMH" == 1 ]]; then
  log "JMH: EvmAdapter#classify"
  if ! taskset -c "$SUT_CPU" "$here/jmh/run.sh" "$R/jmh.json" >"$R/jmh.txt" 2>&1; then log "JMH failed (see raw output)"; fi
fi
[[ -f "$here/notes.md" ]] && cp "$here/notes.md" "$R/notes.md"
python3 "$here/tool.py" report "$R" "$RESULTS"
log "wrote $RESULTS"
