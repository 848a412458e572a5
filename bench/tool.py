#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only).

  tool.py targets OUT URL...        vegeta JSON targets: every body of mix/bodies.jsonl, URLs in turn
  tool.py check URL...              send the mix once; id echo, errors, archive routing -> JSON
  tool.py latency CSV               p50/p99/p99.9 (ms) of a `vegeta encode -to=csv` file -> JSON
  tool.py rates RAWDIR SYSTEM...    the open-loop rates from the closed-loop medians -> RAWDIR/{common,open10}_rate
  tool.py report RAWDIR OUT         aggregate every raw output into RESULTS.md
  tool.py jfrtop JFR [N]            top self and inclusive frames of jdk.ExecutionSample (needs `jfr`)
"""
import base64, csv, glob, http.client, json, os, re, statistics, sys, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
MIX = os.environ.get("MIX", "bodies")  # bench/mix/<MIX>.jsonl (gen.py; "public": a public endpoint's mix)
BODIES = [json.loads(l) for l in open(os.path.join(HERE, "mix", MIX + ".jsonl"))]


def targets(out, urls):
    with open(out, "w") as f:
        for i, b in enumerate(BODIES):
            f.write(json.dumps({"method": "POST", "url": urls[i % len(urls)],
                                "body": base64.b64encode(b["body"].encode()).decode(),
                                "header": {"Content-Type": ["application/json"]}}) + "\n")


_DEC = json.JSONDecoder()


def _ws(t, i):
    while i < len(t) and t[i] in " \t\r\n":
        i += 1
    return i


def _raw_id(t, i):
    """The raw text of the "id" member of the object at t[i] (any member order), and the index after it."""
    i = _ws(t, i)
    if t[i] != "{":
        raise ValueError("not an object")
    i, rid = _ws(t, i + 1), None
    while t[i] != "}":
        key, i = _DEC.raw_decode(t, i)
        i = _ws(t, i)
        assert t[i] == ":"
        v = _ws(t, i + 1)
        _, e = _DEC.raw_decode(t, v)
        if key == "id":
            rid = t[v:e]
        i = _ws(t, e)
        if t[i] == ",":
            i = _ws(t, i + 1)
    return rid, i + 1


def answer_ids(data):
    """The raw id texts of a JSON-RPC answer (one object, or a batch), in the order they come."""
    t = data.decode("utf-8", "replace")
    try:
        i = _ws(t, 0)
        if t[i] != "[":
            return [_raw_id(t, i)[0]]
        out, i = [], _ws(t, i + 1)
        while t[i] != "]":
            rid, i = _raw_id(t, i)
            out.append(rid)
            i = _ws(t, i)
            if t[i] == ",":
                i = _ws(t, i + 1)
        return out
    except (ValueError, IndexError, AssertionError):
        return None


def check(urls):
    conns = {}
    res = {"requests": 0, "http_non_200": 0, "id_mismatch": 0, "jsonrpc_errors": 0,
           "archive_needed": 0, "archive_ok": 0, "nodes": {}, "examples": []}
    for i, b in enumerate(BODIES):
        u = urllib.parse.urlsplit(urls[i % len(urls)])
        c = conns.get(u.netloc) or http.client.HTTPConnection(u.netloc, timeout=10)
        conns[u.netloc] = c
        c.request("POST", u.path or "/", body=b["body"].encode(), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        res["requests"] += 1
        node = r.getheader("x-node") or "(none)"
        res["nodes"][node] = res["nodes"].get(node, 0) + 1
        if r.status != 200:
            res["http_non_200"] += 1
            if len(res["examples"]) < 5:
                res["examples"].append("HTTP %d: %s" % (r.status, data[:200].decode("utf-8", "replace")))
            continue
        got = answer_ids(data)
        if got != b["ids"]:
            res["id_mismatch"] += 1
            if len(res["examples"]) < 5:
                res["examples"].append("ids %s -> %s" % (b["ids"], data[:200].decode("utf-8", "replace")))
        errors = data.count(b'"error":')
        res["jsonrpc_errors"] += errors
        if b["archive"]:
            res["archive_needed"] += 1
            if errors == 0:
                res["archive_ok"] += 1
    print(json.dumps(res, indent=1))


def pct(xs, p):
    """Nearest-rank percentile of a sorted list."""
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def latency(path):
    lat, codes, first, last = [], {}, None, None
    with open(path, newline="") as f:
        for row in csv.reader(f):
            ts, code, ns = int(row[0]), row[1], int(row[2])
            codes[code] = codes.get(code, 0) + 1
            lat.append(ns / 1e6)
            first = ts if first is None else min(first, ts)
            last = ts if last is None else max(last, ts)
    lat.sort()
    span = (last - first) / 1e9 if lat else 0
    print(json.dumps({"n": len(lat), "sent_rate": (len(lat) - 1) / span if span else 0, "codes": codes,
                      "p50": pct(lat, 50), "p99": pct(lat, 99), "p999": pct(lat, 99.9), "max": lat[-1] if lat else 0}))


# ---------------------------------------------------------------------------------------------- report

NAMES = {"direct": "(a) upstreams direct", "plain": "(b) plain Envoy", "json": "(c) Envoy + json_to_metadata",
         "floor": "(c2) Envoy + null ext_proc (floor)",
         "chainroute": "(d) Envoy + chainroute", "capped": "(d2) Envoy + chainroute, extProcMaxRequests 256",
         "nometrics": "(d3) Envoy + chainroute, metrics off (server.metrics: false)",
         "fastpath": "(d1) Envoy + chainroute, fast path on (envoy.fastPath: true)",
         "nocache": "(d4) Envoy + chainroute, cache off (cache.enabled: false)", "erpc": "(e) eRPC", "proxyd": "(f) proxyd"}
ORDER = ["direct", "plain", "json", "floor", "chainroute", "fastpath", "capped", "nometrics", "nocache", "erpc", "proxyd"]
CLOSED = re.compile(r"^([a-z0-9]+)-c(\d+)-r(\d+)\.json$")  # one closed-loop run's vegeta report


def closed_throughput(raw, s):
    """{concurrency: [successful requests/s of each closed-loop run]} of system s."""
    by = {}
    for p in glob.glob(os.path.join(raw, "%s-c*-r*.json" % s)):
        m = re.match(r"%s-c(\d+)-r\d+\.json$" % re.escape(s), os.path.basename(p))
        r = load(p) if m else None
        if r:
            dur = (r["duration"] + r["wait"]) / 1e9
            by.setdefault(int(m.group(1)), []).append(r["requests"] * r["success"] / dur if dur else 0)
    return by


def best_median(raw, s):
    """A system's best median closed-loop throughput over the concurrencies (None when not measured)."""
    by = closed_throughput(raw, s)
    return max(statistics.median(v) for v in by.values()) if by else None


