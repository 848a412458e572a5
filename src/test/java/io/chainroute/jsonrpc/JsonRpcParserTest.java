package io.chainroute.jsonrpc;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonRpcParserTest {

  @ParameterizedTest(name = "raw id {0} is kept byte for byte")
  @ValueSource(
      strings = {
        "1",
        "-1",
        "0",
        "18446744073709551616",
        "123456789012345678901234567890.000001",
        "1e400",
        "-0.0",
        "\"x\"",
        "\"\\u0041\\n\\\"\"",
        "\"日本\"",
        "\"\"",
        "null"
      })
  void rawIdIsPreservedExactly(String id) {
    JsonRpcCall call = single("{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"m\"}");
    assertThat(text(call.rawId())).isEqualTo(id);
    assertThat(call.valid()).isTrue();
  }

  @Test
  void idIsReadWhereverItAppearsAndWhateverTheWhitespace() {
    JsonRpcCall call = single("\r\n\t{ \"method\" : \"m\" ,\n\t\"id\"\t:\n  42\n }\n\n");
    assertThat(text(call.rawId())).isEqualTo("42");
    assertThat(call.method()).isEqualTo("m");
    JsonRpcCall last = single("{\"method\":\"m\",\"params\":[],\"id\":\"z\"}");
    assertThat(text(last.rawId())).isEqualTo("\"z\"");
  }

  @Test
  void idsInABatchAreEachKept() {
    JsonRpcMessage m =
        JsonRpcParser.parse(
            bytes(
                "[ {\"id\": 1 ,\"method\":\"a\"} , {\"id\":\"two\",\"method\":\"b\"},{\"id\":3.0,\"method\":\"c\"} ]"));
    assertThat(m).isInstanceOf(JsonRpcMessage.Batch.class);
    assertThat(((JsonRpcMessage.Batch) m).calls())
        .extracting(c -> text(c.rawId()))
        .containsExactly("1", "\"two\"", "3.0");
  }

  @Test
  void nestedParamsAreReadWholeAndOtherMembersSkipped() {
    JsonRpcCall call =
        single(
            "{\"jsonrpc\":\"2.0\",\"extra\":{\"id\":99,\"method\":\"no\"},\"method\":\"eth_call\","
                + "\"params\":[{\"to\":\"0xaa\",\"data\":\"0x\",\"nested\":[[1,{\"a\":[]}]]},\"0x10\"],\"id\":5}");
    assertThat(call.method()).isEqualTo("eth_call");
    assertThat(text(call.rawId())).isEqualTo("5");
    assertThat(call.params().isArray()).isTrue();
    assertThat(call.params().get(1).asText()).isEqualTo("0x10");
    assertThat(call.params().at("/0/nested/0/1/a").isArray()).isTrue();
  }

  @Test
  void paramsMayBeAnObject() {
    JsonRpcCall call =
        single("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"a\":1}}");
    assertThat(call.valid()).isTrue();
    assertThat(call.params().get("a").asInt()).isEqualTo(1);
  }

  @ParameterizedTest(name = "jsonrpc {0} is rejected")
  @ValueSource(strings = {"\"1.0\"", "\"2\"", "2.0", "null", "[\"2.0\"]"})
  void wrongJsonRpcVersionIsInvalid(String version) {
    JsonRpcCall call = single("{\"jsonrpc\":" + version + ",\"id\":1,\"method\":\"m\"}");
    assertThat(call.valid()).isFalse();
    assertThat(call.invalidReason()).contains("jsonrpc");
    // The id is still known, so the error can echo it.
    assertThat(text(call.rawId())).isEqualTo("1");
  }

  @Test
  void missingJsonRpcVersionIsAcceptedLikeGeth() {
    // The spec says MUST be "2.0", but geth and other nodes accept requests without it; rejecting
    // them here would make chainroute stricter than the node behind it.
    assertThat(single("{\"id\":1,\"method\":\"m\"}").valid()).isTrue();
  }

  @Test
  void callWithoutIdIsANotification() {
    JsonRpcCall call = single("{\"jsonrpc\":\"2.0\",\"method\":\"m\"}");
    assertThat(call.notification()).isTrue();
    assertThat(call.valid()).isTrue();
  }

  @Test
  void callWithIdNullIsNotANotification() {
    // JSON-RPC 2.0 section 4.1: a notification is a request without an "id" member; id null is a
    // (discouraged) request that gets a response.
    JsonRpcCall call = single("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}");
    assertThat(call.notification()).isFalse();
    assertThat(text(call.rawId())).isEqualTo("null");
  }

  @ParameterizedTest(name = "id {0} is invalid and echoed as null")
  @ValueSource(strings = {"true", "false", "{\"a\":1}", "[1]"})
  void idOfAnotherTypeIsInvalid(String id) {
    JsonRpcCall call = single("{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"m\"}");
    assertThat(call.valid()).isFalse();
    assertThat(text(call.rawId())).isEqualTo("null");
  }

  @Test
  void missingOrNonStringMethodIsInvalid() {
    assertThat(single("{\"id\":1}").invalidReason()).contains("method");
    assertThat(single("{\"id\":1,\"method\":{\"x\":1}}").invalidReason()).contains("method");
    assertThat(single("{\"id\":1,\"method\":{\"x\":1}}").method()).isNull();
  }

  @Test
  void batchElementThatIsNotAnObjectIsAnInvalidCall() {
    JsonRpcMessage m = JsonRpcParser.parse(bytes("[{\"id\":1,\"method\":\"m\"},[1,2],\"x\"]"));
    assertThat(((JsonRpcMessage.Batch) m).calls())
        .extracting(JsonRpcCall::valid)
        .containsExactly(true, false, false);
  }

  @Test
  void emptyBatchIsNotARequest() {
    assertThat(JsonRpcParser.parse(bytes(" [ ] "))).isInstanceOf(JsonRpcMessage.NotARequest.class);
  }

  @Test
  void trailingDataIsAParseError() {
    assertThat(JsonRpcParser.parse(bytes("{\"id\":1,\"method\":\"m\"} x")))
        .isInstanceOf(JsonRpcMessage.ParseError.class);
    assertThat(JsonRpcParser.parse(bytes("{\"id\":1,\"method\":\"m\"}\n  \n")))
        .isInstanceOf(JsonRpcMessage.Single.class);
  }

  @Test
  void invalidUtf8IsAParseError() {
    byte[] body = {'{', '"', 'i', 'd', '"', ':', '"', (byte) 0xff, '"', '}'};
    assertThat(JsonRpcParser.parse(body)).isInstanceOf(JsonRpcMessage.ParseError.class);
  }

  @Test
  void parseErrorSaysWhere() {
    JsonRpcMessage m = JsonRpcParser.parse(bytes("{\n\"id\":1,\n\"method\":}"));
    assertThat(((JsonRpcMessage.ParseError) m).detail()).contains("line 3");
  }

  private static JsonRpcCall single(String body) {
    JsonRpcMessage m = JsonRpcParser.parse(bytes(body));
    assertThat(m).as(body).isInstanceOf(JsonRpcMessage.Single.class);
    return ((JsonRpcMessage.Single) m).call();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String text(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }
}
