package io.chainroute.chain.evm;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.Classification;
import io.chainroute.chain.NodeReply;
import io.chainroute.chain.NodeTag;
import io.chainroute.chain.Reply;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The EVM side of read-your-writes: what is node-bound, and how node answers are read. */
class ReadYourWritesTest {
  private final EvmAdapter adapter = new EvmAdapter();
  private static final Classification.ErrorReplier ERRORS =
      (status, code, msg) ->
          new Reply(status, "application/json", msg.getBytes(StandardCharsets.UTF_8));

  private Classification classify(String json) {
    return adapter.classify("POST", json.getBytes(StandardCharsets.UTF_8));
  }

  private static NodeReply reply(int status, String body) {
    return new NodeReply("n", status, body.getBytes(StandardCharsets.UTF_8), null);
  }

  private static String text(Reply r) {
    return new String(r.body(), StandardCharsets.UTF_8);
  }

  @Test
  void singleTransactionsBroadcastAndFiltersAreCreatedOnANodeButBatchesAreForwardedWhole() {
    assertThat(
            classify(
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sendRawTransaction\",\"params\":[\"0x02\"]}"))
        .isInstanceOf(Classification.Broadcast.class);
    for (String m :
        List.of("eth_newFilter", "eth_newBlockFilter", "eth_newPendingTransactionFilter")) {
      assertThat(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + m + "\",\"params\":[]}"))
          .as(m)
          .isInstanceOf(Classification.CreateOnNode.class);
    }
    assertThat(
            classify(
                "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sendRawTransaction\",\"params\":[\"0x02\"]}]"))
        .isInstanceOf(Classification.Forward.class);
  }

  @Test
  void onlyAPlainTaggedIdGoesToANode() {
    String tagged = "0xabc" + NodeTag.of("a");
    Classification c =
        classify(
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getFilterChanges\",\"params\":[\""
                + tagged
                + "\"]}");
    assertThat(c).isInstanceOf(Classification.OnNode.class);
    assertThat(((Classification.OnNode) c).nodeTag()).isEqualTo(NodeTag.of("a"));
    // Too short to carry a tag, not a string, or written with escapes: routed as before.
    assertThat(
            classify(
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getFilterChanges\",\"params\":[\"0x1f\"]}"))
        .isInstanceOf(Classification.Forward.class);
    assertThat(
            classify(
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_uninstallFilter\",\"params\":[12]}"))
        .isInstanceOf(Classification.Forward.class);
    assertThat(
            classify(
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getFilterLogs\",\"params\":[\"\\u0030xabc"
                    + NodeTag.of("a")
                    + "\"]}"))
        .isInstanceOf(Classification.Forward.class);
  }

  @Test
  void aCreatedFiltersIdGetsTheTagAndAnErrorIsPassedOnUnchanged() {
    Reply ok =
        ReadYourWrites.created(
            "a1b2c3", reply(200, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":\"0xfe\"}"), ERRORS);
    assertThat(text(ok)).isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":\"0xfea1b2c3\"}");
    String error = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"no\"}}";
    assertThat(text(ReadYourWrites.created("a1b2c3", reply(200, error), ERRORS))).isEqualTo(error);
    assertThat(ReadYourWrites.created("a1b2c3", reply(502, "bad gateway"), ERRORS).httpStatus())
        .isEqualTo(502);
    assertThat(
            ReadYourWrites.created("a1b2c3", NodeReply.failed("n", "timeout"), ERRORS).httpStatus())
        .isEqualTo(503);
  }

  @Test
  void aNodesHttpErrorNeverHidesAnotherNodesAcceptance() {
    Reply r =
        ReadYourWrites.broadcastAnswer(
            List.of(
                reply(500, "oops"),
                reply(
                    200,
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,\"message\":\"already known\"}}"),
                reply(200, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0xh\"}")),
            ERRORS);
    assertThat(text(r)).contains("0xh");
    Reply onlyHttpError = ReadYourWrites.broadcastAnswer(List.of(reply(500, "oops")), ERRORS);
    assertThat(onlyHttpError.httpStatus()).isEqualTo(500);
  }

  @Test
  void replaceFirstReplacesExactlyOneOccurrence() {
    byte[] out =
        ReadYourWrites.replaceFirst(
            "a\"x\"b\"x\"".getBytes(StandardCharsets.UTF_8),
            "\"x\"".getBytes(StandardCharsets.UTF_8),
            "\"yy\"".getBytes(StandardCharsets.UTF_8));
    assertThat(new String(out, StandardCharsets.UTF_8)).isEqualTo("a\"yy\"b\"x\"");
    assertThat(ReadYourWrites.replaceFirst(new byte[] {1}, new byte[] {2}, new byte[] {3}))
        .isNull();
  }
}
