#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only).

  tool.py targets OUT URL...        vegeta JSON targets: every body of mix/bodies.jsonl, URLs in turn
  tool.py check URL...              send the mix once; id echo, errors, archive routing -> JSON
  tool.py latency CSV               p50/p99/p99.9 (ms) of a `vegeta encode -to=csv` file -> JSON
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
         "nocache": "(d4) Envoy + chainroute, cache off (cache.enabled: false)", "erpc": "(e) eRPC", "proxyd": "(f) proxyd"}
ORDER = ["direct", "plain", "json", "floor", "chainroute", "capped", "nometrics", "nocache", "erpc", "proxyd"]


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
    systems = [s for s in ORDER if glob.glob(os.path.join(raw, s + "-c*-r*.json"))]
    concs = sorted({int(re.search(r"-c(\d+)-", p).group(1)) for p in glob.glob(os.path.join(raw, "*-c*-r*.json"))
                    if not p.endswith(".cpu.json")})
    thr, cpu, upcpu, succ, other, upcalls, calls = {}, {}, {}, {}, {}, {}, {}
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
                if r["requests"]:
                    cpu.setdefault((s, c), []).append(ct.get("sut_ticks", 0) / hz * 1e6 / r["requests"])
                    upcpu.setdefault((s, c), []).append(ct.get("up_ticks", 0) / hz * 1e6 / r["requests"])
    med = lambda k, d=thr: statistics.median(d[k]) if k in d else None
    best = {s: max((med((s, c)) or 0) for c in concs) for s in systems}
    opened, opened10 = {}, {}
    for kind, dst in (("open", opened), ("open10", opened10)):
        for s in systems:
            for p in sorted(glob.glob(os.path.join(raw, "%s-%s-r*.lat.json" % (s, kind)))):
                r = load(p)
                if r:
                    for k in ("p50", "p99", "p999", "sent_rate"):
                        dst.setdefault((s, k), []).append(r[k])
                    dst.setdefault((s, "ok"), []).append(r["codes"].get("200", 0) / max(1, r["n"]))
    rate = read(os.path.join(raw, "open_rate")).strip()
    rate10 = read(os.path.join(raw, "open10_rate")).strip()
    L = []
    w = L.append
    w("# chainroute benchmark results\n")
    w("Written by `bench/run.sh` (%s mode) on %s. Rerun: `bench/run.sh` (about 25 min) or `QUICK=1 bench/run.sh` "
      "(about 5 min). How it is measured: `bench/README.md`.\n" % ("QUICK" if env.get("quick") else "full", env.get("date", "?")))
    w("**Machine:** %s, %s cores, %s. **Placement:** load generator (vegeta) and the three upstreams on CPU %s; "
      "the system under test (Envoy with one worker, plus chainroute's JVM where present) on CPU %s, the same for every "
      "system. Loopback only. Envoy %s, %s, Go %s, vegeta %s.\n" % (
          env.get("cpu", "?"), env.get("cores", "?"), env.get("kernel", "?"), env.get("load_cpu", "?"),
          env.get("sut_cpu", "?"), env.get("envoy", "?"), env.get("java", "?"), env.get("go", "?"), env.get("vegeta", "?")))
    w("**Mix:** `bench/mix/%s.jsonl` (%d bodies, %d JSON-RPC calls).\n" % (
        MIX, len(BODIES), sum(len(b["ids"]) for b in BODIES)))
    w("**Run:** %s s per closed-loop run, %s repeats, concurrencies %s; open loop %s s at %s req/s (50%% of plain "
      "Envoy's best closed-loop throughput), %s repeats, at most %s connections per target host (past them a request "
      "waits for one, and the wait counts in its latency). Cells are *median (min–max)* over the repeats.\n" % (
          env.get("dur"), env.get("reps"), ", ".join(map(str, concs)), env.get("open_dur"), rate or "?", env.get("reps"),
          env.get("open_conns", "unlimited")))
    w("## Throughput (successful requests/s, closed loop)\n")
    w("| system | " + " | ".join("c=%d" % c for c in concs) + " | CPU µs/req of the SUT (c=64) | upstreams' CPU µs/req (c=64) "
      "| other processes' CPU during the runs | calibration loop, ms (before → after) |")
    w("|---" * (len(concs) + 5) + "|")
    c64 = 64 if 64 in concs else concs[len(concs) // 2]
    for s in systems:
        cal = [read(os.path.join(raw, "%s-calib-%s" % (s, k))).strip() or "?" for k in ("before", "after")]
        w("| %s | %s | %s | %s | %s | %s |" % (NAMES[s], " | ".join(spread(thr.get((s, c), [])) for c in concs),
                                     spread(cpu.get((s, c64), []), "%.1f"),
                                     spread(upcpu.get((s, c64), []), "%.1f") if s != "direct" else "(= SUT)",
                                     spread(other.get(s, []), "%.0f%%"), "%s → %s" % tuple(cal)))
    w("\nThe SUT's CPU is utime+stime from /proc/<pid>/stat summed over every process of the system under test "
      "(Envoy; Envoy + chainroute's JVM; the upstreams for (a)), divided by the requests sent. 1e6 / that number is "
      "the request rate one fully busy core could sustain. The last column is the machine's busy time (/proc/stat) "
      "minus the SUT, the upstreams and vegeta, in % of one core: load from processes outside the benchmark that "
      "shared the machine (before each measurement the run waits up to 30 s for a quiet machine, 240 s in all). "
      "The calibration loop is a fixed CPU-bound Python loop on the SUT's core (best of 5), timed before and after each "
      "system's runs: the host is a shared VM whose speed drifts over minutes while the systems are measured one after "
      "another, so compare systems whose calibration agrees; a higher number means a slower machine at that moment.\n")
    for title, d, rt in (("50%% of plain Envoy's best: %s req/s (the issue's target load)", opened, rate),
                         ("10%% of plain Envoy's best: %s req/s (light load)", opened10, rate10)):
        if not d:
            continue
        w("## Latency at a fixed open-loop rate, " + title % (rt or "?") + "\n")
        w("| system | p50 ms | p99 ms | p99.9 ms | achieved send rate | HTTP 200 |")
        w("|---|---|---|---|---|---|")
        for s in systems:
            if (s, "p50") in d:
                w("| %s | %s | %s | %s | %s | %s |" % (NAMES[s], spread(d[(s, "p50")], "%.3f"), spread(d[(s, "p99")], "%.3f"),
                                                   spread(d[(s, "p999")], "%.3f"), spread(d[(s, "sent_rate")]),
                                                   spread([x * 100 for x in d[(s, "ok")]], "%.2f%%")))
        w("")
    w("\nvegeta's open model: requests leave on a fixed schedule whatever the answers do (workers are added as "
      "needed), so a slow answer does not hold back later requests and the percentiles are free of coordinated "
      "omission as long as the achieved send rate equals the target (the column above shows it).\n")
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
        txt = read(os.path.join(raw, s + "-envoy-extproc.txt"))
        if txt:
            ep[s] = {k.split(".")[-1]: int(v) for k, v in re.findall(r"^(http\.rpc\.ext_proc\.[a-z_]+): (\d+)$", txt, re.M)}
            ep[s]["overflow"] = sum(int(v) for v in re.findall(r"extproc\.upstream_rq_(?:pending_)?overflow: (\d+)", txt))
    if ep:
        w("## ext_proc as Envoy saw it (counters over each system's whole run)\n")
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
        cal = {s: [read(os.path.join(raw, "%s-calib-%s" % (s, k))).strip() or "?" for k in ("before", "after")]
               for s in ("chainroute", "nometrics")}
        w("\nMedians over the repeats; the two systems run one after the other (order: %s), calibration loop %s → %s ms "
          "(on) and %s → %s ms (off). Negative throughput change / positive CPU change is what the metrics cost; the "
          "decision log (DEBUG off) runs in both.\n" % (
              " then ".join(x for x in env.get("systems", "").split() if x in ("chainroute", "nometrics")) or "?",
              cal["chainroute"][0], cal["chainroute"][1], cal["nometrics"][0], cal["nometrics"][1]))
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
        def mt(s, name, label=None):
            txt = read(os.path.join(raw, s + "-metrics.txt"))
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
        cal = {x: [read(os.path.join(raw, "%s-calib-%s" % (x, k))).strip() or "?" for k in ("before", "after")]
               for x in ("chainroute", "nocache")}
        w("\nOver (d)'s whole run (chainroute's `/metrics` at its end): cache lookups %d, hits %d (**hit ratio %.1f%%**); "
          "requests decided %d, answered by chainroute itself %d (%.1f%%: identity calls `local` %d, cache hits %d). "
          "A hit or a local answer costs one ext_proc round trip and no node call. Calibration loop %s → %s ms (on) and "
          "%s → %s ms (off).\n" % (
              hits + misses, hits, 100 * hits / max(1, hits + misses), total, local + cached,
              100 * (local + cached) / max(1, total), local, cached,
              cal["chainroute"][0], cal["chainroute"][1], cal["nocache"][0], cal["nocache"][1]))
    # targets
    w("## Targets from issue #4\n")
    w("| target | measured | verdict |")
    w("|---|---|---|")

    def verdict(ok, miss):
        return "**met**" if ok else "**missed** (%s)" % miss

    if "chainroute" in systems and "plain" in systems:
        for base, need, label in (("plain", 0.65, "plain Envoy"), ("json", 0.75, "json_to_metadata")):
            if base not in systems:
                continue
            for c in concs:
                a, b = med(("chainroute", c)), med((base, c))
                if a and b:
                    r = a / b
                    w("| throughput ≥ %d%% of %s, c=%d | %.0f / %.0f = %.0f%% | %s |" % (
                        need * 100, label, c, a, b, r * 100, verdict(r >= need, "by %.0f points" % ((need - r) * 100))))
        if "floor" in systems and "plain" in systems:
            for c in concs:
                f, b, a = med(("floor", c)), med(("plain", c)), med(("chainroute", c))
                if f and b and a:
                    w("| (ceiling for any ext_proc router) null processor vs plain Envoy, c=%d | %.0f / %.0f = %.0f%%; "
                      "chainroute / null processor = %.0f%% | %s |" % (
                          c, f, b, f / b * 100, a / f * 100,
                          "the 65% target is above what Envoy's ext_proc allows here" if f / b < 0.65 else "the target is reachable"))
        if ("chainroute", "p50") in opened and ("plain", "p50") in opened:
            for k, lim in (("p50", 0.15), ("p99", 1.0)):
                d = statistics.median(opened[("chainroute", k)]) - statistics.median(opened[("plain", k)])
                w("| added %s over plain Envoy at 50%% load ≤ %.2f ms | %.3f ms | %s |" % (
                    k, lim, d, verdict(d <= lim, "by %.3f ms" % (d - lim))))
                if ("capped", k) in opened:
                    dc = statistics.median(opened[("capped", k)]) - statistics.median(opened[("plain", k)])
                    w("| (d2, extProcMaxRequests 256) added %s at 50%% load | %.3f ms | %s |" % (
                        k, dc, "within the target" if dc <= lim else "over by %.3f ms" % (dc - lim)))
                if ("chainroute", k) in opened10 and ("plain", k) in opened10:
                    d10 = statistics.median(opened10[("chainroute", k)]) - statistics.median(opened10[("plain", k)])
                    w("| (for reference) added %s at 10%% load | %.3f ms | %s |" % (
                        k, d10, "within the target" if d10 <= lim else "over by %.3f ms" % (d10 - lim)))
    for s, need in (("erpc", 1.3), ("proxyd", 1.5)):
        if s in systems and "chainroute" in systems:
            r = best["chainroute"] / best[s] if best[s] else 0
            w("| throughput ≥ %.1f× %s, lower p99 | %.2f× | %s |" % (need, s, r, verdict(r >= need, "by %.2f×" % (need - r))))
        else:
            why = ("it was built but did not answer with `bench/%s/`'s configuration" % s
                   if read(os.path.join(raw, s + "-start.log")) else "%s could not be built here" % NAMES[s][4:])
            w("| throughput ≥ %.1f× %s, lower p99 | not measured: %s | **not measured** |" % (need, NAMES[s][4:], why))
    if rss:
        mb = rss.get("chainroute_hwm_kb", 0) / 1024
        w("| chainroute RSS ≤ 256 MB under load | peak %.0f MB | %s |" % (mb, verdict(mb <= 256, "by %.0f MB" % (mb - 256))))
    if head:
        p = head.get("p99_ms", 0)
        w("| new head → Envoy endpoints p99 ≤ 100 ms | %.1f ms | %s |" % (p, verdict(p <= 100 and head.get("n"), "by %.1f ms" % (p - 100))))
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
    for p in sorted(glob.glob(os.path.join(raw, "*-c*-r*.json")) + glob.glob(os.path.join(raw, "*-open-r*.json"))):
        if p.endswith(".cpu.json") or p.endswith(".lat.json"):
            continue
        r = load(p)
        if not r:
            continue
        ct = load(p[:-5] + ".cpu.json", {})
        lt = r.get("latencies", {})
        w("%s: requests=%d rate=%.0f throughput=%.0f success=%.4f p50=%.3fms p99=%.3fms max=%.3fms codes=%s sut_ticks=%s up_ticks=%s load_ticks=%s machine_ticks=%s errors=%s" % (
            os.path.basename(p)[:-5], r["requests"], r["rate"], r["throughput"], r["success"], lt.get("50th", 0) / 1e6,
            lt.get("99th", 0) / 1e6, lt.get("max", 0) / 1e6, json.dumps(r.get("status_codes")), ct.get("sut_ticks"),
            ct.get("up_ticks"), ct.get("load_ticks"), ct.get("machine_ticks"), (r.get("errors") or [])[:2]))
    for p in sorted(glob.glob(os.path.join(raw, "*-open*-r*.lat.json"))):
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
    elif cmd == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
