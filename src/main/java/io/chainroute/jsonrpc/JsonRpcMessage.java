package io.chainroute.jsonrpc;

import java.util.List;

/** A parsed request body: a single call, a batch, or the reason it is not a request at all. */
public sealed interface JsonRpcMessage {
  record Single(JsonRpcCall call) implements JsonRpcMessage {}

  record Batch(List<JsonRpcCall> calls) implements JsonRpcMessage {}

  /** Not valid JSON: answered with -32700 and a null id. */
  record ParseError(String detail) implements JsonRpcMessage {}

  /** Valid JSON but not a request (a scalar, an empty batch): answered with -32600. */
  record NotARequest(String detail) implements JsonRpcMessage {}
}
