package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.chain.NodeTag;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * Read-your-writes through a real Envoy and chainroute over real geth nodes of one chain (sealer,
 * full-1, full-2, archive): a transaction sent through chainroute is on every node when the client
 * hears back; a filter stays on the node that created it; with that node killed the client gets the
 * node's own JSON-RPC "filter not found", never a hang.
 */
class ReadYourWritesIT extends GethDrill {
  private static final String BEEF = "0x000000000000000000000000000000000000beef";

  private String via(String method, String params) {
    return Rpc.post(rig.envoy().url("/eth"), Rpc.call(method, params)).body();
  }

  private JsonNode viaJson(String method, String params) {
    return Rpc.post(rig.envoy().url("/eth"), Rpc.call(method, params)).json();
  }

  /** A transfer signed by the sealer's unlocked account, with the given nonce. */
  private String signed(long nonce) {
    JsonNode r =
        net.sealer()
            .rpc(
                "eth_signTransaction",
                "[{\"from\":\"%s\",\"to\":\"%s\",\"value\":\"0x1\",\"gas\":\"0x5208\",\"gasPrice\":\"0x3b9aca00\",\"nonce\":\"0x%x\"}]"
                    .formatted(net.account(), BEEF, nonce));
    assertThat(r.has("result")).as("eth_signTransaction: %s", r).isTrue();
    return r.get("result").get("raw").asText();
  }

  private long pendingNonce(GethNet.Node n) {
    return Long.decode(
        n.rpc("eth_getTransactionCount", "[\"" + net.account() + "\",\"pending\"]")
            .get("result")
            .asText());
  }

  @Test
  void aTransactionSentThroughChainrouteIsOnEveryNodeWhenTheClientHearsBack() {
    rig("ryw-tx");
    long nonce = pendingNonce(net.sealer());
    int sent = 5;
    int seenAtOnce = 0;
    List<String> hashes = new ArrayList<>();
    for (int i = 0; i < sent; i++) {
      long start = System.nanoTime();
      JsonNode r = viaJson("eth_sendRawTransaction", "[\"" + signed(nonce + i) + "\"]");
      long ms = (System.nanoTime() - start) / 1_000_000;
      assertThat(r.has("result")).as("accepted: %s", r).isTrue();
      String hash = r.get("result").asText();
      hashes.add(hash);
      // Right after the answer, on every node directly: the transaction and the pending nonce.
      for (GethNet.Node n : net.nodes()) {
        JsonNode tx = n.rpc("eth_getTransactionByHash", "[\"" + hash + "\"]").get("result");
        assertThat(tx).as("%s has %s at once", n.name, hash).isNotNull();
        assertThat(tx.isNull()).as("%s has %s at once", n.name, hash).isFalse();
        assertThat(pendingNonce(n)).as("%s pending nonce", n.name).isGreaterThan(nonce + i);
        seenAtOnce++;
      }
      DrillRig.report("ryw-tx", "tx=" + i + " answerMs=" + ms);
    }
    // Mined: the receipt on every node.
    for (String hash : hashes) {
      for (GethNet.Node n : net.nodes()) {
        Awaitility.await(n.name + " has the receipt of " + hash)
            .atMost(Duration.ofSeconds(10))
            .pollInterval(Duration.ofMillis(100))
            .until(
                () -> {
                  JsonNode receipt =
                      n.rpc("eth_getTransactionReceipt", "[\"" + hash + "\"]").get("result");
                  return receipt != null && !receipt.isNull();
                });
      }
    }
    // The same transaction again: every node knows it; the client gets a node's own answer.
    String again = via("eth_sendRawTransaction", "[\"" + signed(nonce) + "\"]");
    assertThat(again).containsAnyOf("already known", "nonce too low");
    String metrics = get(rig.chainroute.adminUrl("/metrics"));
    assertThat(metrics).containsPattern("chainroute_requests_total\\{[^}]*reason=\"broadcast\"");
    DrillRig.report(
        "ryw-tx",
        "sent=%d nodes=%d seenOnEveryNodeAtOnce=%d/%d resend=%s %s"
            .formatted(
                sent,
                net.nodes().size(),
                seenAtOnce,
                sent * net.nodes().size(),
                again.strip().replaceAll(".*\"message\":\"([^\"]*)\".*", "$1"),
                settings()));
  }

