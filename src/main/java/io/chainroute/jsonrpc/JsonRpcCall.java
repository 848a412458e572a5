package io.chainroute.jsonrpc;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One call of a JSON-RPC request, as far as routing needs it.
 *
 * @param method the method name, or null when the call is invalid
 * @param params the params value (array or object), or null when absent
 * @param rawId the id exactly as the client wrote it (bytes of the JSON token), or null when the
 *     call is a notification (no id member)
 * @param invalidReason why the call is not a valid request object, or null when it is
 */
public record JsonRpcCall(String method, JsonNode params, byte[] rawId, String invalidReason) {
  public boolean valid() {
    return invalidReason == null;
  }

  public boolean notification() {
    return rawId == null;
  }
}
