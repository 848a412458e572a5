package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Answers from chainroute through a real Envoy, over real geth nodes of one Clique chain (no
 * finality tag: 3 confirmations count as final here): identity calls answered by chainroute, a
 * differential test of the response cache (the node's bytes, then the same bytes from the store),
 * and a drill counting {@code eth_blockNumber} answers that go backwards while nodes fail.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CacheIT {
  static final int CONFIRMATIONS = 3;
  Path dir;
  GethNet net;
  DrillRig rig;
  String url;

  @BeforeAll
  void start() throws IOException {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-cache");
    net = GethNet.start(dir, "full-1", "full", "archive", "archive");
    String chains =
        GethDrill.chain("eth", "/eth", net.nodes())
            .replace(
                "    nodes:\n",
                "    cache: { confirmations: " + CONFIRMATIONS + " }\n    nodes:\n");
    rig = DrillRig.start(dir, "cache", "chains:\n" + chains);
    rig.awaitServing("eth", "/eth", List.of("sealer", "full-1"));
    url = rig.envoy().url("/eth");
  }

  @AfterAll
  void stop() {
    if (rig != null) {
      rig.close();
    }
    if (net != null) {
      net.close();
    }
  }

  private static String call(String id, String method, String params) {
    return "{\"jsonrpc\":\"2.0\",\"id\":"
        + id
        + ",\"method\":\""
        + method
        + "\",\"params\":"
        + params
        + "}";
  }

  /** The sum of the series {@code name} whose labels include every {@code labels} pair. */
  private double metric(String name, String... labels) {
    double sum = 0;
    for (String line : Rpc.get(rig.chainroute.adminUrl("/metrics")).split("\n")) {
      if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) {
        continue;
      }
      boolean all = true;
      for (String l : labels) {
        all &= line.contains(l);
      }
      if (all) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  @Test
  void chainIdNetVersionAndBlockNumberAreAnsweredByChainrouteAsTheNodeWould() {
    for (String m : List.of("eth_chainId", "net_version")) {
      String req = call("\"id-\\u00e9-7\"", m, "[]");
      Rpc.Reply direct = Rpc.post(net.sealer().url(), req);
      Rpc.Reply through = Rpc.post(url, req);
      assertThat(through.status()).isEqualTo(200);
      assertThat(through.body()).as(m).isEqualTo(direct.body());
      assertThat(through.upstream()).as("no node saw " + m).isEmpty();
    }
    Rpc.Reply n = Rpc.post(url, call("5", "eth_blockNumber", "[]"));
    assertThat(n.upstream()).isEmpty();
    long answered = Long.decode(n.json().get("result").asText());
    assertThat(answered).isBetween(net.sealer().blockNumber() - 2, net.sealer().blockNumber());
    assertThat(n.body()).endsWith("}\n"); // geth's trailer, as the nodes write it
    assertThat(
            metric(
                "chainroute_requests_total{chain=\"eth\",method=\"eth_chainId\",pool=\"none\",reason=\"local\"}"))
        .isPositive();
  }

  /** A transaction in a block, and that block final; returns the tx hash. */
  private String finalTransaction() {
    JsonNode sent =
        net.sealer()
            .rpc(
                "eth_sendTransaction",
                "[{\"from\":\""
                    + net.account()
                    + "\",\"to\":\"0x000000000000000000000000000000000000dEaD\",\"value\":\"0x1\"}]");
    String hash = sent.get("result").asText();
    AtomicLong block = new AtomicLong(-1);
    Awaitility.await("receipt final on every node")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              JsonNode r = net.sealer().rpc("eth_getTransactionReceipt", "[\"" + hash + "\"]");
              if (r.path("result").isNull() || !r.has("result")) {
                return false;
              }
              block.set(Long.decode(r.get("result").get("blockNumber").asText()));
              return net.nodes().stream()
                  .allMatch(n -> n.blockNumber() >= block.get() + CONFIRMATIONS + 2);
            });
    return hash;
  }

  @Test
  void cachedAnswersAreByteForByteTheNodesAndTheSecondNeverReachesANode() {
    String tx = finalTransaction();
    JsonNode receipt =
        net.sealer().rpc("eth_getTransactionReceipt", "[\"" + tx + "\"]").get("result");
    String block = receipt.get("blockNumber").asText();
    String blockHash = receipt.get("blockHash").asText();
    String account = "\"" + net.account() + "\"";
    List<String> requests =
        List.of(
            call("1", "eth_getBlockByNumber", "[\"" + block + "\",false]"),
            call("2", "eth_getBlockByNumber", "[\"" + block + "\",true]"),
            call("3", "eth_getBlockByHash", "[\"" + blockHash + "\",false]"),
            call("4", "eth_getTransactionByHash", "[\"" + tx + "\"]"),
            call("5", "eth_getTransactionReceipt", "[\"" + tx + "\"]"),
            call("6", "eth_getBalance", "[" + account + ",\"" + block + "\"]"),
            call("7", "eth_getTransactionCount", "[" + account + ",\"" + block + "\"]"),
            call("8", "eth_getCode", "[" + account + ",{\"blockNumber\":\"" + block + "\"}]"),
            call("\"s\"", "eth_getLogs", "[{\"fromBlock\":\"0x1\",\"toBlock\":\"" + block + "\"}]"),
            call("9", "eth_getBlockReceipts", "[\"" + block + "\"]"),
            "["
                + call("10", "eth_getBlockByNumber", "[\"0x1\",false]")
                + ","
                + call("11", "eth_chainId", "[]")
                + ","
                + call("12", "eth_getBlockTransactionCountByNumber", "[\"" + block + "\"]")
                + "]");
    double hits = metric("chainroute_cache_lookups_total", "chain=\"eth\"", "result=\"hit\"");
    double misses = metric("chainroute_cache_lookups_total", "chain=\"eth\"", "result=\"miss\"");
    for (String req : requests) {
      String direct = Rpc.post(net.node("full-1").url(), req).body();
      assertThat(direct).as(req).doesNotContain("\"error\"");
      Rpc.Reply miss = Rpc.post(url, req);
      assertThat(miss.body()).as("miss: " + req).isEqualTo(direct);
      assertThat(miss.upstream()).as("a node answered the miss").isNotEmpty();
      Rpc.Reply hit = Rpc.post(url, req);
      assertThat(hit.body()).as("hit: " + req).isEqualTo(direct);
      assertThat(hit.upstream()).as("no node saw the hit: " + req).isEmpty();
    }
    // Another id: the same bytes around the client's id.
    String other = requests.get(4).replace("\"id\":5", "\"id\":\"other\"");
    assertThat(Rpc.post(url, other).body()).isEqualTo(Rpc.post(net.sealer().url(), other).body());
    assertThat(metric("chainroute_cache_lookups_total", "chain=\"eth\"", "result=\"hit\"") - hits)
        .isEqualTo(requests.size() + 1);
    assertThat(
            metric("chainroute_cache_lookups_total", "chain=\"eth\"", "result=\"miss\"") - misses)
        .isEqualTo(requests.size());
    assertThat(metric("chainroute_cache_bytes")).isPositive();
  }

  @Test
  void unfinalizedAndLatestDataAlwaysComeFromANode() {
    long head = net.sealer().blockNumber();
    for (String req :
        List.of(
            call("1", "eth_getBlockByNumber", "[\"0x" + Long.toHexString(head) + "\",false]"),
            call("2", "eth_getBlockByNumber", "[\"latest\",false]"),
            call("3", "eth_getBalance", "[\"" + net.account() + "\",\"latest\"]"))) {
      for (int i = 0; i < 2; i++) {
        assertThat(Rpc.post(url, req).upstream()).as(req).isNotEmpty();
      }
    }
  }

  @Test
  void blockNumberNeverGoesBackwardsUnderLoadWhileNodesFail() throws Exception {
    AtomicLong maxSeen = new AtomicLong(-1);
    AtomicLong answers = new AtomicLong();
    List<String> backwards = new CopyOnWriteArrayList<>();
    List<String> failures = new CopyOnWriteArrayList<>();
    long end = System.nanoTime() + Duration.ofSeconds(12).toNanos();
    List<Thread> clients = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      Thread c =
          new Thread(
              () -> {
                while (System.nanoTime() < end) {
                  long before = maxSeen.get();
                  Rpc.Reply r;
                  try {
                    r = Rpc.post(url, call("1", "eth_blockNumber", "[]"));
                  } catch (RuntimeException e) {
                    failures.add(e.toString());
                    continue;
                  }
                  JsonNode result = r.json().get("result");
                  if (result == null) {
                    failures.add(r.body());
                    continue;
                  }
                  long n = Long.decode(result.asText());
                  answers.incrementAndGet();
                  if (n < before) {
                    backwards.add(n + " after " + before);
                  }
                  maxSeen.accumulateAndGet(n, Math::max);
                }
              });
      c.start();
      clients.add(c);
    }
    // Faults: the follower hangs, comes back, is killed and restarted; the sealer keeps sealing.
    GethNet.Node follower = net.node("full-1");
    Thread.sleep(2000);
    follower.hang();
    Thread.sleep(2500);
    follower.resume();
    Thread.sleep(1500);
    follower.kill();
    Thread.sleep(2000);
    follower.restart();
    for (Thread c : clients) {
      c.join();
    }
    net.heal();
    System.out.printf(
        "blockNumber drill: answers=%d backwards=%d failures=%d%n",
        answers.get(), backwards.size(), failures.size());
    assertThat(answers.get()).isGreaterThan(100);
    assertThat(backwards).isEmpty();
    assertThat(failures).isEmpty();
  }
}
