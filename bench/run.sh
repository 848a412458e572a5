#!/usr/bin/env bash
# chainroute benchmark: one command. Builds what it needs (into .tools/ and bench/.build/), runs every
# system under test against the same three fake upstreams with the same request mix, and writes
# bench/RESULTS.md. Loopback only; every process it starts is killed on exit.
#
#   bench/run.sh              full run, about 25 minutes (two full runs on 2026-11-28: 25 and 27 min)
#   QUICK=1 bench/run.sh      about 5 minutes (shorter runs, 2 repeats, fewer head samples, no JMH)
#
# Knobs: SYSTEMS="plain direct json floor chainroute nometrics erpc proxyd" ("nometrics": chainroute with
#        server.metrics: false, for what the metrics cost; add "capped" for chainroute with
#        envoy.extProcMaxRequests: 256, the overload setting, and "nocache" for chainroute with the
#        chain's cache off (no answers from chainroute, every call to a node); neither is in the default set)
#        MIX=bodies|public (the request mix, bench/mix/<MIX>.jsonl; "public": a public endpoint's
#        mix of identity calls, receipts and final blocks, see bench/mix/gen.py)
#        CONCS="16 64 256"  LOAD_CPU=0 SUT_CPU=1
#        TOOLS=0 (skip .ci/install-tools when Envoy is already in .tools/)
#        ERPC_BIN=path PROXYD_BIN=path (the peers' binaries; default: built by ../shared/peers/build.sh,
#        else go install from the module proxy)
#        OPEN_CONNS=512 (open loop: vegeta's connections per target host)
#        JMH=0|1  PROFILE=1 (JFR recording of chainroute into bench/.build/chainroute.jfr)
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
  DUR="${DUR:-3}" REPS="${REPS:-2}" OPEN_DUR="${OPEN_DUR:-5}" WARM="${WARM:-10}" HEAD_CYCLES="${HEAD_CYCLES:-5}" JMH="${JMH:-0}"
else
  DUR="${DUR:-10}" REPS="${REPS:-3}" OPEN_DUR="${OPEN_DUR:-15}" WARM="${WARM:-30}" HEAD_CYCLES="${HEAD_CYCLES:-10}" JMH="${JMH:-1}"
