package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.Sidecar;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.Classification;
import io.chainroute.chain.FastPathTable;
import io.chainroute.chain.evm.EvmAdapter;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.contract.EnvoyContract;
import io.chainroute.height.ChainView;
import io.chainroute.routing.Decision;
import io.chainroute.routing.Pool;
import io.chainroute.routing.RoutingPolicy;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The differential test of the in-Envoy fast path (issue 13 item 2): a real Envoy with {@code
 * envoy.fastPath: true}, chainroute and two real anvil nodes (a pruned full node and an archive).
 * Every request of three corpora (the method table crossed with block parameters, the benchmark
 * mix, a seeded fuzz of both) goes through Envoy; one the fast path routed (response header {@link
 * EnvoyContract#DECIDED_HEADER}) must be one chainroute's own classifier and routing policy send to
 * the head pool, and every other one must have gone through ext_proc (Envoy's count of ext_proc
 * streams grows by exactly the number deferred).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FastPathIT {
  private static final int PRUNE = 16;
  private static final String ADDR = "0x000000000000000000000000000000000000bEEF";
  private static final String HASH = "0x" + "ab".repeat(32);

  private Path dir;
  private AnvilProcess full;
  private AnvilProcess archive;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private ChainrouteConfig config;
  private ChainAdapter adapter;
  private ChainAdapter adapterNc;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  void start() throws IOException {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-fastpath-it");
    full = AnvilProcess.start(dir, "full", PRUNE);
    archive = AnvilProcess.start(dir, "archive", null);
    for (AnvilProcess n : List.of(full, archive)) {
      n.mine(PRUNE * 4);
    }
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    String yaml =
        """
        server:
          xdsPort: %d
          extProcPort: %d
          adminHttpPort: %d
          adminGrpcPort: %d
          xdsCoalesce: 20ms
        envoy:
          listenerPort: %d
          adminPort: %d
          exposeUpstreamHeader: true
          fastPath: true
        chains:
          - name: eth-fp
            protocol: evm
            pathPrefix: /eth
            maxLagBlocks: 0
            fullNodeStateBlocks: %d
            pollInterval: 100ms
            blockTime: 500ms
            probeTimeout: 500ms
            # A method the policy refuses must never be routed by the fast path.
            methods: { deny: [eth_getProof] }
            nodes:
              - { name: full, url: "%s" }
              - { name: archive, url: "%s", archive: true }
          # The same nodes without the response cache: block numbers far back go to the archive
          # in Envoy too (with the cache on they are chainroute's to answer).
          - name: eth-nc
            protocol: evm
            pathPrefix: /nc
            maxLagBlocks: 0
            fullNodeStateBlocks: %d
            pollInterval: 100ms
            blockTime: 500ms
            probeTimeout: 500ms
            cache: { enabled: false }
            methods: { deny: [eth_getProof] }
            nodes:
              - { name: full, url: "%s" }
              - { name: archive, url: "%s", archive: true }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                Ports.free(),
                Ports.free(),
                listener,
                envoyAdmin,
                PRUNE,
                full.url(),
                archive.url(),
                PRUNE,
                full.url(),
                archive.url());
    config = ConfigLoader.parse(yaml);
    adapter = new EvmAdapter().forChain(config.chains().get(0));
    adapterNc = new EvmAdapter().forChain(config.chains().get(1));
    sidecar = Sidecar.start(config);
    await("both nodes synced")
        .atMost(Duration.ofSeconds(15))
        .until(
            () -> {
              ChainView v = view("eth-fp");
              ChainView w = view("eth-nc");
              return v != null
                  && v.headUsable()
                  && v.archiveUsable()
                  && w != null
                  && w.archiveUsable();
            });
    envoy = EnvoyProcess.start(dir, config, "fastpath-envoy", listener, envoyAdmin);
    await("requests flow through Envoy")
        .atMost(Duration.ofSeconds(20))
        .until(() -> Rpc.post(envoy.url("/eth"), Rpc.call("eth_chainId", "[]")).status() == 200);
    // The number bounds arrive over ECDS (the bootstrap's default has none).
    await("the fast path's configuration applied")
        .atMost(Duration.ofSeconds(20))
        .until(() -> statSum("extension_config_discovery", "config_reload") >= 1);
  }

  @AfterAll
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {envoy, sidecar, full, archive}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing the rest
      }
    }
  }

  private ChainView view(String chain) {
    return sidecar.tracker().topology().chain(chain);
  }

  @Test
  @Order(1)
  void fastPathAndChainrouteDecideAlikeOnTableMixAndFuzz() throws Exception {
    List<String> table = tableCorpus();
    List<String> mix = mixCorpus();
    List<String> fuzz = fuzzCorpus(table, mix, 600);
    Tally t = new Tally();
    long streamsBefore = stat("http.rpc.ext_proc.streams_started");
    int tableFast = run("/eth", table, t);
    int mixFast = run("/eth", mix, t);
    int fuzzFast = run("/eth", fuzz, t);
    Tally nc = new Tally();
    int tableFastNc = run("/nc", table, nc);
    int fuzzFastNc = run("/nc", fuzz, nc);
    t.disagreements.addAll(nc.disagreements);
    t.deferred += nc.deferred;
    long streams = stat("http.rpc.ext_proc.streams_started") - streamsBefore;
    System.out.printf(
        "fast path decided: table %d/%d, bench mix %d/%d (%.1f%%), fuzz %d/%d; without cache:"
            + " table %d/%d, fuzz %d/%d; numbers: %d to the head pool, %d to the archive%n",
        tableFast,
        table.size(),
        mixFast,
        mix.size(),
        100.0 * mixFast / mix.size(),
        fuzzFast,
        fuzz.size(),
        tableFastNc,
        table.size(),
        fuzzFastNc,
        fuzz.size(),
        t.numbersHead + nc.numbersHead,
        nc.numbersArchive);
    assertThat(t.disagreements).as("requests the fast path routed differently").isEmpty();
    // Everything the fast path left alone went through ext_proc, and nothing it routed did.
    assertThat(streams).as("ext_proc streams").isEqualTo(t.deferred);
    // The fast path does decide: every head tag read in the mix (eth_getBalance, eth_call).
    assertThat(mixFast).as("bench mix decided in Envoy").isGreaterThanOrEqualTo(mix.size() / 3);
    assertThat(tableFast).isPositive();
    assertThat(fuzzFast).isPositive();
    // Block numbers inside the published bounds are decided in Envoy, to both pools.
    assertThat(nc.numbersHead).as("numbers to the head pool (no cache)").isPositive();
    assertThat(nc.numbersArchive).as("numbers to the archive pool (no cache)").isPositive();
  }

  /**
   * chainroute killed: Envoy keeps deciding head tags, keeps the number bounds only for their
   * lifetime (then those reads go the way everything goes without chainroute: fail open to the head
   * pool), and no request fails meanwhile.
   */
  @Test
  @Order(2)
  void withChainrouteGoneTheBoundsExpireAndNoRequestFails() throws Exception {
    long head = view("eth-nc").head();
    String tag = Rpc.call("eth_getBalance", "[\"" + ADDR + "\",\"latest\"]");
    String recent =
        Rpc.call("eth_getBalance", "[\"" + ADDR + "\",\"0x" + Long.toHexString(head - 1) + "\"]");
    assertThat(fast("/nc", tag)).isTrue();
    assertThat(fast("/nc", recent)).as("a recent number, decided in Envoy").isTrue();
    long ttl = io.chainroute.routing.FastPathBounds.ttlMillis(config.chains().get(1));
    // /status shows the configuration's type among the Envoy's, sent and ACKed.
    JsonNode status =
        Rpc.JSON.readTree(
            http.send(
                    HttpRequest.newBuilder(
                            URI.create(
                                "http://127.0.0.1:" + config.server().adminHttpPort() + "/status"))
                        .build(),
                    HttpResponse.BodyHandlers.ofString())
                .body());
    assertThat(status.toString()).contains(io.chainroute.xds.FastPathConfigs.TYPE_URL);
    sidecar.close();
    long killed = System.nanoTime();
    int sent = 0;
    double expiredAfter = -1;
    // Until past the bounds' lifetime, as fast as one client sends.
    while (System.nanoTime() - killed < Duration.ofMillis(ttl * 3 / 4 + 3_000).toNanos()) {
      assertThat(fast("/nc", tag)).as("head tags stay decided in Envoy").isTrue();
      sent += 2;
      if (!fast("/nc", recent) && expiredAfter < 0) {
        expiredAfter = (System.nanoTime() - killed) / 1e9;
      }
    }
    System.out.printf(
        "chainroute killed: number bounds expired after %.1f s (lifetime in Envoy %d s); %d"
            + " requests, every one answered%n",
        expiredAfter, ttl * 3 / 4 / 1000, sent);
    assertThat(expiredAfter).as("seconds until Envoy stopped using the bounds").isPositive();
    assertThat(expiredAfter).isLessThanOrEqualTo(ttl * 0.75 / 1000.0 + 2);
  }

  /** Sends one body; true when the fast path routed it. Fails on anything but HTTP 200. */
  private boolean fast(String path, String body) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(envoy.url(path)))
                .timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("%s -> %s", body, r.body()).isEqualTo(200);
    return r.headers()
        .firstValue(EnvoyContract.DECIDED_HEADER)
        .filter("fast-path"::equals)
        .isPresent();
  }

  /** Counts and disagreements across the corpora. */
  private static final class Tally {
    final List<String> disagreements = new ArrayList<>();
    long deferred;
    long numbersHead;
    long numbersArchive;
  }

  /** Sends each body through Envoy and checks it against chainroute; returns how many were fast. */
  private int run(String path, List<String> bodies, Tally t) throws Exception {
    int fast = 0;
    for (String body : bodies) {
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create(envoy.url(path)))
                  .timeout(Duration.ofSeconds(10))
                  .header("content-type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofByteArray(bytes))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      boolean byEnvoy =
          r.headers()
              .firstValue(EnvoyContract.DECIDED_HEADER)
              .filter("fast-path"::equals)
              .isPresent();
      if (!byEnvoy) {
        t.deferred++;
        continue;
      }
      fast++;
      boolean nc = path.equals("/nc");
      String java = javaDecision(nc ? adapterNc : adapter, view(nc ? "eth-nc" : "eth-fp"), bytes);
      String upstream = r.headers().firstValue(EnvoyContract.UPSTREAM_HEADER).orElse("");
      String pool =
          upstream.endsWith(":" + URI.create(archive.url()).getPort()) ? "archive" : "head";
      String expected = pool.equals("archive") ? "route archive archive" : "route head recent";
      if (!java.equals(expected) || r.statusCode() != 200) {
        t.disagreements.add(java + " vs " + pool + " status " + r.statusCode() + ": " + body);
      }
      if (!body.contains("\"latest\"") && !body.contains("\"pending\"")) {
        if (pool.equals("archive")) {
          t.numbersArchive++;
        } else {
          t.numbersHead++;
        }
      }
    }
    return fast;
  }

  /** chainroute's own decision: its adapter's classification and its routing policy. */
  private static String javaDecision(ChainAdapter adapter, ChainView view, byte[] body) {
    Classification c = adapter.classify("POST", body);
    if (!(c instanceof Classification.Forward f)) {
      return c.getClass().getSimpleName();
    }
    Decision d = RoutingPolicy.decide(f.requirements(), view);
    if (d instanceof Decision.Route route) {
      return "route "
          + (route.pool() == Pool.HEAD ? "head" : route.pool().id())
          + " "
          + route.reason().id();
    }
    return d.getClass().getSimpleName();
  }

  /** Every method of the table (and some outside it) crossed with every kind of block parameter. */
  private List<String> tableCorpus() {
    FastPathTable fp = adapter.fastPath();
    assertThat(fp).isNotNull();
    assertThat(fp.methods()).doesNotContainKey("eth_getProof");
    List<String> methods = new ArrayList<>(fp.methods().keySet());
    methods.addAll(
        List.of(
            "eth_getProof",
            "eth_getLogs",
            "eth_getBlockByHash",
            "debug_traceCall",
            "debug_traceBlockByNumber",
            "trace_block",
            "eth_sendRawTransaction",
            "eth_newFilter",
            "eth_getFilterChanges",
            "eth_chainId",
            "eth_blockNumber",
            "eth_gasPrice",
            "eth_getTransactionReceipt",
            "no_suchMethod"));
    long head = view("eth-fp").head();
    List<String> blocks =
        new ArrayList<>(
            List.of(
                "\"latest\"",
                "\"pending\"",
                "\"safe\"",
                "\"finalized\"",
                "\"earliest\"",
                "\"0x" + Long.toHexString(Math.max(1, head - PRUNE * 3)) + "\"",
                "\"0x1\"",
                "\"0x0\"",
                "\"0x00\"",
                "\"0x" + Long.toHexString(head).toUpperCase(java.util.Locale.ROOT) + "A\"",
                "\"0x" + "f".repeat(14) + "\"",
                "\"" + HASH + "\"",
                "{\"blockNumber\":\"latest\"}",
                "{\"blockHash\":\"" + HASH + "\"}",
                "null",
                "7",
                "\"LATEST\""));
    // Every number from beyond the window to past the head: both bounds and the gap between.
    for (long n = Math.max(0, head - PRUNE * 2); n <= head + 6; n++) {
      blocks.add("\"0x" + Long.toHexString(n) + "\"");
    }
    List<String> out = new ArrayList<>();
    int id = 1;
    for (String m : methods) {
      int pos = fp.methods().containsKey(m) ? fp.methods().get(m).position() : 1;
      for (String b : blocks) {
        StringBuilder params = new StringBuilder("[");
        for (int i = 0; i < pos; i++) {
          params.append(i == 0 ? "\"" + ADDR + "\"," : "\"0x0\",");
        }
        params.append(b).append(']');
        out.add(
            "{\"jsonrpc\":\"2.0\",\"id\":"
                + id++
                + ",\"method\":\""
                + m
                + "\",\"params\":"
                + params
                + "}");
      }
      if (fp.methods().containsKey(m) && fp.methods().get(m).filter()) {
        // A log filter: the block is its fromBlock; other keys and spellings around it.
        List<String> filters =
            new ArrayList<>(
                List.of(
                    "{}",
                    "{\"address\":\"" + ADDR + "\"}",
                    "{\"blockHash\":\"" + HASH + "\"}",
                    "{\"fromBlock\":\"latest\",\"blockHash\":\"" + HASH + "\"}",
                    "{\"fromBlock\":\"latest\",\"toBlock\":\"latest\",\"limit\":5}",
                    "{\"fromBlock\":\"latest\",\"fromBlock\":\"0x1\"}",
                    "{\"topics\":[[\"" + HASH + "\"],null],\"toBlock\":7}"));
        for (String b : blocks) {
          filters.add("{\"address\":\"" + ADDR + "\",\"fromBlock\":" + b + ",\"topics\":[]}");
          filters.add("{\"fromBlock\":" + b + ",\"toBlock\":\"latest\"}");
          filters.add("{\"fromBlock\":\"latest\",\"toBlock\":" + b + "}");
        }
        for (String f : filters) {
          out.add(
              "{\"jsonrpc\":\"2.0\",\"id\":"
                  + id++
                  + ",\"method\":\""
                  + m
                  + "\",\"params\":["
                  + f
                  + "]}");
        }
      }
      // The block parameter left out (chainroute reads latest; the fast path defers).
      out.add("{\"jsonrpc\":\"2.0\",\"id\":" + id++ + ",\"method\":\"" + m + "\",\"params\":[]}");
    }
    return out;
  }

  private static List<String> mixCorpus() throws IOException {
    List<String> out = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("bench/mix/bodies.jsonl"))) {
      JsonNode n = Rpc.JSON.readTree(line);
      out.add(n.get("body").asText());
    }
    assertThat(out).hasSizeGreaterThan(100);
    return out;
  }

  /** Seeded mutations of the other corpora: whitespace, escapes, duplicates, damage, wrappers. */
  private static List<String> fuzzCorpus(List<String> table, List<String> mix, int n) {
    Random rnd = new Random(13);
    List<String> seeds = new ArrayList<>(table);
    seeds.addAll(mix);
    String[] junk = {
      " ", "\n", "\t", "\"", "\\", ",", ":", "{", "}", "[", "]", "0", "-", "e", "\u00e9", "\u0000"
    };
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String s = seeds.get(rnd.nextInt(seeds.size()));
      int at = rnd.nextInt(s.length() + 1);
      String m =
          switch (rnd.nextInt(14)) {
            case 0 -> s.substring(0, at) + junk[rnd.nextInt(junk.length)] + s.substring(at);
            case 1 -> s.substring(0, at);
            case 2 -> at < s.length() ? s.substring(0, at) + s.substring(at + 1) : s + "x";
            case 3 -> s.replace(",", " , ").replace(":", "\n:\t");
            case 4 -> s.replace("\"latest\"", "\"l\\u0061test\"");
            case 5 -> s.replace("\"method\":\"eth_", "\"method\":\"eth\\u005f");
            case 6 -> s.replaceFirst("\\{", "{\"id\":1,");
            case 7 -> "[" + s + "]";
            case 8 -> s.replace("\"2.0\"", "\"1.0\"");
            case 9 -> s.replaceFirst("\"id\":[^,]*,", "\"id\":null,");
            case 10 -> s.replaceFirst("\"id\":[^,]*,", "");
            case 11 -> s.replace("}", ",\"extra\":true}");
            case 12 -> s + " {}";
            default -> s.replace("\"latest\"", "\"latest\",{\"deep\":[[[[1e5,-0.5,true,null]]]]}");
          };
      out.add(m);
    }
    return out;
  }

  /** The sum of Envoy's counters whose names contain both parts. */
  private long statSum(String a, String b) {
    long sum = 0;
    for (String line : envoy.admin("/stats?filter=" + a).split("\n")) {
      int colon = line.lastIndexOf(": ");
      if (line.contains(b) && colon > 0 && line.substring(colon + 2).matches("\\d+")) {
        sum += Long.parseLong(line.substring(colon + 2));
      }
    }
    return sum;
  }

  private long stat(String name) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("(?m)^" + java.util.regex.Pattern.quote(name) + ": (\\d+)$")
            .matcher(envoy.admin("/stats?filter=" + name));
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }
}