def rates(raw, systems):
    """common: 50% of the slowest system's best (every system sustains it; the upstreams direct left out);
    open10: 10% of plain Envoy's best."""
    best = {s: best_median(raw, s) for s in systems if s != "direct"}
    best = {s: b for s, b in best.items() if b}
    slow = min(best, key=best.get)
    with open(os.path.join(raw, "common_rate"), "w") as f:
        f.write("%d\n" % int(0.5 * best[slow]))
    with open(os.path.join(raw, "common_rate.why"), "w") as f:
        f.write("50%% of %s's best, %.0f req/s\n" % (slow, best[slow]))
    with open(os.path.join(raw, "open10_rate"), "w") as f:
        f.write("%d\n" % int(0.1 * best["plain"]))


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def spread(xs, fmt="%.0f"):
    if not xs:
        return "—"
    m = statistics.median(xs)
    if len(xs) == 1:
        return fmt % m
    return (fmt + " (%s–%s)") % (m, fmt % min(xs), fmt % max(xs))


def report(raw, out):
    env = load(os.path.join(raw, "env.json"), {})
    hz = env.get("clk_tck", 100)
    runs = [m for m in (CLOSED.match(f) for f in sorted(os.listdir(raw))) if m]
    systems = [s for s in ORDER if any(m.group(1) == s for m in runs)]
    concs = sorted({int(m.group(2)) for m in runs})
    thr, cpu, upcpu, succ, other, upcalls, calls, dec = {}, {}, {}, {}, {}, {}, {}, {}
    noproc = set()  # Envoy-fronted systems without a routing ext_proc filter (every request decided in Envoy)
    for s in systems:
        for c in concs:
            for p in sorted(glob.glob(os.path.join(raw, "%s-c%d-r*.json" % (s, c)))):
                if p.endswith(".cpu.json"):
                    continue
                r = load(p)
                ct = load(p[:-5] + ".cpu.json", {})
                if not r:
                    continue
                ok = r["requests"] * r["success"]
                dur = (r["duration"] + r["wait"]) / 1e9
                thr.setdefault((s, c), []).append(ok / dur if dur else 0)
                succ.setdefault((s, c), []).append(r["success"])
                if "machine_ticks" in ct and dur:
                    o = ct["machine_ticks"] - ct["sut_ticks"] - ct["up_ticks"] - ct["load_ticks"]
                    if s == "direct":
                        o += ct["up_ticks"]  # the upstreams are the SUT there: counted once
                    other.setdefault(s, []).append(max(0.0, o / hz / dur * 100))
                if r["requests"] and "up_calls" in ct:
                    upcalls.setdefault((s, c), []).append(ct["up_calls"] / r["requests"])
                    calls.setdefault((s, c), []).append(r["requests"])
                if ct.get("envoy_rq"):
                    if ct.get("envoy_extproc_streams") is None:
                        noproc.add(s)
                    else:
                        dec.setdefault((s, c), []).append(1 - ct["envoy_extproc_streams"] / ct["envoy_rq"])
                if r["requests"]:
                    cpu.setdefault((s, c), []).append(ct.get("sut_ticks", 0) / hz * 1e6 / r["requests"])
                    upcpu.setdefault((s, c), []).append(ct.get("up_ticks", 0) / hz * 1e6 / r["requests"])
    med = lambda k, d=thr: statistics.median(d[k]) if k in d else None
    best = {s: max((med((s, c)) or 0) for c in concs) for s in systems}
    # common: the rate every system sustains (50% of the slowest one's best); open: the old layout's 50% of plain
    opened, opened10, common = {}, {}, {}
    for kind, dst in (("open", opened), ("open10", opened10), ("common", common)):
        for s in systems:
            for p in sorted(glob.glob(os.path.join(raw, "%s-%s-r*.lat.json" % (s, kind)))):
                r = load(p)
                if r:
                    for k in ("p50", "p99", "p999", "sent_rate"):
                        dst.setdefault((s, k), []).append(r[k])
                    dst.setdefault((s, "ok"), []).append(r["codes"].get("200", 0) / max(1, r["n"]))
    rate = read(os.path.join(raw, "open_rate")).strip()
    rate10 = read(os.path.join(raw, "open10_rate")).strip()
    crate = read(os.path.join(raw, "common_rate")).strip()
    cwhy = read(os.path.join(raw, "common_rate.why")).strip()
    rounds = env.get("rounds", False)

    def decided(s, c=None):
        """The share of the closed-loop mix decided in Envoy (no ext_proc stream), over the runs at c (or all)."""
        if s in noproc:
            return "all (no ext_proc)"
        xs = [x for (t, cc), v in dec.items() if t == s and c in (None, cc) for x in v]
        return spread([x * 100 for x in xs], "%.1f%%") if xs else "—"

    def calib(s):
        """The calibration loop's times (ms) around the system's runs: every round, before and after."""
        xs = []
        for p in sorted(glob.glob(os.path.join(raw, "%s-calib-*" % s))):
            try:
                xs.append(float(read(p).strip()))
            except ValueError:
                pass
        return spread(xs, "%.1f")
    L = []
    w = L.append
    w("# chainroute benchmark results\n")
    w("Written by `bench/run.sh` (%s mode) on %s. Rerun: `bench/run.sh` (about 60 min with the peers) or `QUICK=1 "
      "bench/run.sh` (about 15 min). How it is measured: `bench/README.md`.\n" % (
          "QUICK" if env.get("quick") else "full", env.get("date", "?")))
    w("**Machine:** %s, %s cores, %s. **Placement:** load generator (vegeta) and the three upstreams on CPU %s; "
      "the system under test (Envoy with one worker, plus chainroute's JVM where present) on CPU %s, the same for every "
      "system. Loopback only. Envoy %s, %s, Go %s, vegeta %s.\n" % (
          env.get("cpu", "?"), env.get("cores", "?"), env.get("kernel", "?"), env.get("load_cpu", "?"),
          env.get("sut_cpu", "?"), env.get("envoy", "?"), env.get("java", "?"), env.get("go", "?"), env.get("vegeta", "?")))
    w("**Mix:** `bench/mix/%s.jsonl` (%d bodies, %d JSON-RPC calls).\n" % (
        MIX, len(BODIES), sum(len(b["ids"]) for b in BODIES)))
    if rounds:
        w("**Run:** %s rounds; in each, every system in turn (%s) is started, warmed up (%s s of closed-loop load for "
          "chainroute's JVM, %s s for the others), measured %s s per closed-loop run at concurrencies %s, and stopped, "
          "so the host's speed drift hits every system alike. Then %s more rounds of open loop, %s s per point, at "
          "%s req/s (the common rate: %s, a rate every system sustains) and at %s req/s (10%% of plain Envoy's best), "
          "at most %s connections per target host (past them a request waits for one, and the wait counts in its "
          "latency). Cells are *median (min–max)* over the rounds.\n" % (
              env.get("reps"), ", ".join(env.get("systems", "").split()), env.get("warm", "?"), env.get("warm_native", "?"),
              env.get("dur"), ", ".join(map(str, concs)), env.get("reps"), env.get("open_dur"), crate or "?",
              cwhy or "50% of the slowest system's best closed-loop throughput", rate10 or "?",
              env.get("open_conns", "unlimited")))
    else:
        w("**Run:** %s s per closed-loop run, %s repeats, concurrencies %s; open loop %s s at %s req/s (50%% of plain "
          "Envoy's best closed-loop throughput), %s repeats, at most %s connections per target host (past them a request "
          "waits for one, and the wait counts in its latency). Systems one after another (before the rounds). Cells are "
          "*median (min–max)* over the repeats.\n" % (
              env.get("dur"), env.get("reps"), ", ".join(map(str, concs)), env.get("open_dur"), rate or "?", env.get("reps"),
              env.get("open_conns", "unlimited")))
    w("## Throughput (successful requests/s, closed loop)\n")
    w("| system | " + " | ".join("c=%d" % c for c in concs) + " | CPU µs/req of the SUT (c=64) | upstreams' CPU µs/req (c=64) "
      "| decided in Envoy | other processes' CPU during the runs | calibration loop, ms |")
    w("|---" * (len(concs) + 6) + "|")
    c64 = 64 if 64 in concs else concs[len(concs) // 2]
    for s in systems:
        w("| %s | %s | %s | %s | %s | %s | %s |" % (NAMES[s], " | ".join(spread(thr.get((s, c), [])) for c in concs),
                                          spread(cpu.get((s, c64), []), "%.1f"),
                                          spread(upcpu.get((s, c64), []), "%.1f") if s != "direct" else "(= SUT)",
                                          "—" if s in ("direct", "erpc", "proxyd") else decided(s),
                                          spread(other.get(s, []), "%.0f%%"), calib(s)))
    w("\nThe SUT's CPU is utime+stime from /proc/<pid>/stat summed over every process of the system under test "
      "(Envoy; Envoy + chainroute's JVM; the upstreams for (a)), divided by the requests sent. 1e6 / that number is "
      "the request rate one fully busy core could sustain. The last column is the machine's busy time (/proc/stat) "
      "minus the SUT, the upstreams and vegeta, in %% of one core: load from processes outside the benchmark that "
      "shared the machine (before each measurement the run waits up to 30 s for a quiet machine, 240 s in all). "
      "*Decided in Envoy* is 1 − Δ`http.rpc.ext_proc.streams_started` / Δ`http.rpc.downstream_rq_total` from Envoy's "
      "admin `/stats` before and after each closed-loop run (the routing ext_proc filter only; the capture filter's "
      "`ext_proc.capture.*` left out): the share of the mix that never reached the processor, i.e. routed by the fast "
      "path (or by a bootstrap without a processor). A request chainroute answers from its cache still costs a stream. "
      "The calibration loop is a fixed CPU-bound Python loop on the SUT's core (best of 5), timed before and after each "
      "of the system's rounds (median and range): the host is a shared VM whose speed drifts over minutes; %s "
      "a higher number means a slower machine at that moment.\n" % (
          "the rounds interleave the systems so the drift hits them alike, and the calibration shows how much there was;"
          if rounds else "this run measured the systems one after another, so compare systems whose calibration agrees;"))
    for title, d in (("the common rate: %s req/s (%s)" % (crate or "?", cwhy or "50% of the slowest system's best"), common),
                     ("50%% of plain Envoy's best: %s req/s (the earlier runs' target load)" % (rate or "?"), opened),
                     ("10%% of plain Envoy's best: %s req/s (light load)" % (rate10 or "?"), opened10)):
        if not d:
            continue
        added = d is opened10 and ("plain", "p50") in d  # light load: the latency each system adds over plain Envoy
        w("## Latency at a fixed open-loop rate, " + title + "\n")
        w("| system | p50 ms | p99 ms | p99.9 ms | achieved send rate | HTTP 200 |" + (" added over plain Envoy: p50 / p99 ms |" if added else ""))
        w("|---|---|---|---|---|---|" + ("---|" if added else ""))
        for s in systems:
            if (s, "p50") in d:
                extra = ""
                if added:
                    extra = " %+.3f / %+.3f |" % tuple(statistics.median(d[(s, k)]) - statistics.median(d[("plain", k)])
                                                     for k in ("p50", "p99"))
                w("| %s | %s | %s | %s | %s | %s |%s" % (NAMES[s], spread(d[(s, "p50")], "%.3f"), spread(d[(s, "p99")], "%.3f"),
                                                     spread(d[(s, "p999")], "%.3f"), spread(d[(s, "sent_rate")]),
                                                     spread([x * 100 for x in d[(s, "ok")]], "%.2f%%"), extra))
        w("")
    w("\nvegeta's open model: requests leave on a fixed schedule whatever the answers do (workers are added as "
      "needed), so a slow answer does not hold back later requests and the percentiles are free of coordinated "
      "omission as long as the achieved send rate equals the target (the column above shows it). The common rate "
      "replaces the earlier runs' 50%-of-plain point, which is above what Envoy with any ext_proc processor sustains "
      "on this placement (those systems collapsed there and the percentiles measured the queue): at the common rate "
      "every system is below its capacity, so the p99s compare the systems, not their overload.\n")
    # routing correctness
    w("## What each system did with the mix (one pass over all %d bodies)\n" % len(BODIES))
    w("| system | HTTP non-200 | id echo mismatches | JSON-RPC errors | old-state requests answered | answering nodes |")
    w("|---|---|---|---|---|---|")
    for s in systems:
        c = load(os.path.join(raw, s + "-check.json"))
        if c:
            w("| %s | %d | %d | %d | %d / %d | %s |" % (NAMES[s], c["http_non_200"], c["id_mismatch"], c["jsonrpc_errors"],
                                                  c["archive_ok"], c["archive_needed"],
                                                  ", ".join("%s %d" % kv for kv in sorted(c["nodes"].items()))))
    w("\nThe full nodes answer state or logs older than 128 blocks with `missing trie node`, as pruned nodes do; "
      "only a system that routes on the block parameters gets every old-state request answered.\n")
    # memory
    rss = load(os.path.join(raw, "chainroute-rss.json"), {})
    head = load(os.path.join(raw, "headprobe.json"), {})
    w("## chainroute memory and head → Envoy\n")
    if rss:
        w("- chainroute RSS after the load: VmRSS %.0f MB, peak (VmHWM) %.0f MB; Envoy (same run) VmRSS %.0f MB.\n" % (
            rss.get("chainroute_rss_kb", 0) / 1024, rss.get("chainroute_hwm_kb", 0) / 1024, rss.get("envoy_rss_kb", 0) / 1024))
    if head:
        w("- New head → Envoy endpoints updated (`bench/headprobe`, %d samples, Envoy admin polled every 1 ms): "
          "p50 **%.1f ms**, p99 **%.1f ms**, max %.1f ms (lead jumps: p50 %.1f ms; followers catching up: p50 %.1f ms). "
          "Heads arrive by newHeads subscription (`wsUrl` in `bench/chainroute.yaml`): the time covers the upstream's "
          "notification, the probe it triggers, the new topology, `xdsCoalesce` (10 ms), the ADS push and Envoy applying it. "
          "Errors: %s.\n" % (
              head.get("n", 0), head.get("p50_ms", 0), head.get("p99_ms", 0), head.get("max_ms", 0),
              head.get("lead_p50_ms", 0), head.get("catchup_p50_ms", 0), head.get("errors") or "none"))
    # jmh
    jmh = load(os.path.join(raw, "jmh.json"))
    w("## JMH: `EvmAdapter#classify`, and the pipeline with and without its listeners (`DecisionBenchmark`)\n")
    if jmh:
        w("| benchmark | ns/op | bytes allocated/op |")
        w("|---|---|---|")
        for b in jmh:
            name = ".".join(b["benchmark"].split(".")[-2:]).replace("ClassifyBenchmark.", "")
            sm = b["primaryMetric"]
            alloc = b.get("secondaryMetrics", {}).get("·gc.alloc.rate.norm") or b.get("secondaryMetrics", {}).get("gc.alloc.rate.norm")
            w("| %s | %.0f ± %.0f | %s |" % (name, sm["score"], sm["scoreError"] if sm["scoreError"] == sm["scoreError"] else 0,
                                           "%.0f" % alloc["score"] if alloc else "—"))
        w("\n`bench/jmh` (`bench/jmh/run.sh`), JMH 1.37, `-prof gc`; settings in the raw section.\n")
    else:
        w("Not run in this pass (`JMH=0` or it failed; see the raw section).\n")
    # ext_proc counters (Envoy's, over each system's whole run)
    ep = {}
    for s in systems:
        for p in sorted(glob.glob(os.path.join(raw, s + "-envoy-extproc*.txt"))):  # one per round (older runs: one)
            txt, e = read(p), ep.setdefault(s, {})
            for k, v in re.findall(r"^(http\.rpc\.ext_proc\.[a-z_]+): (\d+)$", txt, re.M):
                e[k.split(".")[-1]] = e.get(k.split(".")[-1], 0) + int(v)
            e["overflow"] = e.get("overflow", 0) + sum(
                int(v) for v in re.findall(r"extproc\.upstream_rq_(?:pending_)?overflow: (\d+)", txt))
    if ep:
        w("## ext_proc as Envoy saw it (counters over each system's closed-loop rounds, summed)\n")
        w("| system | streams started | failed open (`failure_mode_allowed`) | message timeouts | circuit-breaker overflows |")
        w("|---|---|---|---|---|")
        for s, c in ep.items():
            started = c.get("streams_started", 0)
            failed = c.get("failure_mode_allowed", 0)
            w("| %s | %d | %d (%.1f%% of requests) | %d | %d |" % (NAMES[s], started, failed,
              100.0 * failed / (started + c.get("overflow", 0)) if started else 0, c.get("message_timeouts", 0), c.get("overflow", 0)))
        w("\nA request that fails open skips the processor and takes the route it would have without it (the head "
          "pool): served, but not routed by block.\n")
    if "chainroute" in systems and "nometrics" in systems:
        w("## What the metrics cost: (d) metrics on vs (d3) metrics off\n")
        w("| concurrency | throughput on / off | change | SUT CPU µs/req on / off | change |")
        w("|---|---|---|---|---|")
        for c in concs:
            a, b = med(("chainroute", c)), med(("nometrics", c))
            ca, cb = med(("chainroute", c), cpu), med(("nometrics", c), cpu)
            if a and b and ca and cb:
                w("| c=%d | %.0f / %.0f | %+.1f%% | %.1f / %.1f | %+.1f%% |" % (c, a, b, (a / b - 1) * 100, ca, cb, (ca / cb - 1) * 100))
        w("\nMedians over the repeats; %s (order: %s), calibration loop %s ms (on) and %s ms (off). Negative throughput "
          "change / positive CPU change is what the metrics cost; the decision log (DEBUG off) runs in both.\n" % (
              "both in every round" if rounds else "the two systems run one after the other",
              " then ".join(x for x in env.get("systems", "").split() if x in ("chainroute", "nometrics")) or "?",
              calib("chainroute"), calib("nometrics")))
    if upcalls:
        cpc = sum(len(b["ids"]) for b in BODIES) / len(BODIES)
        w("## What reached the nodes (closed loop, c=%d)\n" % c64)
        w("| system | JSON-RPC calls at the upstreams per client request | share of the mix's calls (%.2f per request) |" % cpc)
        w("|---|---|---|")
        for s in systems:
            v = upcalls.get((s, c64))
            if v:
                w("| %s | %s | %.0f%% |" % (NAMES[s], spread(v, "%.3f"), statistics.median(v) / cpc * 100))
        w("\nCounted by the fake upstreams themselves (`GET /control/calls`, a batch counts each call) over each run; "
          "chainroute's own probes (about 6 calls per node per second) are included.\n")
    if "chainroute" in systems and "nocache" in systems:
        def mt(s, name, label=None):  # summed over the rounds' /metrics (older runs: one file)
            txt = "\n".join(read(p) for p in sorted(glob.glob(os.path.join(raw, s + "-metrics*.txt"))))
            pat = r"^%s\{([^}]*)\} ([0-9.eE+]+)$" % re.escape(name)
            return sum(float(v) for l, v in re.findall(pat, txt, re.M) if label is None or label in l)
        hits, misses = mt("chainroute", "chainroute_cache_lookups_total", 'result="hit"'), mt("chainroute", "chainroute_cache_lookups_total", 'result="miss"')
        w("## The response cache and chainroute's own answers: (d) cache on vs (d4) cache off\n")
        w("| concurrency | throughput on / off | change | SUT CPU µs/req on / off | change | upstream calls per request on / off |")
        w("|---|---|---|---|---|---|")
        for c in concs:
            a, b = med(("chainroute", c)), med(("nocache", c))
            ca, cb = med(("chainroute", c), cpu), med(("nocache", c), cpu)
            ua, ub = med(("chainroute", c), upcalls), med(("nocache", c), upcalls)
            if a and b and ca and cb:
                w("| c=%d | %.0f / %.0f | %+.1f%% | %.1f / %.1f | %+.1f%% | %s |" % (
                    c, a, b, (a / b - 1) * 100, ca, cb, (ca / cb - 1) * 100,
                    "%.3f / %.3f (%.0f%% fewer)" % (ua, ub, (1 - ua / ub) * 100) if ua is not None and ub else "?"))
        local = mt("chainroute", "chainroute_requests_total", 'reason="local"')
        cached = mt("chainroute", "chainroute_requests_total", 'reason="cache_hit"')
        total = mt("chainroute", "chainroute_requests_total")
        w("\nOver (d)'s closed-loop rounds (chainroute's `/metrics` at the end of each, summed): cache lookups %d, hits "
          "%d (**hit ratio %.1f%%**); requests decided %d, answered by chainroute itself %d (%.1f%%: identity calls "
          "`local` %d, cache hits %d). A hit or a local answer costs one ext_proc round trip and no node call. "
          "Calibration loop %s ms (on) and %s ms (off).\n" % (
              hits + misses, hits, 100 * hits / max(1, hits + misses), total, local + cached,
              100 * (local + cached) / max(1, total), local, cached, calib("chainroute"), calib("nocache")))
    if "chainroute" in systems and "fastpath" in systems:
        w("## The fast path: (d) off vs (d1) on (`envoy.fastPath: true`)\n")
        w("| concurrency | throughput off / on | change | SUT CPU µs/req off / on | change | decided in Envoy off / on |")
        w("|---|---|---|---|---|---|")
        for c in concs:
            a, b = med(("chainroute", c)), med(("fastpath", c))
            ca, cb = med(("chainroute", c), cpu), med(("fastpath", c), cpu)
            if a and b and ca and cb:
                w("| c=%d | %.0f / %.0f | %+.1f%% | %.1f / %.1f | %+.1f%% | %s / %s |" % (
                    c, a, b, (b / a - 1) * 100, ca, cb, (cb / ca - 1) * 100, decided("chainroute", c), decided("fastpath", c)))
        w("\nWith the fast path, Envoy's Lua filter routes the calls chainroute's tables say are head reads without an "
          "ext_proc call; the rest (old state, batches, calls chainroute answers itself) still go to the processor. "
          "Calibration loop %s ms (off) and %s ms (on).\n" % (calib("chainroute"), calib("fastpath")))
    # targets: each computed from the raw outputs
    w("## Targets (issue #13)\n")
    w("Every row is computed from this run's raw outputs; (d) is chainroute as shipped, (d1) the same with the fast "
      "path on. Throughput ratios compare medians at the same concurrency; against the peers, each system's best "
      "median over the concurrencies.\n")
    w("| target | system | measured | verdict |")
    w("|---|---|---|---|")

    def verdict(ok, miss):
        return "**met**" if ok else "**missed** (%s)" % miss

    def row(target, s, measured, v):
        w("| %s | %s | %s | %s |" % (target, NAMES[s].split(" ")[0] if s in NAMES else s, measured, v))

    cands = [s for s in ("chainroute", "fastpath") if s in systems]
    nm = "**not measured**"
    for s in cands:
        for c in concs:
            a, b = med((s, c)), med(("plain", c))
            if a and b:
                row("throughput ≥ 80%% of plain Envoy, c=%d" % c, s, "%.0f / %.0f = %.0f%%" % (a, b, a / b * 100),
                    verdict(a / b >= 0.8, "by %.0f points" % ((0.8 - a / b) * 100)))
            else:
                row("throughput ≥ 80%% of plain Envoy, c=%d" % c, s, "—", nm)
    if "floor" in systems and "plain" in systems:
        for c in concs:
            f, b = med(("floor", c)), med(("plain", c))
            if f and b:
                w("| (reference: the ceiling of any ext_proc router) null processor / plain Envoy, c=%d | (c2) | %.0f / %.0f = "
                  "%.0f%% | %s |" % (c, f, b, f / b * 100, "80% is above what a processor on every request allows here"
                                     if f / b < 0.8 else "80% is reachable with a processor on every request"))
    for peer, need in (("erpc", 2.0), ("proxyd", 1.5)):
        for s in cands:
            t = "throughput ≥ %.1f× %s" % (need, NAMES[peer][4:])
            if peer in systems and best.get(peer):
                r = best[s] / best[peer]
                per = ", ".join("c=%d %.2f×" % (c, med((s, c)) / med((peer, c))) for c in concs if med((s, c)) and med((peer, c)))
                row(t, s, "%.0f / %.0f = %.2f× (%s)" % (best[s], best[peer], r, per),
                    verdict(r >= need, "by %.2f×" % (need - r)))
            else:
                why = ("built but did not answer with `bench/%s/`'s configuration" % peer
                       if read(os.path.join(raw, peer + "-start.log")) else "not in this run or not built")
                row(t, s, why, nm)
    for s in cands:
        for c in concs:
            a, b = med((s, c), cpu), med(("plain", c), cpu)
            if a and b:
                row("SUT CPU per request ≤ 1.3× plain Envoy's, c=%d" % c, s, "%.1f / %.1f µs = %.2f×" % (a, b, a / b),
                    verdict(a / b <= 1.3, "by %.2f×" % (a / b - 1.3)))
    for s in cands:
        for k, lim in (("p50", 0.1), ("p99", 0.5)):
            t = "added %s over plain Envoy at 10%% load ≤ %.1f ms" % (k, lim)
            if (s, k) in opened10 and ("plain", k) in opened10:
                d = statistics.median(opened10[(s, k)]) - statistics.median(opened10[("plain", k)])
                row(t, s, "%.3f − %.3f = %.3f ms" % (statistics.median(opened10[(s, k)]),
                                                    statistics.median(opened10[("plain", k)]), d),
                    verdict(d <= lim, "by %.3f ms" % (d - lim)))
            else:
                row(t, s, "—", nm)
    for peer in ("erpc", "proxyd"):
        for s in cands:
            t = "p99 lower than %s's at the common rate%s" % (NAMES[peer][4:], " (%s req/s)" % crate if crate else "")
            if (s, "p99") in common and (peer, "p99") in common:
                a, b = statistics.median(common[(s, "p99")]), statistics.median(common[(peer, "p99")])
                row(t, s, "%.3f vs %.3f ms" % (a, b), verdict(a < b, "%.3f ms higher" % (a - b)))
            else:
                row(t, s, "—" if rounds else "no common-rate point in this run", nm)
    for s in cands:
        c = load(os.path.join(raw, s + "-check.json"))
        t = "old-state requests all answered (the mix's %d)" % sum(1 for b in BODIES if b["archive"])
        if c:
            row(t, s, "%d / %d" % (c["archive_ok"], c["archive_needed"]),
                verdict(c["archive_needed"] and c["archive_ok"] == c["archive_needed"],
                        "%d unanswered" % (c["archive_needed"] - c["archive_ok"])))
        else:
            row(t, s, "—", nm)
    if head:
        p = head.get("p99_ms", 0)
        row("new head → Envoy endpoints p99 ≤ 100 ms", "chainroute", "%.1f ms (%d samples)" % (p, head.get("n", 0)),
            verdict(p <= 100 and head.get("n"), "by %.1f ms" % (p - 100)))
    else:
        row("new head → Envoy endpoints p99 ≤ 100 ms", "chainroute", "—", nm)
    if rss:
        mb = rss.get("chainroute_hwm_kb", 0) / 1024
        row("(earlier target) chainroute RSS ≤ 256 MB under load", "chainroute", "peak %.0f MB" % mb,
            verdict(mb <= 256, "by %.0f MB" % (mb - 256)))
    w("")
    notes = read(os.path.join(raw, "notes.md"))
    if notes:
        w("## Notes\n")
        w(notes)
    # build failures
    for s in ("erpc", "proxyd"):
        log = read(os.path.join(raw, s + "-build.log")).strip()
        if log and s not in systems:
            w("## %s: not built\n" % NAMES[s][4:])
            w("`%s` failed here:\n" % read(os.path.join(raw, s + "-build.cmd")).strip())
            log = re.sub(r"https?://[^/\s]+/", "<Go module proxy>/", log)
            w("```\n" + log[-3000:] + "\n```\n")
            w("The module proxy refuses the module itself (HTTP 403, also for the version list), so a `go.mod` "
              "that requires it fails at the same download; there is no other way to fetch it here.\n")
        start = read(os.path.join(raw, s + "-start.log")).strip()
        if start:
            w("## %s: built, did not answer\n" % NAMES[s][4:])
            w("The end of its log with `bench/%s/`'s configuration:\n\n```\n%s\n```\n" % (s, start[-3000:]))
    # raw
    w("## Raw outputs\n")
    w("<details><summary>every vegeta run (report -type=json, trimmed) and CPU ticks</summary>\n")
    w("```")
    for p in sorted(glob.glob(os.path.join(raw, "*-r*.json"))):
        if not (CLOSED.match(os.path.basename(p)) or re.search(r"-(open|common)-r\d+\.json$", p)):
            continue
        r = load(p)
        if not r:
            continue
        ct = load(p[:-5] + ".cpu.json", {})
        lt = r.get("latencies", {})
        w("%s: requests=%d rate=%.0f throughput=%.0f success=%.4f p50=%.3fms p99=%.3fms max=%.3fms codes=%s sut_ticks=%s up_ticks=%s load_ticks=%s machine_ticks=%s envoy_rq=%s envoy_extproc_streams=%s errors=%s" % (
            os.path.basename(p)[:-5], r["requests"], r["rate"], r["throughput"], r["success"], lt.get("50th", 0) / 1e6,
            lt.get("99th", 0) / 1e6, lt.get("max", 0) / 1e6, json.dumps(r.get("status_codes")), ct.get("sut_ticks"),
            ct.get("up_ticks"), ct.get("load_ticks"), ct.get("machine_ticks"), ct.get("envoy_rq", "—"),
            ct.get("envoy_extproc_streams", "—"), (r.get("errors") or [])[:2]))
    for p in sorted(glob.glob(os.path.join(raw, "*-open*-r*.lat.json")) + glob.glob(os.path.join(raw, "*-common-r*.lat.json"))):
        w("%s: %s" % (os.path.basename(p), read(p).strip()))
    w("```\n</details>\n")
    for name, title in (("headprobe.json", "head probe"), ("jmh.txt", "JMH"), ("env.json", "environment")):
        t = read(os.path.join(raw, name)).strip()
        if t:
            w("<details><summary>%s</summary>\n\n```\n%s\n```\n</details>\n" % (title, t[-6000:]))
    for s in systems:
        t = read(os.path.join(raw, s + "-check.json")).strip()
        if t:
            w("<details><summary>%s: mix check</summary>\n\n```\n%s\n```\n</details>\n" % (NAMES[s], t))
    with open(out, "w") as f:
        f.write("\n".join(L) + "\n")


def jfrtop(path, n=25):
    import subprocess
    out = subprocess.run(["jfr", "print", "--json", "--events", "jdk.ExecutionSample", path],
                         capture_output=True, check=True).stdout
    events = json.loads(out)["recording"]["events"]
    selfc, incl, threads, groups = {}, {}, {}, {}

    def name(f):
        m = f["method"]
        return "%s.%s" % (m["type"]["name"].split("/")[-1] if False else m["type"]["name"], m["name"])

    def group(fr):
        for f in fr:
            t = f["method"]["type"]["name"]
            if t.startswith("io/chainroute/"):
                return "chainroute: " + "/".join(t.split("/")[2:3])
        top = fr[0]["method"]["type"]["name"] if fr else "?"
        for pre, g in (("io/grpc/netty/shaded/io/netty", "netty"), ("io/grpc/netty/shaded/io/grpc/netty", "grpc-netty"),
                       ("io/grpc/", "grpc"), ("com/google/protobuf", "protobuf"), ("io/envoyproxy", "envoy protos"),
                       ("com/fasterxml/jackson", "jackson"), ("java/", "jdk"), ("sun/", "jdk"), ("jdk/", "jdk")):
            if top.startswith(pre):
                return g
        return "other"
    for e in events:
        fr = e["values"]["stackTrace"]["frames"] if e["values"].get("stackTrace") else []
        th = (e["values"].get("sampledThread") or {}).get("javaName", "?")
        th = re.sub(r"\d+", "N", th)
        threads[th] = threads.get(th, 0) + 1
        if not fr:
            continue
        selfc[name(fr[0])] = selfc.get(name(fr[0]), 0) + 1
        for x in {name(f) for f in fr}:
            incl[x] = incl.get(x, 0) + 1
        g = group(fr)
        groups[g] = groups.get(g, 0) + 1
    tot = max(1, len(events))
    print("%d execution samples" % len(events))
    for title, d, k in (("threads", threads, 10), ("where the top frame is (grouped; chainroute = any chainroute frame on the stack)", groups, 15),
                        ("self (top frame)", selfc, n), ("inclusive", incl, n)):
        print("\n## %s" % title)
        for key, v in sorted(d.items(), key=lambda kv: -kv[1])[:k]:
            print("%5.1f%%  %s" % (v * 100 / tot, key))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "targets":
        targets(sys.argv[2], sys.argv[3:])
    elif cmd == "check":
        check(sys.argv[2:])
    elif cmd == "latency":
        latency(sys.argv[2])
    elif cmd == "jfrtop":
        jfrtop(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 25)
    elif cmd == "rates":
        rates(sys.argv[2], sys.argv[3:])
    elif cmd == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
