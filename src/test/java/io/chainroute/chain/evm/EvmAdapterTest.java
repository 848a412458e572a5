package io.chainroute.chain.evm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.chainroute.chain.BlockRef;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.Classification;
import io.chainroute.chain.DataKind;
import io.chainroute.chain.FastPathTable;
import io.chainroute.chain.ProbeReading;
import io.chainroute.chain.Requirement;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EvmAdapterTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String HASH = "0x" + "ab".repeat(32);
  private final EvmAdapter adapter = new EvmAdapter();

  /** Every method allowed: classification alone, the method policy aside. */
  private final EvmAdapter open =
      new EvmAdapter(
          MethodPolicy.of(new io.chainroute.config.MethodRules(List.of("*"), List.of())));

  private Classification classify(String body) {
    return adapter.classify("POST", body.getBytes(StandardCharsets.UTF_8));
  }

  private Requirement single(String method, String params) {
    Classification c =
        open.classify(
            "POST",
            ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\""
                    + method
                    + "\",\"params\":"
                    + params
                    + "}")
                .getBytes(StandardCharsets.UTF_8));
    // Transactions and filters carry their ordinary routing for when chainroute does not send
    // them itself (ReadYourWritesTest covers the rest).
    if (c instanceof Classification.Broadcast b) {
      c = b.otherwise();
    } else if (c instanceof Classification.CreateOnNode n) {
      c = n.otherwise();
    } else if (c instanceof Classification.OnNode n) {
      c = n.otherwise();
    }
    assertThat(c).isInstanceOf(Classification.Forward.class);
    return ((Classification.Forward) c).requirements().get(0);
  }

  private static JsonNode json(byte[] b) throws Exception {
    return JSON.readTree(b);
  }

  /** The method table, row by row: method, params, data kind, block reference, height. */
  @ParameterizedTest(name = "{0} {1} -> {2} {3} {4}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          eth_getBalance          | ["0xabc","latest"]                       | STATE | LATEST    | 0
          eth_getBalance          | ["0xabc","0x10"]                         | STATE | NUMBER    | 16
          eth_getBalance          | ["0xabc","0x0010"]                       | STATE | NUMBER    | 16
          eth_getBalance          | ["0xabc","0x00000000000000001b5"]        | STATE | NUMBER    | 437
          eth_getBalance          | ["0xabc",{"blockNumber":"0x00000000000000001b5"}] | STATE | NUMBER | 437
          eth_getBalance          | ["0xabc","0x10000000000000000"]          | STATE | LATEST    | 0
          eth_getBalance          | ["0xabc","earliest"]                     | STATE | EARLIEST  | 0
          eth_getBalance          | ["0xabc","pending"]                      | STATE | PENDING   | 0
          eth_getBalance          | ["0xabc","safe"]                         | STATE | SAFE      | 0
          eth_getBalance          | ["0xabc","finalized"]                    | STATE | FINALIZED | 0
          eth_getBalance          | ["0xabc"]                                | STATE | LATEST    | 0
          eth_getBalance          | ["0xabc",{"blockNumber":"0x5"}]          | STATE | NUMBER    | 5
          eth_getBalance          | ["0xabc",{"blockHash":"HASH","requireCanonical":true}] | STATE | HASH | 0
          eth_getBalance          | ["0xabc","HASH"]                         | STATE | HASH      | 0
          eth_getBalance          | ["0xabc",12]                             | STATE | NUMBER    | 12
          eth_getBalance          | ["0xabc","0xnothex"]                     | STATE | LATEST    | 0
          eth_getCode             | ["0xabc","0x7"]                          | STATE | NUMBER    | 7
          eth_getTransactionCount | ["0xabc","0x7"]                          | STATE | NUMBER    | 7
          eth_getStorageAt        | ["0xabc","0x0","0x7"]                    | STATE | NUMBER    | 7
          eth_getProof            | ["0xabc",[],"0x7"]                       | STATE | NUMBER    | 7
          eth_call                | [{"to":"0xabc"},"0x7"]                   | STATE | NUMBER    | 7
          eth_call                | [{"to":"0xabc"}]                         | STATE | LATEST    | 0
          eth_estimateGas         | [{"to":"0xabc"},"0x7"]                   | STATE | NUMBER    | 7
          eth_getBlockByNumber    | ["0x7",false]                            | NONE  | NUMBER    | 7
          eth_getBlockByHash      | ["HASH",false]                           | NONE  | HASH      | 0
          eth_feeHistory          | ["0x4","0x7",[]]                         | NONE  | NUMBER    | 7
          eth_getLogs             | [{"fromBlock":"0x7","toBlock":"latest"}] | LOGS  | NUMBER    | 7
          eth_getLogs             | [{"blockHash":"HASH"}]                   | LOGS  | HASH      | 0
          eth_getLogs             | [{"address":"0xabc"}]                    | LOGS  | LATEST    | 0
          eth_getLogs             | [{"fromBlock":"earliest"}]               | LOGS  | EARLIEST  | 0
          debug_traceTransaction  | ["HASH"]                                 | TRACE | HASH      | 0
          debug_traceCall         | [{"to":"0xabc"},"0x7"]                   | TRACE | NUMBER    | 7
          debug_traceBlockByNumber| ["0x7"]                                  | TRACE | NUMBER    | 7
          debug_traceBlockByHash  | ["HASH"]                                 | TRACE | HASH      | 0
          debug_traceSomethingNew | []                                       | TRACE | HASH      | 0
          trace_block             | ["0x7"]                                  | TRACE | NUMBER    | 7
          trace_filter            | [{"fromBlock":"0x7"}]                    | TRACE | NUMBER    | 7
          trace_transaction       | ["HASH"]                                 | TRACE | HASH      | 0
          eth_blockNumber         | []                                       | NONE  | LATEST    | 0
          eth_chainId             | []                                       | NONE  | LATEST    | 0
          eth_newFilter           | [{}]                                     | NODE_LOCAL | LATEST | 0
          eth_getFilterChanges    | ["0x1"]                                  | NODE_LOCAL | LATEST | 0
          """)
  void readsTheBlockParameterWhereTheMethodTableSays(
      String method, String params, DataKind kind, BlockRef.Kind ref, long number) {
    Requirement r = single(method.trim(), params.trim().replace("HASH", HASH));
    assertThat(r.kind()).isEqualTo(kind);
    assertThat(r.ref().kind()).isEqualTo(ref);
    assertThat(r.ref().number()).isEqualTo(number);
    assertThat(r.write()).isFalse();
  }

  @Test
  void everyTableEntryClassifiesWithoutError() {
    for (Map.Entry<String, EvmMethods.Rule> e : EvmMethods.TABLE.entrySet()) {
      Requirement r = single(e.getKey(), "[]");
      assertThat(r.kind())
          .as(e.getKey())
          .isEqualTo(e.getValue().write() ? DataKind.NONE : e.getValue().kind());
      assertThat(r.write()).as(e.getKey()).isEqualTo(e.getValue().write());
    }
  }

  @Test
  void transactionsAreWrites() {
    assertThat(single("eth_sendRawTransaction", "[\"0x02f8\"]").write()).isTrue();
    assertThat(single("eth_sendTransaction", "[{}]").write()).isTrue();
  }

  @Test
  void aBatchCarriesOneRequirementPerCall() {
    Classification c =
        classify(
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_blockNumber\"},"
                + "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_getBalance\",\"params\":[\"0xabc\",\"0x1\"]},"
                + "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"eth_sendRawTransaction\",\"params\":[\"0x00\"]}]");
    assertThat(((Classification.Forward) c).requirements())
        .extracting(r -> r.kind() + "/" + r.ref().kind() + "/" + r.write())
        .containsExactly("NONE/LATEST/false", "STATE/NUMBER/false", "NONE/LATEST/true");
  }

  @Test
  void malformedJsonIsAParseErrorWithNullId() throws Exception {
    Classification c = classify("{\"jsonrpc\":\"2.0\",\"id\":1,");
    assertThat(c).isInstanceOf(Classification.Answer.class);
    JsonNode body = json(((Classification.Answer) c).reply().body());
    assertThat(body.get("error").get("code").asInt()).isEqualTo(-32700);
    assertThat(body.get("error").get("message").asText()).isEqualTo("Parse error");
    assertThat(body.get("id").isNull()).isTrue();
    assertThat(body.get("jsonrpc").asText()).isEqualTo("2.0");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          []
          42
          "eth_blockNumber"
          {"jsonrpc":"2.0","id":1}
          {"jsonrpc":"1.0","id":1,"method":"eth_blockNumber"}
          {"jsonrpc":"2.0","id":1,"method":7}
          """)
  void requestsThatAreNotValidCallsAreInvalidRequests(String body) throws Exception {
    Classification c = classify(body);
    assertThat(c).isInstanceOf(Classification.Answer.class);
    assertThat(json(((Classification.Answer) c).reply().body()).get("error").get("code").asInt())
        .isEqualTo(-32600);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          1
          -7
          12345678901234567890123
          1.5e3
          "abc"
          "a\\"b\\u00e9"
          null
          """)
  void idsAreEchoedByteForByte(String rawId) throws Exception {
    Classification c = classify("{\"jsonrpc\":\"2.0\",\"id\": " + rawId + " }");
    String body = new String(((Classification.Answer) c).reply().body(), StandardCharsets.UTF_8);
    assertThat(body).contains("\"id\":" + rawId + ",");

    Classification fwd =
        classify("{\"jsonrpc\":\"2.0\",\"id\":" + rawId + ",\"method\":\"eth_blockNumber\"}");
    String error =
        new String(
            ((Classification.Forward) fwd).errors().reply(503, -32002, "no node").body(),
            StandardCharsets.UTF_8);
    assertThat(error).contains("\"id\":" + rawId + ",");
    assertThat(json(error.getBytes(StandardCharsets.UTF_8)).get("error").get("code").asInt())
        .isEqualTo(-32002);
  }

  @Test
  void batchErrorsAnswerEveryCallInOrder() throws Exception {
    Classification c =
        classify(
            "[{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"eth_blockNumber\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_chainId\"}]");
    JsonNode body = json(((Classification.Forward) c).errors().reply(503, -32002, "none").body());
    assertThat(body.isArray()).isTrue();
    assertThat(body.get(0).get("id").asText()).isEqualTo("a");
    assertThat(body.get(1).get("id").asInt()).isEqualTo(2);
  }

  @Test
  void probeReadsTheHeadAndTheSyncState() {
    ProbeReading synced =
        adapter.readHeadProbe(
            200,
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1b4\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":false}]"
                .getBytes(StandardCharsets.UTF_8));
    assertThat(synced.head()).isEqualTo(436);
    assertThat(synced.syncing()).isFalse();

    // Answers may come in any order.
    ProbeReading syncing =
        adapter.readHeadProbe(
            200,
            "[{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"currentBlock\":\"0x10\",\"highestBlock\":\"0x20\"}},{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x10\"}]"
                .getBytes(StandardCharsets.UTF_8));
    assertThat(syncing.head()).isEqualTo(16);
    assertThat(syncing.syncing()).isTrue();
    assertThat(syncing.detail()).isEqualTo("syncing 16/32");
  }

  @Test
  void badProbeAnswersAreProbeFailures() {
    assertThatThrownBy(() -> adapter.readHeadProbe(502, new byte[0]))
        .isInstanceOf(ChainAdapter.ProbeException.class)
        .hasMessageContaining("502");
    assertThatThrownBy(() -> adapter.readHeadProbe(200, "<html>".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(ChainAdapter.ProbeException.class);
    assertThatThrownBy(
            () ->
                adapter.readHeadProbe(
                    200,
                    "[{\"id\":1,\"error\":{\"code\":-32000}}]".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(ChainAdapter.ProbeException.class)
        .hasMessageContaining("-32000");
    assertThatThrownBy(
            () ->
                adapter.readHeadProbe(
                    200, "[{\"id\":1,\"result\":\"0xzz\"}]".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(ChainAdapter.ProbeException.class);
  }

  @Test
  void quantitiesThatDoNotFitAreRejected() {
    assertThat(EvmAdapter.parseQuantity("0x0")).isZero();
    assertThat(EvmAdapter.parseQuantity("0x7fffffffffffffff")).isEqualTo(Long.MAX_VALUE);
    assertThat(EvmAdapter.parseQuantity("0x8000000000000000")).isEqualTo(-1);
    assertThat(EvmAdapter.parseQuantity("0x00000000000000001b5")).isEqualTo(0x1b5);
    assertThat(EvmAdapter.parseQuantity("0x00000000000000000000")).isZero();
    assertThat(EvmAdapter.parseQuantity("0x000000000000000000007fffffffffffffff"))
        .isEqualTo(Long.MAX_VALUE);
    assertThat(EvmAdapter.parseQuantity("0x0000000000000000000g")).isEqualTo(-1);
    assertThat(EvmAdapter.parseQuantity("0x")).isEqualTo(-1);
    assertThat(EvmAdapter.parseQuantity("12")).isEqualTo(-1);
  }

  private static String answered(Classification c) {
    assertThat(c).isInstanceOf(Classification.Answer.class);
    return new String(((Classification.Answer) c).reply().body(), StandardCharsets.UTF_8);
  }

  @Test
  void aRefusedMethodIsAnsweredMethodNotFoundWithItsIdAndNeverForwarded() {
    assertThat(
            answered(
                classify(
                    "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"anvil_setBalance\",\"params\":[]}")))
        .isEqualTo(
            "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":-32601,"
                + "\"message\":\"the method anvil_setBalance does not exist/is not available\"}}");
  }

  @Test
  void aBatchWithARefusedMethodIsAnsweredWholeAndNoElementRuns() {
    String body =
        answered(
            classify(
                "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_blockNumber\"},"
                    + "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"evm_mine\"},"
                    + "{\"jsonrpc\":\"2.0\",\"method\":\"evm_mine\"},"
                    + "{\"id\":4}]"));
    assertThat(body)
        .startsWith("[{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,")
        .contains("{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32601,")
        .contains("\"id\":4,\"error\":{\"code\":-32600,");
    assertThat(body.split("\"error\"", -1))
        .as("three answers: the notification gets none")
        .hasSize(4);
  }

  @Test
  void aBatchOfRefusedNotificationsIsStillToldWhyNothingRan() {
    String body =
        answered(
            classify(
                "[{\"jsonrpc\":\"2.0\",\"method\":\"evm_mine\"},"
                    + "{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\"}]"));
    assertThat(body)
        .isEqualTo(
            "[{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,"
                + "\"message\":\"the method evm_mine does not exist/is not available\"}}]");
  }

  @Test
  void aChainsRulesReachTheAdapterItGets() {
    ChainAdapter open =
        adapter.forChain(
            io.chainroute.config.TestConfigs.evm("dev")
                .methods(new io.chainroute.config.MethodRules(List.of("anvil_*"), List.of()))
                .build());
    assertThat(
            open.classify(
                "POST",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"anvil_mine\"}"
                    .getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(Classification.Forward.class);
    assertThat(adapter.forChain(io.chainroute.config.TestConfigs.evm("plain").build()))
        .isSameAs(adapter);
  }

  @Test
  void theFastPathTableHoldsOnlyStateAndBlockReadsAtHeadTagsThatThePolicyAllows() {
    var table = adapter.fastPath();
    assertThat(table.tags()).containsExactly("latest", "pending");
    assertThat(table.methods())
        .containsEntry("eth_getBalance", new FastPathTable.Method(1, DataKind.STATE, true, false))
        .containsEntry("eth_call", new FastPathTable.Method(1, DataKind.STATE, true, false))
        .containsEntry("eth_getStorageAt", new FastPathTable.Method(2, DataKind.STATE, true, false))
        .containsEntry(
            "eth_getBlockByNumber", new FastPathTable.Method(0, DataKind.NONE, true, false))
        .containsEntry("eth_getLogs", new FastPathTable.Method(0, DataKind.LOGS, true, true))
        .doesNotContainKeys(
            "trace_filter",
            "debug_traceCall",
            "trace_block",
            "eth_sendRawTransaction",
            "eth_getFilterChanges",
            "eth_blockNumber");
    var denied =
        adapter.forChain(
            io.chainroute.config.TestConfigs.evm("eth")
                .methods(new io.chainroute.config.MethodRules(List.of(), List.of("eth_getBalance")))
                .nodes(io.chainroute.config.TestConfigs.node("a", "http://10.0.0.1:8545").build())
                .build());
    assertThat(denied.fastPath().methods()).doesNotContainKey("eth_getBalance");
  }
}
