package io.chainroute.testing.algodsim;

import static org.assertj.core.api.Assertions.assertThat;

import com.algorand.algosdk.account.Account;
import com.algorand.algosdk.transaction.SignedTransaction;
import com.algorand.algosdk.transaction.Transaction;
import com.algorand.algosdk.util.Encoder;
import com.algorand.algosdk.v2.client.common.AlgodClient;
import com.algorand.algosdk.v2.client.model.Version;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.io.BaseEncoding;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.msgpack.core.MessagePack;
import org.msgpack.value.Value;

/**
 * The simulated algod on a loopback port: its error bodies against the texts protocols.md documents
 * (literals here, not the fixture's constants), the identity endpoints algosdk calls, and its
 * msgpack. Rounds do not advance by themselves (a one-hour round time).
 */
class AlgodSimulatorTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final String TOKEN = "sim-token";

  private AlgodSimulator sim;

  @BeforeEach
  void start() throws Exception {
    sim = new AlgodSimulator(0, Duration.ofHours(1), 5000, false, 1000, TOKEN);
  }

  @AfterEach
  void stop() {
    sim.close();
  }

  private HttpResponse<byte[]> get(String rawPath, String token) throws Exception {
    HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(sim.url() + rawPath));
    if (token != null) {
      r.header("X-Algo-API-Token", token);
    }
    return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private HttpResponse<byte[]> get(String rawPath) throws Exception {
    return get(rawPath, TOKEN);
  }

  private HttpResponse<byte[]> post(String rawPath, byte[] body) throws Exception {
    HttpRequest r =
        HttpRequest.newBuilder(URI.create(sim.url() + rawPath))
            .header("X-Algo-API-Token", TOKEN)
            .header("Content-Type", "application/x-binary")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build();
    return HTTP.send(r, HttpResponse.BodyHandlers.ofByteArray());
  }

  /** {@code body} and the newline that ends every JSON body algod writes. */
  private static void assertAnswer(HttpResponse<byte[]> r, int status, String body) {
    assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(body + "\n");
    assertThat(r.statusCode()).isEqualTo(status);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
  }

  private static JsonNode json(HttpResponse<byte[]> r) throws Exception {
    assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  @Test
  void invalidRoundsGetTheBindingErrorProtocolsMdGives() throws Exception {
    String prefix =
        "{\"message\":\"Invalid format for parameter round: error binding string parameter: "
            + "strconv.ParseUint: parsing ";
    for (String path : new String[] {"/v2/status/wait-for-block-after/", "/v2/blocks/"}) {
      assertAnswer(get(path + "abc"), 400, prefix + "\\\"abc\\\": invalid syntax\"}");
      assertAnswer(get(path + "-1"), 400, prefix + "\\\"-1\\\": invalid syntax\"}");
      assertAnswer(get(path + "1.5"), 400, prefix + "\\\"1.5\\\": invalid syntax\"}");
      assertAnswer(get(path + "0x10"), 400, prefix + "\\\"0x10\\\": invalid syntax\"}");
      assertAnswer(get(path + "+5"), 400, prefix + "\\\"+5\\\": invalid syntax\"}");
      assertAnswer(
          get(path + "18446744073709551616"),
          400,
          prefix + "\\\"18446744073709551616\\\": value out of range\"}");
    }
    // An empty round loses its trailing slash and matches no route.
    assertAnswer(get("/v2/status/wait-for-block-after/"), 404, "{\"message\":\"Not Found\"}");
  }

  @Test
  void aRoundIsQuotedAsGoQuotesItAfterPercentDecodingAndEscapedAsGoEncodesJson() throws Exception {
    String prefix =
        "{\"message\":\"Invalid format for parameter round: error binding string parameter: "
            + "strconv.ParseUint: parsing ";
    // strconv.Quote("<") is "<"; encoding/json writes < as a backslash and u003c.
    assertAnswer(get("/v2/blocks/%3C"), 400, prefix + "\\\"\\u003c\\\": invalid syntax\"}");
    // strconv.Quote("a\nb") is "a\nb" with a backslash, which JSON escapes again.
    assertAnswer(get("/v2/blocks/a%0Ab"), 400, prefix + "\\\"a\\\\nb\\\": invalid syntax\"}");
    // A byte that is not UTF-8: \xff.
    assertAnswer(get("/v2/blocks/%FF"), 400, prefix + "\\\"\\\\xff\\\": invalid syntax\"}");
  }

  @Test
  void errorsAreByteIdenticalToTheDocumentedAlgodTexts() throws Exception {
    assertAnswer(get("/v2/status", "wrong"), 401, "{\"message\":\"Invalid API Token\"}");
    assertAnswer(get("/v2/status", null), 401, "{\"message\":\"Invalid API Token\"}");
    assertAnswer(get("/v2/no-such-route"), 404, "{\"message\":\"Not Found\"}");
    String ledger = "{\"message\":\"failed to retrieve information from the ledger\"}";
    assertAnswer(get("/v2/blocks/5001"), 404, ledger); // after last-round
    assertAnswer(get("/v2/blocks/3999"), 404, ledger); // pruned: more than 1000 rounds back
    assertAnswer(
        get("/v2/blocks/4500?format=xml"),
        400,
        "{\"message\":\"failed to parse the format option\"}");
    assertAnswer(
        get("/v2/transactions/pending/" + "A".repeat(52)),
        404,
        "{\"message\":\"could not find the transaction in the transaction pool or in the last 1000"
            + " confirmed rounds\"}");
    assertAnswer(post("/v2/transactions", new byte[0]), 400, "{\"message\":\"empty txgroup\"}");

    sim.catchup(true);
    String catchup = "{\"message\":\"operation not available during catchup\"}";
    assertAnswer(get("/v2/transactions/params"), 503, catchup);
    assertAnswer(get("/v2/status/wait-for-block-after/4000"), 503, catchup);
    assertAnswer(post("/v2/transactions", new byte[] {(byte) 0x80}), 503, catchup);
    assertThat(get("/ready", null).statusCode()).isEqualTo(503);
    assertThat(json(get("/v2/status")).get("catchpoint").asText()).isNotEmpty();
    sim.catchup(false);

    sim.stopAtUnsupportedRound();
    assertAnswer(
        get("/v2/status/wait-for-block-after/4000"),
        400,
        "{\"message\":\"requested round would reach only after the protocol upgrade which isn't"
            + " supported\"}");
    assertThat(get("/ready", null).statusCode()).isEqualTo(500);
    assertThat(json(get("/v2/status")).get("stopped-at-unsupported-round").asBoolean()).isTrue();
  }

  @Test
  void waitForBlockAfterAPassedRoundAnswersTheStatusAtOnce() throws Exception {
    JsonNode status = json(get("/v2/status/wait-for-block-after/4999"));
    assertThat(status.get("last-round").asLong()).isEqualTo(5000);
    assertThat(status.fieldNames())
        .toIterable()
        .containsExactly(
            "catchpoint",
            "catchpoint-acquired-blocks",
            "catchpoint-processed-accounts",
            "catchpoint-processed-kvs",
            "catchpoint-total-accounts",
            "catchpoint-total-blocks",
            "catchpoint-total-kvs",
            "catchpoint-verified-accounts",
            "catchpoint-verified-kvs",
            "catchup-time",
            "last-catchpoint",
            "last-round",
            "last-version",
            "next-version",
            "next-version-round",
            "next-version-supported",
            "stopped-at-unsupported-round",
            "time-since-last-round");
  }

  @Test
  void versionsNamesTheNetworkWithoutAToken() throws Exception {
    JsonNode v = json(get("/versions", null));
    assertThat(v.get("genesis_id").asText()).isEqualTo("sim-v1");
    assertThat(v.get("versions")).containsExactly(JSON.getNodeFactory().textNode("v2"));
    assertThat(v.get("build").fieldNames())
        .toIterable()
        .containsExactlyInAnyOrder(
            "branch", "build_number", "channel", "commit_hash", "major", "minor");
    JsonNode params = json(get("/v2/transactions/params"));
    assertThat(v.get("genesis_hash_b64").asText())
        .isEqualTo(params.get("genesis-hash").asText())
        .isNotEqualTo("wGHE2Pwdvd7S12BL5FaOP20EGYesN73ktiC1qzkkit8=") // mainnet
        .isNotEqualTo("SGO1GKSzyE7IEPItTxCByw9x8FmnrCDexi9/cOUJOiI="); // testnet
    assertThat(Base64.getDecoder().decode(v.get("genesis_hash_b64").asText())).hasSize(32);
  }

  @Test
  void genesisIsTheGenesisFileWithoutAToken() throws Exception {
    HttpResponse<byte[]> r = get("/genesis", null);
    JsonNode g = json(r);
    assertThat(g.fieldNames())
        .toIterable()
        .containsExactly("alloc", "fees", "id", "network", "proto", "rwd");
    assertThat(g.get("network").asText() + "-" + g.get("id").asText()).isEqualTo("sim-v1");
    assertThat(g.get("proto").asText())
        .isEqualTo(json(get("/v2/status")).get("last-version").asText());
    assertThat(g.get("alloc")).hasSize(3);
    for (JsonNode a : g.get("alloc")) {
      assertThat(validAddress(a.get("addr").asText())).as(a.toString()).isTrue();
      assertThat(a.get("state").get("algo").asLong()).isPositive();
    }
    assertThat(g.get("alloc").findValuesAsText("addr"))
        .contains(g.get("fees").asText(), g.get("rwd").asText());
    // The hash /versions gives is the stand-in computed from these bytes.
    String hash =
        Base64.getEncoder()
            .encodeToString(
                AlgodMsgpack.sha512_256("GE".getBytes(StandardCharsets.US_ASCII), r.body()));
    assertThat(json(get("/versions", null)).get("genesis_hash_b64").asText()).isEqualTo(hash);
  }

  /** 58 base32 characters: a 32-byte key and the last 4 bytes of its SHA-512/256. */
  private static boolean validAddress(String address) {
    if (address.length() != 58) {
      return false;
    }
    byte[] raw = BaseEncoding.base32().omitPadding().decode(address);
    byte[] key = Arrays.copyOf(raw, 32);
    byte[] sum = AlgodMsgpack.sha512_256(key);
    return Arrays.equals(raw, 32, 36, sum, 28, 32);
  }

  /**
   * algosdk's {@code versionsCheck()} path. (Java algosdk 2.7's GetGenesis expects a JSON string,
   * as algod's older spec declared, and cannot read the object algod serves; algosdk 3.x in JS
   * reads it as its Genesis model.)
   */
  @Test
  void theJavaAlgosdkReadsVersions() throws Exception {
    AlgodClient client = new AlgodClient("http://127.0.0.1", sim.port(), "");
    var version = client.GetVersion().execute();
    assertThat(version.isSuccessful()).as(version.message()).isTrue();
    Version v = version.body();
    assertThat(v.genesis_id).isEqualTo("sim-v1");
    assertThat(v.genesis_hash_b64()).isEqualTo(AlgodSimulator.GENESIS_HASH);
    assertThat(v.build.major).isEqualTo(4L);
    assertThat(v.versions).containsExactly("v2");
  }

  @Test
  void aSubmittedGroupIsPooledUnderAlgosdksTransactionIdsAndServedAsMsgpack() throws Exception {
    Account sender = new Account();
    AlgodClient client = new AlgodClient("http://127.0.0.1", sim.port(), TOKEN);
    var params = client.TransactionParams().execute().body();
    ByteArrayOutputStream group = new ByteArrayOutputStream();
    String[] ids = new String[2];
    for (int i = 0; i < 2; i++) {
      Transaction tx =
          Transaction.PaymentTransactionBuilder()
              .sender(sender.getAddress())
              .receiver(sender.getAddress())
              .amount(i)
              .suggestedParams(params)
              .build();
      SignedTransaction signed = sender.signTransaction(tx);
      ids[i] = signed.transactionID;
      group.writeBytes(Encoder.encodeToMsgPack(signed));
    }
    HttpResponse<byte[]> posted = post("/v2/transactions", group.toByteArray());
    assertThat(json(posted).get("txId").asText()).isEqualTo(ids[0]);

    for (String id : ids) {
      HttpResponse<byte[]> p = get("/v2/transactions/pending/" + id + "?format=msgpack");
      assertThat(p.statusCode()).isEqualTo(200);
      assertThat(p.headers().firstValue("content-type")).hasValue("application/msgpack");
      Value v = MessagePack.newDefaultUnpacker(p.body()).unpackValue();
      assertThat(v.asMapValue().map().keySet().stream().map(Value::toString))
          .containsExactly("pool-error", "txn");
      var lookup = client.PendingTransactionInformation(id).execute();
      assertThat(lookup.isSuccessful()).as(lookup.message()).isTrue();
      assertThat(lookup.body().poolError).isEmpty();
      assertThat(lookup.body().txn.tx.sender).isEqualTo(sender.getAddress());
    }
  }

  @Test
  void aBodyThatIsNotASignedTransactionStreamIsRefused() throws Exception {
    HttpResponse<byte[]> r =
        post("/v2/transactions", new byte[] {(byte) 0x81, (byte) 0xa1, 'x', 1});
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(r.body()).get("message").asText())
        .startsWith("msgpack decode error: ")
        .contains("no txn field");
    assertThat(post("/v2/transactions", new byte[] {1}).statusCode()).isEqualTo(400);
  }

  @Test
  void aMsgpackBlockCarriesItsRoundAndTheStructHeader() throws Exception {
    HttpResponse<byte[]> r = get("/v2/blocks/4500?format=msgpack");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("x-algorand-struct")).hasValue("block-v1");
    Value block = MessagePack.newDefaultUnpacker(r.body()).unpackValue();
    Value header = block.asMapValue().map().get(org.msgpack.value.ValueFactory.newString("block"));
    assertThat(header.asMapValue().map().get(org.msgpack.value.ValueFactory.newString("rnd")))
        .hasToString("4500");
    Value prev = header.asMapValue().map().get(org.msgpack.value.ValueFactory.newString("prev"));
    assertThat(prev.isBinaryValue()).isTrue();
    assertThat(prev.asBinaryValue().asByteArray()).hasSize(32);
    // The same header as JSON; algod's codec writes a block hash as "blk-" and base32.
    JsonNode jsonHeader = json(get("/v2/blocks/4500")).get("block");
    assertThat(jsonHeader.get("rnd").asLong()).isEqualTo(4500);
    assertThat(jsonHeader.get("prev").asText())
        .isEqualTo("blk-" + AlgodMsgpack.base32(prev.asBinaryValue().asByteArray()));
  }
}
