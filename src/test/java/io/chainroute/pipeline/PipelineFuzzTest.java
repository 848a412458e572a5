package io.chainroute.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.Reply;
import io.chainroute.chain.algod.AlgodAdapter;
import io.chainroute.chain.evm.EvmAdapter;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.Protocol;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterAll;

/**
 * Coverage-guided fuzzing of request parsing and classification through the whole pipeline: every
 * input must end in a route, a pass, or a well-formed reply in the protocol's own format (JSON-RPC
 * error objects for EVM, algod's {@code {"message": ...}}), never an exception.
 *
 * <p>The first byte of an input picks the request shape (its value modulo 4): 0 an EVM POST body; 1
 * an algod GET path; 2 an algod POST, path then a newline then the body; 3 an EVM request with any
 * method and path (method, newline, path, newline, body). The seeds under {@code
 * src/test/resources/io/chainroute/pipeline/PipelineFuzzTestInputs/} are the corpus kept in the
 * repository; {@code mvn test} replays them (regression mode), and CI fuzzes for a bounded time
 * with {@code JAZZER_FUZZ=1} (see the {@code fuzz} execution in the pom and docs/testing.md).
 */
class PipelineFuzzTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final NodeConfig FULL = TestConfigs.node("full", "http://10.0.0.1:8545").build();
  private static final NodeConfig ARCHIVE =
      TestConfigs.node("arc", "http://10.0.0.2:8545").archive().build();
  private static final NodeConfig ALGOD = TestConfigs.node("a", "http://10.0.0.3:8080").build();
  private static final ChainConfig ETH = TestConfigs.evm("eth").nodes(FULL, ARCHIVE).build();
  private static final ChainConfig ALGO = TestConfigs.algorand("algo").nodes(ALGOD).build();
  private static final Topology TOPOLOGY =
      Topology.of(
          1,
          List.of(
              new ChainView(ETH, 5000, List.of(node(FULL, 5000), node(ARCHIVE, 5000))),
              new ChainView(ALGO, 900, List.of(node(ALGOD, 900)))));
  private static final ScheduledExecutorService TIMER =
      Executors.newSingleThreadScheduledExecutor();
  private static final RequestPipeline PIPELINE =
      new RequestPipeline(
          List.of(ETH, ALGO),
          Map.<String, ChainAdapter>of("eth", new EvmAdapter(), "algo", new AlgodAdapter()),
          () -> TOPOLOGY,
          () -> TOPOLOGY,
          new HeldRequests(TIMER, () -> TOPOLOGY, 1),
          Duration.ofMillis(50));

  @AfterAll
  static void stop() {
    TIMER.shutdownNow();
  }

  private static NodeView node(NodeConfig n, long head) {
    return new NodeView(
        n,
        head,
        0,
        Health.SYNCED,
        "",
        EndpointStatus.HEALTHY,
        1,
        0,
        n.host(),
        new AlgodAdapter()
            .readHeadProbe(
                200,
                ("{\"last-round\":" + head + ",\"catchup-time\":0}")
                    .getBytes(StandardCharsets.UTF_8))
            .state());
  }

  @FuzzTest(maxDuration = "30s")
  void everyRequestEndsInARouteOrAProtocolError(byte[] input) throws IOException {
    if (input.length == 0) {
      return;
    }
    byte[] rest = Arrays.copyOfRange(input, 1, input.length);
    switch (Math.floorMod(input[0], 4)) {
      case 0 -> request(ETH, "POST", "/eth", rest);
      case 1 -> request(ALGO, "GET", "/algo" + latin1(rest), null);
      case 2 -> {
        int nl = indexOf(rest, (byte) '\n', 0);
        request(
            ALGO,
            "POST",
            "/algo" + latin1(Arrays.copyOfRange(rest, 0, nl)),
            Arrays.copyOfRange(rest, Math.min(rest.length, nl + 1), rest.length));
      }
      default -> {
        int a = indexOf(rest, (byte) '\n', 0);
        int b = indexOf(rest, (byte) '\n', Math.min(rest.length, a + 1));
        String method = latin1(Arrays.copyOfRange(rest, 0, a));
        String path = "/eth" + latin1(Arrays.copyOfRange(rest, Math.min(rest.length, a + 1), b));
        request(
            ETH, method, path, Arrays.copyOfRange(rest, Math.min(rest.length, b + 1), rest.length));
      }
    }
  }

  private static void request(ChainConfig chain, String method, String path, byte[] body)
      throws IOException {
    Outcome first = PIPELINE.onRequestLine(chain, method, path, body == null);
    if (first instanceof Outcome.NeedBody) {
      assertThat(body).as("a request without a body is decided from its line").isNotNull();
      Outcome second = PIPELINE.onBody(chain, method, body);
      assertThat(second).isNotInstanceOf(Outcome.NeedBody.class);
      check(chain, second, 0);
    } else {
      check(chain, first, 0);
    }
  }

  private static void check(ChainConfig chain, Outcome o, int depth) throws IOException {
    assertThat(o).isNotNull();
    if (o instanceof Outcome.Route r) {
      assertThat(r.pool()).isNotNull();
      if (r.echoId() != null) {
        JsonNode id = JSON.readTree(r.echoId());
        assertThat(id.isTextual() || id.isNumber() || id.isNull())
            .as("echoed id %s", r.echoId())
            .isTrue();
      }
    } else if (o instanceof Outcome.Respond r) {
      checkReply(chain, r.reply());
    } else if (o instanceof Outcome.Hold h) {
      assertThat(depth).as("a hold's answers are final").isZero();
      ChainView view = TOPOLOGY.chain(chain.name());
      check(chain, h.onTimeout().apply(view), depth + 1);
      check(chain, h.onShutdown(), depth + 1);
      check(chain, h.onRefused(), depth + 1);
      if (h.ready().test(view)) {
        check(chain, h.onReady().apply(view), depth + 1);
      }
    } else {
      assertThat(o).as("the only other answer").isInstanceOf(Outcome.Pass.class);
    }
  }

  private static void checkReply(ChainConfig chain, Reply reply) throws IOException {
    assertThat(reply.httpStatus()).isBetween(200, 599);
    assertThat(reply.contentType()).startsWith("application/");
    JsonNode body = JSON.readTree(reply.body());
    assertThat(body).as("reply body is JSON").isNotNull();
    if (chain.protocol() == Protocol.EVM) {
      if (body.isArray()) {
        assertThat(body.size()).isPositive();
        for (JsonNode e : body) {
          checkJsonRpcResponse(e);
        }
      } else {
        checkJsonRpcResponse(body);
      }
    } else if (reply.httpStatus() >= 400) {
      assertThat(body.path("message").isTextual()).as("algod error %s", body).isTrue();
    }
  }

  private static void checkJsonRpcResponse(JsonNode e) {
    assertThat(e.path("jsonrpc").asText()).isEqualTo("2.0");
    assertThat(e.has("id")).as("JSON-RPC reply carries an id: %s", e).isTrue();
    // chainroute answers some calls itself (eth_chainId, net_version, eth_blockNumber, cache hits):
    // a result, or an error with a code and a message, never both.
    assertThat(e.has("result")).as("result or error, not both: %s", e).isNotEqualTo(e.has("error"));
    if (e.has("result")) {
      assertThat(e.get("result").isNull()).as("chainroute never answers null: %s", e).isFalse();
      return;
    }
    assertThat(e.path("error").path("code").isInt()).as("error code in %s", e).isTrue();
    assertThat(e.path("error").path("message").isTextual()).isTrue();
  }

  private static int indexOf(byte[] b, byte x, int from) {
    for (int i = from; i < b.length; i++) {
      if (b[i] == x) {
        return i;
      }
    }
    return b.length;
  }

  private static String latin1(byte[] b) {
    return new String(b, StandardCharsets.ISO_8859_1);
  }
}