  @Test
  void filtersStickToTheNodeThatCreatedThemAndTheirNodesDeathIsTheNodesOwnFilterNotFound() {
    rig("ryw-filters");
    // Before: a filter made straight on full-1, polled through chainroute with its own id (what
    // every filter was before this change): calls land on other nodes.
    String direct = net.node("full-1").rpc("eth_newBlockFilter", "[]").get("result").asText();
    int directNotFound = 0;
    for (int i = 0; i < 100; i++) {
      if (via("eth_getFilterChanges", "[\"" + direct + "\"]").contains("filter not found")) {
        directNotFound++;
      }
    }
    // After: filters created through chainroute.
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ids.add(viaJson("eth_newBlockFilter", "[]").get("result").asText());
    }
    ids.add(viaJson("eth_newFilter", "[{\"fromBlock\":\"latest\"}]").get("result").asText());
    ids.add(viaJson("eth_newPendingTransactionFilter", "[]").get("result").asText());
    int notFound = 0;
    int blocksSeen = 0;
    for (int i = 0; i < 100; i++) {
      for (String id : ids) {
        String body = via("eth_getFilterChanges", "[\"" + id + "\"]");
        if (body.contains("filter not found")) {
          notFound++;
        }
        if (id.equals(ids.get(0)) && body.contains("\"result\":[\"0x")) {
          blocksSeen++;
        }
      }
      DrillRig.sleep(Duration.ofMillis(20));
    }
    assertThat(notFound).as("filter not found over 100 rounds of %d filters", ids.size()).isZero();
    assertThat(blocksSeen).as("the block filter reports new blocks").isPositive();
    assertThat(via("eth_getFilterLogs", "[\"" + ids.get(3) + "\"]")).contains("\"result\":[");

    // Kill the node of a filter on full-1 (filters go to the synced full nodes in turn).
    String tag = NodeTag.of("full-1");
    // Bounded in time, not in tries: full-1 is left out of the turn while a probe sees it a block
    // behind the sealer.
    String onFull1 = null;
    int tries = 0;
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (onFull1 == null && System.nanoTime() < deadline) {
      tries++;
      String id = viaJson("eth_newBlockFilter", "[]").get("result").asText();
      if (id.endsWith(tag)) {
        onFull1 = id;
      } else {
        DrillRig.sleep(Duration.ofMillis(50));
      }
    }
    assertThat(onFull1).as("a filter on full-1 in %d tries", tries).isNotNull();
    assertThat(via("eth_getFilterChanges", "[\"" + onFull1 + "\"]")).contains("\"result\"");
    net.node("full-1").kill();
    long killed = System.nanoTime();
    int calls = 0;
    int notFoundAfter = 0;
    int otherAnswers = 0;
    long worstMs = 0;
    long firstNotFoundMs = -1;
    String other = "";
    while (System.nanoTime() - killed < Duration.ofSeconds(3).toNanos()) {
      long start = System.nanoTime();
      Rpc.Reply r =
          Rpc.post(
              rig.envoy().url("/eth"), Rpc.call("eth_getFilterChanges", "[\"" + onFull1 + "\"]"));
      worstMs = Math.max(worstMs, (System.nanoTime() - start) / 1_000_000);
      calls++;
      if (r.status() == 200
          && r.json().path("error").path("message").asText().equals("filter not found")
          && r.json().path("error").path("code").asInt() == -32000) {
        notFoundAfter++;
        if (firstNotFoundMs < 0) {
          firstNotFoundMs = (System.nanoTime() - killed) / 1_000_000;
        }
      } else {
        otherAnswers++;
        other = r.status() + " " + r.body();
      }
      DrillRig.sleep(Duration.ofMillis(20));
    }
    DrillRig.report(
        "ryw-filters",
        ("directIdNotFound=%d/100 taggedNotFound=%d/%d blockFilterRoundsWithBlocks=%d"
                + " afterKill: calls=%d filterNotFound=%d other=%d firstNotFoundMs=%d worstMs=%d"
                + " lastOther=%s %s")
            .formatted(
                directNotFound,
                notFound,
                100 * ids.size(),
                blocksSeen,
                calls,
                notFoundAfter,
                otherAnswers,
                firstNotFoundMs,
                worstMs,
                other,
                settings()));
    assertThat(worstMs).as("no call hangs").isLessThan(2_000);
    assertThat(otherAnswers)
        .as("every answer is the node's own filter not found: " + other)
        .isZero();
    assertThat(notFoundAfter).isEqualTo(calls);
    // Filters on live nodes are unaffected.
    for (String id : ids) {
      if (!id.endsWith(tag)) {
        assertThat(via("eth_getFilterChanges", "[\"" + id + "\"]")).contains("\"result\"");
      }
    }
  }

  static String get(String url) {
    try {
      return HttpClient.newHttpClient()
          .send(
              HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString())
          .body();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
