package io.chainroute.chain.algod;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.chainroute.chain.BlockRef;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.Classification;
import io.chainroute.chain.DataKind;
import io.chainroute.chain.ProbeReading;
import io.chainroute.chain.Reply;
import io.chainroute.chain.Requirement;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class AlgodAdapterTest {
  private final AlgodAdapter adapter = new AlgodAdapter();

  private Requirement requirement(String method, String path) {
    Classification c = adapter.classifyRequestLine(method, path);
    assertThat(c).isInstanceOf(Classification.Forward.class);
    return ((Classification.Forward) c).requirements().get(0);
  }

  @ParameterizedTest(name = "{0} {1} -> {2} {3} {4}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          GET  | /v2/blocks/1234                              | STATE      | NUMBER | 1234
          GET  | /v2/blocks/1234?format=msgpack               | STATE      | NUMBER | 1234
          GET  | /v2/blocks/1234/                             | STATE      | NUMBER | 1234
          GET  | /v2/blocks/1234/txids                        | STATE      | NUMBER | 1234
          GET  | /v2/blocks/1234/hash                         | STATE      | NUMBER | 1234
          GET  | /v2/blocks/1234/transactions/ABC/proof       | STATE      | NUMBER | 1234
          GET  | /v2/blocks/1234/lightheader/proof            | STATE      | NUMBER | 1234
          GET  | /v2/stateproofs/1234                         | STATE      | NUMBER | 1234
          GET  | /v2/blocks/abc                               | NONE       | LATEST | 0
          GET  | /v2/status                                   | NONE       | LATEST | 0
          GET  | /v2/accounts/ABC                             | NONE       | LATEST | 0
          GET  | /v2/transactions/params                      | NONE       | LATEST | 0
          GET  | /v2/deltas/1234                              | NONE       | LATEST | 0
          GET  | /v2/transactions/pending/TXID                | NODE_LOCAL | LATEST | 0
          GET  | /v2/accounts/ABC/transactions/pending        | NODE_LOCAL | LATEST | 0
          GET  | /health                                      | NONE       | LATEST | 0
          """)
  void pathsAreClassifiedWithoutReadingTheBody(
      String method, String path, DataKind kind, BlockRef.Kind ref, long round) {
    Requirement r = requirement(method.trim(), path.trim());
    assertThat(r.kind()).isEqualTo(kind);
    assertThat(r.ref().kind()).isEqualTo(ref);
    assertThat(r.ref().number()).isEqualTo(round);
    assertThat(r.write()).isFalse();
  }

  @Test
  void transactionSubmissionsAreWrites() {
    assertThat(requirement("POST", "/v2/transactions").write()).isTrue();
    assertThat(requirement("POST", "/v2/transactions/async").write()).isTrue();
    assertThat(requirement("POST", "/v2/transactions/simulate").write()).isFalse();
  }

  @Test
  void waitForBlockAfterIsHeldUntilARoundAfterTheGivenOne() {
    Classification c = adapter.classifyRequestLine("GET", "/v2/status/wait-for-block-after/41");
    assertThat(c)
        .isInstanceOfSatisfying(
            Classification.WaitForHeight.class,
            w -> {
              assertThat(w.minHead()).isEqualTo(42);
              assertThat(w.timeout()).isEqualTo(AlgodAdapter.WAIT_TIMEOUT);
              // The status of the node that reached the round, as that node sent it.
              Reply reached = w.reached().apply(read("{\"last-round\":42}").state());
              assertThat(reached.httpStatus()).isEqualTo(200);
              assertThat(body(reached)).isEqualTo("{\"last-round\":42}");
              // After the wait: the current status whatever its round, or catchup with no node.
              assertThat(body(w.timedOut().apply(read("{\"last-round\":41}").state())))
                  .isEqualTo("{\"last-round\":41}");
              assertThat(w.timedOut().apply(null)).isEqualTo(w.catchingUp());
              assertThat(body(w.catchingUp()))
                  .isEqualTo("{\"message\":\"operation not available during catchup\"}\n");
              assertThat(w.catchingUp().httpStatus()).isEqualTo(503);
              assertThat(body(w.shutdownReply()))
                  .isEqualTo("{\"message\":\"operation aborted as server is shutting down\"}\n");
              assertThat(w.shutdownReply().httpStatus()).isEqualTo(500);
            });
    // 2^64-1: algod's round+1 wraps to 0 and it answers at once.
    Classification wrap =
        adapter.classifyRequestLine("GET", "/v2/status/wait-for-block-after/18446744073709551615");
    assertThat(((Classification.WaitForHeight) wrap).minHead()).isZero();
  }

  private static String body(io.chainroute.chain.Reply r) {
    return new String(r.body(), StandardCharsets.UTF_8);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          abc                  | invalid syntax
          -1                   | invalid syntax
          1.5                  | invalid syntax
          0x10                 | invalid syntax
          +5                   | invalid syntax
          18446744073709551616 | value out of range
          """)
  void invalidRoundsGetAlgodsExact400(String round, String reason) {
    Classification c =
        adapter.classifyRequestLine("GET", "/v2/status/wait-for-block-after/" + round);
    assertThat(c)
        .isInstanceOfSatisfying(
            Classification.Answer.class,
            a -> {
              assertThat(a.reply().httpStatus()).isEqualTo(400);
              assertThat(body(a.reply()))
                  .isEqualTo(
                      "{\"message\":\"Invalid format for parameter round: error binding string parameter: strconv.ParseUint: parsing \\\""
                          + round
                          + "\\\": "
                          + reason
                          + "\"}\n");
            });
  }

  /**
   * Go's router binds the decoded path parameter and echo writes JSON with HTML escaping: the texts
   * algod gives for escaped rounds (protocols.md A.2; the simulator's test checks the same).
   */
  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      textBlock =
          """
          %3C      | \\"\\u003c\\": invalid syntax
          a%22b    | \\"a\\\\\\"b\\": invalid syntax
          %0A      | \\"\\\\n\\": invalid syntax
          %FF      | \\"\\\\xff\\": invalid syntax
          %C3%A9   | \\"é\\": invalid syntax
          abc//    | \\"abc/\\": invalid syntax
          """)
  void escapedRoundsAreDecodedQuotedAndEscapedAsAlgodDoes(String round, String quoted) {
    Classification c =
        adapter.classifyRequestLine("GET", "/v2/status/wait-for-block-after/" + round);
    assertThat(c)
        .isInstanceOfSatisfying(
            Classification.Answer.class,
            a ->
                assertThat(body(a.reply()))
                    .isEqualTo(
                        "{\"message\":\"Invalid format for parameter round: error binding string"
                            + " parameter: strconv.ParseUint: parsing "
                            + quoted
                            + "\"}\n"));
  }

  /**
   * Go's HTTP server refuses a path with a malformed %-escape (400, text/plain) before algod sees
   * it: chainroute lets a node give that answer instead of writing its own 400.
   */
  @ParameterizedTest
  @ValueSource(strings = {"%zz", "%2", "5%", "%4"})
  void aWaitWithAMalformedEscapeIsLeftToTheNode(String round) {
    assertThat(adapter.classifyRequestLine("GET", "/v2/status/wait-for-block-after/" + round))
        .isInstanceOf(Classification.Forward.class);
  }

  @Test
  void anEscapedRoundIsARoundForWaitsAndForRouting() {
    assertThat(adapter.classifyRequestLine("GET", "/v2/status/wait-for-block-after/%31%30"))
        .isInstanceOfSatisfying(
            Classification.WaitForHeight.class, w -> assertThat(w.minHead()).isEqualTo(11));
    assertThat(adapter.classifyRequestLine("GET", "/v2/blocks/%31%30"))
        .isInstanceOfSatisfying(
            Classification.Forward.class,
            f ->
                assertThat(f.requirements())
                    .containsExactly(Requirement.read(DataKind.STATE, BlockRef.number(10))));
  }

  @Test
  void theProbeLongPollsOnceTheHeadIsKnownAndLeavesTheTokenToTheNodesHeaders() {
    NodeConfig node =
        TestConfigs.node("a", "http://10.0.0.1:8080")
            .header("X-Algo-API-Token", "TOKEN_A", "s3cret")
            .build();
    ChainAdapter.HeadProbe first = adapter.headProbe(node, -1);
    assertThat(first.path()).isEqualTo("/v2/status");
    assertThat(first.longPoll()).isFalse();
    // The prober sends every node's configured headers (HttpNodeProberTest), tokenEnv's included.
    assertThat(first.headers()).isEmpty();
    ChainAdapter.HeadProbe next = adapter.headProbe(node, 500);
    assertThat(next.path()).isEqualTo("/v2/status/wait-for-block-after/500");
    assertThat(next.longPoll()).isTrue();
    assertThat(next.timeout()).isGreaterThan(AlgodAdapter.WAIT_TIMEOUT);
    assertThat(node.toString()).doesNotContain("s3cret");
  }

  @Test
  void statusAnswersSayWhetherTheNodeCanServe() {
    String body = "{\"last-round\":100,\"catchup-time\":0,\"stopped-at-unsupported-round\":false}";
    ProbeReading ok = read(body);
    assertThat(ok.head()).isEqualTo(100);
    assertThat(ok.syncing()).isFalse();
    // The body is kept as it came: a held wait is answered with it.
    assertThat(new String(AlgodAdapter.statusReply(ok.state()).body(), StandardCharsets.UTF_8))
        .isEqualTo(body);
    assertThat(AlgodAdapter.statusReply(null).httpStatus()).isEqualTo(503);
    assertThat(
            read("{\"last-round\":100,\"catchup-time\":5000000,\"stopped-at-unsupported-round\":false}")
                .syncing())
        .isTrue();
    ProbeReading fast =
        read(
            "{\"last-round\":100,\"catchup-time\":1,\"catchpoint\":\"2000#ABC\",\"stopped-at-unsupported-round\":false}");
    assertThat(fast.syncing()).isTrue();
    assertThat(fast.detail()).contains("fast catchup");
    ProbeReading stuck =
        read("{\"last-round\":100,\"catchup-time\":0,\"stopped-at-unsupported-round\":true}");
    assertThat(stuck.syncing()).isTrue();
    assertThat(stuck.detail()).isEqualTo("stopped at an unsupported round");
    assertThatThrownBy(
            () ->
                adapter.readHeadProbe(
                    401, "{\"message\":\"Invalid API Token\"}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(ChainAdapter.ProbeException.class)
        .hasMessageContaining("401")
        .hasMessageContaining("Invalid API Token");
    assertThatThrownBy(() -> adapter.readHeadProbe(200, "{}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(ChainAdapter.ProbeException.class);
  }

  private ProbeReading read(String json) {
    return adapter.readHeadProbe(200, json.getBytes(StandardCharsets.UTF_8));
  }
}
