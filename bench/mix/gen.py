#!/usr/bin/env python3
"""Writes bench/mix/bodies.jsonl: the benchmark's request mix (deterministic, seed 4).

`gen.py public` writes bench/mix/public.jsonl instead: a public endpoint's mix (wallets and dapps
polling): eth_chainId, eth_blockNumber, receipts and transactions by hash, blocks by number below
finality, balances and calls at latest, logs over old ranges (bench/run.sh with MIX=public).

Each line: {"body": <JSON-RPC text>, "ids": [raw id text, ...], "archive": bool, "kind": str}.
`archive` says the request needs state or logs older than 128 blocks (a full node answers it with
an error); `ids` are the request ids exactly as written, which the answer must echo byte for byte.
"""
import json, os, random, sys

MIX = sys.argv[1] if len(sys.argv) > 1 else "bodies"
if MIX not in ("bodies", "public"):
    raise SystemExit("usage: gen.py [public]")

rnd = random.Random(4)
n_bodies = 400
ADDRS = ["0x%040x" % rnd.getrandbits(160) for _ in range(50)]


def rid():
    r = rnd.random()
    if r < 0.5:
        return str(rnd.randint(0, 10**6))
    if r < 0.65:
        return str(rnd.randint(10**19, 10**21))          # wider than a 64-bit integer
    if r < 0.9:
        return json.dumps("req-%08x" % rnd.getrandbits(32))
    return json.dumps("q\"u\\o-%d" % rnd.randint(0, 999))  # escapes


# The public mix's repeated objects: what many clients ask about (the fake upstream puts every
# transaction in a block far below finality, bench/upstream txBlock).
# Their own generator, so the default mix stays what it was.
_objs = random.Random(5)
TXS = ["0x%064x" % _objs.getrandbits(256) for _ in range(100)]
FINAL_BLOCKS = ["0x%x" % _objs.randint(0x1000000, 0x1100000) for _ in range(50)]


def old_block():
    return "0x%x" % rnd.randint(0x100000, 0xF00000)


def call(kind, idtext):
    if kind == "blockNumber":
        m, p, a = "eth_blockNumber", [], False
    elif kind == "chainId":
        m, p, a = "eth_chainId", [], False
    elif kind == "balance":
        m, p, a = "eth_getBalance", [rnd.choice(ADDRS), "latest"], False
    elif kind == "balance_old":
        m, p, a = "eth_getBalance", [rnd.choice(ADDRS), old_block()], True
    elif kind == "call":
        m = "eth_call"
        p = [{"to": rnd.choice(ADDRS), "data": "0x70a08231" + "%064x" % rnd.getrandbits(160)}, "latest"]
        a = False
    elif kind == "logs":
        m, p, a = "eth_getLogs", [{"fromBlock": "latest", "toBlock": "latest", "address": rnd.choice(ADDRS)}], False
    elif kind == "logs_old":
        f = rnd.randint(0x100000, 0xF00000)
        m, p, a = "eth_getLogs", [{"fromBlock": "0x%x" % f, "toBlock": "0x%x" % (f + 100), "address": rnd.choice(ADDRS)}], True
    elif kind == "net_version":
        m, p, a = "net_version", [], False
    elif kind == "receipt":
        m, p, a = "eth_getTransactionReceipt", [rnd.choice(TXS)], False
    elif kind == "tx":
        m, p, a = "eth_getTransactionByHash", [rnd.choice(TXS)], False
    elif kind == "block_final":
        m, p, a = "eth_getBlockByNumber", [rnd.choice(FINAL_BLOCKS), False], False
    else:
        raise ValueError(kind)
    text = '{"jsonrpc":"2.0","id":%s,"method":"%s","params":%s}' % (idtext, m, json.dumps(p, separators=(",", ":")))
    return text, a


SINGLE = [("blockNumber", 20), ("chainId", 5), ("balance", 20), ("balance_old", 8), ("call", 25),
          ("logs", 7), ("logs_old", 5)]
BATCH_WEIGHT = 10
if MIX == "public":
    SINGLE = [("chainId", 12), ("net_version", 3), ("blockNumber", 25), ("receipt", 15), ("tx", 5),
              ("block_final", 10), ("balance", 12), ("call", 10), ("logs_old", 3), ("balance_old", 5)]


def pick(options):
    total = sum(w for _, w in options)
    x = rnd.uniform(0, total)
    for k, w in options:
        x -= w
        if x <= 0:
            return k
    return options[-1][0]


out = []
for _ in range(n_bodies):
    if rnd.uniform(0, 100 + BATCH_WEIGHT) < BATCH_WEIGHT:
        size = rnd.randint(2, 5)
        kinds = [pick([("blockNumber", 20), ("balance", 30), ("call", 40), ("logs", 10)]) for _ in range(size)]
        if rnd.random() < 0.3:
            kinds[rnd.randrange(size)] = "balance_old"
        ids = [rid() for _ in kinds]
        parts = [call(k, i) for k, i in zip(kinds, ids)]
        body = "[" + ",".join(t for t, _ in parts) + "]"
        out.append({"body": body, "ids": ids, "archive": any(a for _, a in parts), "kind": "batch%d" % size})
    else:
        k = pick(SINGLE)
        i = rid()
        t, a = call(k, i)
        out.append({"body": t, "ids": [i], "archive": a, "kind": k})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), MIX + ".jsonl")
with open(path, "w") as f:
    for o in out:
        json.loads(o["body"])  # valid JSON
        f.write(json.dumps(o) + "\n")
kinds = {}
for o in out:
    k = "batch" if o["kind"].startswith("batch") else o["kind"]
    kinds[k] = kinds.get(k, 0) + 1
print("wrote %d bodies to %s: %s" % (len(out), path, ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
