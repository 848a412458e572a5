package io.chainroute.jsonrpc;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Builds JSON-RPC 2.0 error responses with ids echoed byte for byte. Codes follow the spec
 * (https://www.jsonrpc.org/specification#error_object) and EIP-1474.
 */
public final class JsonRpcErrors {
  public static final int PARSE_ERROR = -32700;
  public static final int INVALID_REQUEST = -32600;
  public static final int METHOD_NOT_FOUND = -32601;
  public static final int SERVER_ERROR = -32000;
  public static final int RESOURCE_UNAVAILABLE = -32002;

  private static final byte[] NULL_ID = "null".getBytes(StandardCharsets.US_ASCII);

  private JsonRpcErrors() {}

  /** One error object: {@code {"jsonrpc":"2.0","id":<rawId>,"error":{...}}}. */
  public static byte[] error(byte[] rawId, int code, String message, String data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(128);
    write(out, rawId, code, message, data);
    return out.toByteArray();
  }

  /** A batch answer: one error per id, in order. */
  public static byte[] batchError(List<byte[]> rawIds, int code, String message, String data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(64 + 96 * rawIds.size());
    out.write('[');
    for (int i = 0; i < rawIds.size(); i++) {
      if (i > 0) {
        out.write(',');
      }
      write(out, rawIds.get(i), code, message, data);
    }
    out.write(']');
    return out.toByteArray();
  }

  /** A batch answer from responses built here, in order. */
  public static byte[] array(List<byte[]> responses) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(2 + 96 * responses.size());
    out.write('[');
    for (int i = 0; i < responses.size(); i++) {
      if (i > 0) {
        out.write(',');
      }
      out.writeBytes(responses.get(i));
    }
    out.write(']');
    return out.toByteArray();
  }

  private static final byte[] CODE_MARK =
      ",\"error\":{\"code\":".getBytes(StandardCharsets.US_ASCII);

  /**
   * The error code of an error reply built here (the first one of a batch) as text, or "" for any
   * other body: it looks for the exact marker {@link #error} writes, so it never reads a node's
   * body or a client's.
   */
  public static String codeOf(byte[] body) {
    outer:
    for (int i = 0; i + CODE_MARK.length <= body.length; i++) {
      for (int j = 0; j < CODE_MARK.length; j++) {
        if (body[i + j] != CODE_MARK[j]) {
          continue outer;
        }
      }
      int start = i + CODE_MARK.length;
      int end = start;
      while (end < body.length
          && end - start < 12
          && (body[end] == '-' || (body[end] >= '0' && body[end] <= '9'))) {
        end++;
      }
      return new String(body, start, end - start, StandardCharsets.US_ASCII);
    }
    return "";
  }

  private static void write(
      ByteArrayOutputStream out, byte[] rawId, int code, String message, String data) {
    out.writeBytes("{\"jsonrpc\":\"2.0\",\"id\":".getBytes(StandardCharsets.US_ASCII));
    out.writeBytes(rawId == null ? NULL_ID : rawId);
    StringBuilder sb =
        new StringBuilder(",\"error\":{\"code\":").append(code).append(",\"message\":");
    quote(sb, message);
    if (data != null) {
      sb.append(",\"data\":");
      quote(sb, data);
    }
    sb.append("}}");
    out.writeBytes(sb.toString().getBytes(StandardCharsets.UTF_8));
  }

  private static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }
}
