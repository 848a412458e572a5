package io.chainroute.jsonrpc;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads JSON-RPC 2.0 request bodies with Jackson's streaming parser, keeping each id's original
 * bytes so it can be echoed exactly (big numbers, string escapes). Stateless and thread-safe.
 *
 * <p>Spec: https://www.jsonrpc.org/specification (sections 4, 5 and 6).
 */
public final class JsonRpcParser {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  static {
    MAPPER
        .getFactory()
        .setStreamReadConstraints(
            StreamReadConstraints.builder().maxNestingDepth(64).maxStringLength(64 << 20).build());
  }

  private JsonRpcParser() {}

  public static JsonRpcMessage parse(byte[] body) {
    try (JsonParser p = MAPPER.getFactory().createParser(body)) {
      JsonToken first = p.nextToken();
      if (first == null) {
        return new JsonRpcMessage.ParseError("empty body");
      }
      JsonRpcMessage message;
      if (first == JsonToken.START_OBJECT) {
        message = new JsonRpcMessage.Single(call(p, body));
      } else if (first == JsonToken.START_ARRAY) {
        List<JsonRpcCall> calls = new ArrayList<>();
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
          if (t == JsonToken.START_OBJECT) {
            calls.add(call(p, body));
          } else {
            p.skipChildren();
            calls.add(new JsonRpcCall(null, null, null, "a batch element must be an object"));
          }
        }
        message =
            calls.isEmpty()
                ? new JsonRpcMessage.NotARequest("empty batch")
                : new JsonRpcMessage.Batch(List.copyOf(calls));
      } else {
        p.skipChildren();
        message = new JsonRpcMessage.NotARequest("a request must be an object or an array");
      }
      if (p.nextToken() != null) {
        return new JsonRpcMessage.ParseError("unexpected data after the JSON value" + at(p));
      }
      return message;
    } catch (JsonProcessingException e) {
      return new JsonRpcMessage.ParseError("invalid JSON" + at(e));
    } catch (IOException e) {
      return new JsonRpcMessage.ParseError("unreadable body");
    }
  }

  /** Reads one call object; the parser is on its START_OBJECT and ends on its END_OBJECT. */
  private static JsonRpcCall call(JsonParser p, byte[] body) throws IOException {
    String method = null;
    JsonNode params = null;
    byte[] rawId = null;
    String invalid = null;
    boolean sawMethod = false;
    for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
      String field = p.currentName();
      JsonToken v = p.nextToken();
      switch (field) {
        case "method" -> {
          sawMethod = true;
          if (v == JsonToken.VALUE_STRING) {
            method = p.getText();
          } else {
            p.skipChildren();
            invalid = first(invalid, "'method' must be a string");
          }
        }
        case "params" -> {
          if (v == JsonToken.START_ARRAY || v == JsonToken.START_OBJECT) {
            params = p.readValueAsTree();
          } else if (v != JsonToken.VALUE_NULL) {
            invalid = first(invalid, "'params' must be an array or an object");
          }
        }
        case "id" -> {
          if (v == JsonToken.START_OBJECT
              || v == JsonToken.START_ARRAY
              || v == JsonToken.VALUE_TRUE
              || v == JsonToken.VALUE_FALSE) {
            p.skipChildren();
            invalid = first(invalid, "'id' must be a string, a number or null");
            rawId = "null".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
          } else {
            rawId = rawToken(p, body);
          }
        }
        case "jsonrpc" -> {
          if (v != JsonToken.VALUE_STRING || !"2.0".equals(p.getText())) {
            p.skipChildren();
            invalid = first(invalid, "'jsonrpc' must be \"2.0\"");
          }
        }
        default -> p.skipChildren();
      }
    }
    if (!sawMethod) {
      invalid = first(invalid, "'method' is missing");
    }
    return new JsonRpcCall(invalid == null ? method : null, params, rawId, invalid);
  }

  /** The bytes of the current scalar token, exactly as sent. */
  private static byte[] rawToken(JsonParser p, byte[] body) throws IOException {
    int start = (int) p.currentTokenLocation().getByteOffset();
    p.getText(); // finishes a lazily parsed string so the location below is past its closing quote
    int end = (int) p.currentLocation().getByteOffset();
    if (start < 0 || end <= start || end > body.length) {
      return p.getText().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
    while (end > start && isSeparator(body[end - 1])) {
      end--;
    }
    return Arrays.copyOfRange(body, start, end);
  }

  private static boolean isSeparator(byte b) {
    return b == ',' || b == '}' || b == ']' || b == ' ' || b == '\n' || b == '\r' || b == '\t';
  }

  private static String first(String existing, String next) {
    return existing != null ? existing : next;
  }

  private static String at(JsonParser p) {
    return " at line "
        + p.currentLocation().getLineNr()
        + ", column "
        + p.currentLocation().getColumnNr();
  }

  private static String at(JsonProcessingException e) {
    return e.getLocation() == null
        ? ""
        : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
  }
}