fi
CONCS="${CONCS:-16 64 256}"
SYSTEMS="${SYSTEMS:-plain direct json floor chainroute nometrics erpc proxyd}"
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
rm -rf "$R"; mkdir -p "$R"
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
 "load_cpu": "$LOAD_CPU", "sut_cpu": "$SUT_CPU", "mix": "$MIX", "systems": "$SYSTEMS", "dur": $DUR, "reps": $REPS, "open_dur": $OPEN_DUR, "open_conns": $OPEN_CONNS, "concs": "$CONCS"}
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
closed() { # closed NAME CONC REP TARGETS SUT_PIDS...
  local name="$1" c="$2" r="$3" tg="$4"; shift 4
  local out="$R/$name-c$c-r$r" s0 s1 u0 u1
  quiet
  s0=$(ticks "$@"); u0=$(ticks "${UP_PIDS[@]}"); m0=$(busy); k0=$(kids); c0=$(up_calls)
  taskset -c "$LOAD_CPU" "$VEGETA" attack -format=json -targets="$tg" -rate=0 -workers="$c" -max-workers="$c" \
    -duration="${DUR}s" -timeout=10s >"$out.bin"
  s1=$(ticks "$@"); u1=$(ticks "${UP_PIDS[@]}"); m1=$(busy); k1=$(kids); c1=$(up_calls)
  echo "{\"sut_ticks\": $((s1 - s0)), \"up_ticks\": $((u1 - u0)), \"load_ticks\": $((k1 - k0)), \"machine_ticks\": $((m1 - m0)), \"up_calls\": $((c1 - c0))}" >"$out.cpu.json"
  "$VEGETA" report -type=json "$out.bin" >"$out.json"
  rm -f "$out.bin"
  log "$name c=$c #$r: $(python3 -c "import json,sys;r=json.load(open('$out.json'));print('%.0f req/s ok, success %.4f, p99 %.2f ms'%(r['throughput'],r['success'],r['latencies']['99th']/1e6))")"
}
open_loop() { # open_loop NAME REP TARGETS KIND SUT_PIDS...  (KIND: open = 50% of plain's best, open10 = 10%)
  local name="$1" r="$2" tg="$3" kind="$4"; shift 4
  local out="$R/$name-$kind-r$r" rate s0 s1 u0 u1
  rate=$(cat "$R/${kind}_rate")
  quiet
  s0=$(ticks "$@"); u0=$(ticks "${UP_PIDS[@]}"); m0=$(busy); k0=$(kids)
  taskset -c "$LOAD_CPU" "$VEGETA" attack -format=json -targets="$tg" -rate="$rate/1s" -workers=32 \
    -max-connections="$OPEN_CONNS" -duration="${OPEN_DUR}s" -timeout=10s >"$out.bin"
  s1=$(ticks "$@"); u1=$(ticks "${UP_PIDS[@]}"); m1=$(busy); k1=$(kids)
  echo "{\"sut_ticks\": $((s1 - s0)), \"up_ticks\": $((u1 - u0)), \"load_ticks\": $((k1 - k0)), \"machine_ticks\": $((m1 - m0))}" >"$out.cpu.json"
  "$VEGETA" report -type=json "$out.bin" >"$out.json"
  "$VEGETA" encode -to=csv "$out.bin" | python3 "$here/tool.py" latency /dev/stdin >"$out.lat.json"
  rm -f "$out.bin"
  log "$name $kind $rate/s #$r: $(cat "$out.lat.json")"
}
measure() { # measure NAME URLS-CSV SUT_PIDS...: check, warm up, closed loop, open loop
  local name="$1" urls="$2"; shift 2
  local tg="$B/targets-$name.json" c r
  python3 "$here/tool.py" targets "$tg" ${urls//,/ }
  python3 "$here/tool.py" check ${urls//,/ } >"$R/$name-check.json"
  taskset -c "$LOAD_CPU" "$VEGETA" attack -format=json -targets="$tg" -rate=0 -workers=64 -max-workers=64 \
    -duration="${WARM}s" >/dev/null
  calib "$name" before
  for c in $CONCS; do for r in $(seq "$REPS"); do closed "$name" "$c" "$r" "$tg" "$@"; done; done
  if [[ ! -f "$R/open_rate" ]]; then
    # 50% of plain Envoy's best median closed-loop throughput (measured first)
    python3 - "$R" "$name" <<'PY' >"$R/open_rate"
import glob, json, statistics, sys, re
raw, name = sys.argv[1], sys.argv[2]
by = {}
for p in glob.glob("%s/%s-c*-r*.json" % (raw, name)):
    if p.endswith(".cpu.json"): continue
    r = json.load(open(p)); c = re.search(r"-c(\d+)-", p).group(1)
    by.setdefault(c, []).append(r["requests"] * r["success"] / ((r["duration"] + r["wait"]) / 1e9))
print(int(0.5 * max(statistics.median(v) for v in by.values())))
PY
    echo $(($(cat "$R/open_rate") / 5)) >"$R/open10_rate"
    log "open-loop rates: $(cat "$R/open_rate") and $(cat "$R/open10_rate") req/s (50% and 10% of $name's best)"
  fi
  for r in $(seq "$REPS"); do open_loop "$name" "$r" "$tg" open "$@"; done
  for r in $(seq "$REPS"); do open_loop "$name" "$r" "$tg" open10 "$@"; done
  calib "$name" after
}
calib() { # calib NAME WHEN: ms a fixed CPU-bound loop takes on the SUT's core, best of 5: the machine's speed now.
  # The host's speed drifts over minutes (a shared VM); systems are measured one after another, so the report
  # shows this next to each system to tell a real difference from a slower machine.
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

[[ " $SYSTEMS " == *" plain "* ]] || { log "SYSTEMS must include plain (it sets the open-loop rate)"; exit 2; }
for sys in plain $SYSTEMS; do
  [[ -f "$R/$sys.done" ]] && continue
  log "=== $sys"
  case "$sys" in
    direct)
      measure direct "http://127.0.0.1:9001/,http://127.0.0.1:9002/,http://127.0.0.1:9003/" "${UP_PIDS[@]}" ;;
    plain | json)
      cfg="$here/envoy/plain.yaml"; [[ $sys == json ]] && cfg="$here/envoy/json-to-metadata.yaml"
      start_envoy "$sys" "$cfg"
      wait_for 10 "route through Envoy" rpc_ok "$LB"
      measure "$sys" "$LB" "$ENVOY_PID"
      stop "$ENVOY_PID" ;;
    floor)
      start nullproc "$SUT_CPU" "$B/bin/nullproc" -addr 127.0.0.1:18101
      NULL_PID=$LAST_PID
      start_envoy floor "$here/envoy/extproc-floor.yaml"
      wait_for 10 "route through Envoy + nullproc" rpc_ok "$LB"
      measure floor "$LB" "$ENVOY_PID" "$NULL_PID"
      curl -sf "$ADMIN/stats?filter=ext_proc" >"$R/floor-envoy-extproc.txt" || true
      stop "$ENVOY_PID" "$NULL_PID" ;;
    chainroute | capped | nometrics | nocache)
      # capped: the same, with envoy.extProcMaxRequests 256 (requests past it fail open; see notes)
      # nometrics: the same, with server.metrics: false (no /metrics, no series kept)
      # nocache: the same, with the chain's cache off (chainroute answers nothing itself)
      cfg="$here/chainroute.yaml"
      if [[ $sys == capped ]]; then
        cfg="$B/chainroute-capped.yaml"
        sed '/^envoy:/a\  extProcMaxRequests: 256' "$here/chainroute.yaml" >"$cfg"
      elif [[ $sys == nometrics ]]; then
        cfg="$B/chainroute-nometrics.yaml"
        sed '/^server:/a\  metrics: false' "$here/chainroute.yaml" >"$cfg"
      elif [[ $sys == nocache ]]; then
        cfg="$B/chainroute-nocache.yaml"
        sed '/^    pathPrefix: \/eth/a\    cache: { enabled: false }' "$here/chainroute.yaml" >"$cfg"
      fi
      (cd "$root" && bin/chainroute bootstrap --config "$cfg" --node-id bench --out "$B/envoy-$sys.yaml")
      jopts="${JAVA_OPTS:-}"
      [[ "${PROFILE:-0}" == 1 ]] && jopts="$jopts -XX:FlightRecorderOptions:stackdepth=256 -XX:StartFlightRecording=filename=$B/$sys.jfr,settings=profile,dumponexit=true"
      JAVA_OPTS="$jopts" start "$sys" "$SUT_CPU" "$root/bin/chainroute" run --config "$cfg"
      CR_PID=$LAST_PID
      wait_for 30 "chainroute /readyz" curl -sf -m 1 http://127.0.0.1:8081/readyz
      start_envoy "$sys" "$B/envoy-$sys.yaml"
      wait_for 20 "route through Envoy + chainroute" rpc_ok "$LB"
      measure "$sys" "$LB" "$ENVOY_PID" "$CR_PID"
      if [[ $sys == chainroute ]]; then
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
      curl -sf "$ADMIN/stats?filter=ext_proc" >"$R/$sys-envoy-extproc.txt" || true
      curl -sf http://127.0.0.1:8081/metrics | grep -E '^chainroute_(cache|requests)_' >"$R/$sys-metrics.txt" || true
      stop "$ENVOY_PID" "$CR_PID" ;;
    erpc | proxyd)
      # written from their docs, not yet run here (see the header of each config)
      if [[ $sys == erpc ]]; then
        start erpc "$SUT_CPU" "$B/bin/erpc" "$here/erpc/erpc.yaml"; url=http://127.0.0.1:4000/main/evm/1
      else
        start proxyd "$SUT_CPU" "$B/bin/proxyd" "$here/proxyd/proxyd.toml"; url=http://127.0.0.1:4100/
      fi
      GO_PID=$LAST_PID
      if wait_for 30 "$sys to answer" rpc_ok "$url"; then
        measure "$sys" "$url" "$GO_PID"
      else
        log "$sys did not answer; skipped (its log: bench/.build/logs/$sys.log)"
        tail -20 "$LOGS/$sys.log" >"$R/$sys-start.log" || true
      fi
      stop "$GO_PID" ;;
  esac
  touch "$R/$sys.done"
done
stop "${UP_PIDS[@]}"

if [[ "$JMH" == 1 ]]; then
  log "JMH: EvmAdapter#classify"
  if ! taskset -c "$SUT_CPU" "$here/jmh/run.sh" "$R/jmh.json" >"$R/jmh.txt" 2>&1; then log "JMH failed (see raw output)"; fi
fi
[[ -f "$here/notes.md" ]] && cp "$here/notes.md" "$R/notes.md"
python3 "$here/tool.py" report "$R" "$RESULTS"
log "wrote $RESULTS"
