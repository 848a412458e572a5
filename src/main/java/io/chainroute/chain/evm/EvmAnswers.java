package io.chainroute.chain.evm;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.chainroute.chain.AdapterState;
import io.chainroute.chain.BlockRef;
import io.chainroute.chain.LocalPlan;
import io.chainroute.chain.LocalPlan.Admission;
import io.chainroute.chain.Reply;
import io.chainroute.jsonrpc.JsonRpcCall;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * What chainroute answers itself for EVM chains, as pure functions: the {@link LocalPlan} of a
 * request, the replies built from it, and the answers kept from a node's reply.
 *
 * <ul>
 *   <li>from the chain's facts: {@code eth_chainId}, {@code net_version} (as the nodes say them)
 *       and {@code eth_blockNumber} (the head, never lower than one answered before);
 *   <li>from the store, once the data can no longer change: blocks, transactions and receipts by
 *       hash once their block is final (checked on the node's answer), blocks, block receipts and
 *       state reads at an explicit number at or below the finalized height, {@code eth_getLogs}
 *       over an explicit finalized range (no {@code blockHash}, no tag).
 * </ul>
 *
 * <p>A stored answer is the node's {@code result} bytes exactly as it wrote them, plus what it
 * wrote after the JSON (its trailer); a reply is {@code {"jsonrpc":"2.0","id":<the client's id as
 * written>,"result":<those bytes>}} (the envelope geth and anvil write), batches in order. Errors,
 * null results, writes, tags ({@code latest}, {@code pending}, {@code safe}, {@code finalized}) and
 * node-local state (filters, the mempool, accounts) are never stored.
 *
 * <p>Stateless and thread-safe.
 */
final class EvmAnswers {
  private EvmAnswers() {}

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final JsonFactory FACTORY = MAPPER.getFactory();

  private static final LocalPlan.Fact FACT = new LocalPlan.Fact();

  /** Methods answered from a block number (params[position]). */
  private static final Map<String, Integer> AT_NUMBER =
      Map.ofEntries(
          Map.entry("eth_getBlockByNumber", 0),
          Map.entry("eth_getBlockReceipts", 0),
          Map.entry("eth_getBlockTransactionCountByNumber", 0),
          Map.entry("eth_getTransactionByBlockNumberAndIndex", 0),
          Map.entry("eth_getUncleCountByBlockNumber", 0),
          Map.entry("eth_getUncleByBlockNumberAndIndex", 0),
          Map.entry("eth_getBalance", 1),
          Map.entry("eth_getCode", 1),
          Map.entry("eth_getTransactionCount", 1),
          Map.entry("eth_getStorageAt", 2),
          Map.entry("eth_getProof", 2),
          Map.entry("eth_call", 1));

  /** Methods answered by hash, and which block number of their result must be final. */
  private static final Map<String, Admission> BY_HASH =
      Map.of(
          "eth_getBlockByHash", Admission.OWN_NUMBER,
          "eth_getTransactionByHash", Admission.BLOCK_NUMBER,
          "eth_getTransactionReceipt", Admission.BLOCK_NUMBER);

  /**
   * The plan for valid calls (a single call, or a batch without notifications); null when no call
   * could be answered here.
   */
  static LocalPlan plan(List<JsonRpcCall> calls, boolean batch) {
    List<LocalPlan.Call> out = new ArrayList<>(calls.size());
    boolean any = false;
    for (JsonRpcCall c : calls) {
      if (!c.valid() || c.notification()) {
        // A notification gets no answer (and may be a write); an invalid call the node's error.
        return null;
      }
      LocalPlan.Call p = call(c);
      any |= !(p instanceof LocalPlan.Never);
      out.add(p);
    }
    if (!any) {
      return null;
    }
    List<byte[]> ids = calls.stream().map(JsonRpcCall::rawId).toList();
    List<String> methods = calls.stream().map(JsonRpcCall::method).toList();
    return new LocalPlan(
        out, (stored, facts, head) -> reply(ids, methods, batch, out, stored, facts, head));
  }

  private static LocalPlan.Call call(JsonRpcCall c) {
    String m = c.method();
    if (m.equals("eth_chainId") || m.equals("net_version") || m.equals("eth_blockNumber")) {
      return FACT;
    }
    JsonNode params = c.params();
    Admission byHash = BY_HASH.get(m);
    if (byHash != null) {
      JsonNode h = param(params, 0);
      return h != null && h.isTextual() && h.asText().length() == 66
          ? new LocalPlan.Stored(key(m, params), -1, byHash, idTag(c.rawId()))
          : new LocalPlan.Never("no hash");
    }
    Integer position = AT_NUMBER.get(m);
    if (position != null) {
      if (m.equals("eth_call") && param(params, 2) != null) {
        return new LocalPlan.Never("state overrides");
      }
      JsonNode b = param(params, position);
      BlockRef ref = b == null ? BlockRef.LATEST : EvmAdapter.blockRef(b);
      if (ref.kind() != BlockRef.Kind.NUMBER || (b.isObject() && b.size() != 1)) {
        return new LocalPlan.Never("not an explicit block number");
      }
      return new LocalPlan.Stored(key(m, params), ref.number(), Admission.ANY, idTag(c.rawId()));
    }
    if (m.equals("eth_getLogs")) {
      JsonNode f = param(params, 0);
      if (f == null || !f.isObject() || f.has("blockHash")) {
        return new LocalPlan.Never("not a block range");
      }
      BlockRef from = EvmAdapter.blockRef(f.get("fromBlock"));
      BlockRef to = EvmAdapter.blockRef(f.get("toBlock"));
      if (from.kind() != BlockRef.Kind.NUMBER
          || to.kind() != BlockRef.Kind.NUMBER
          || !f.path("fromBlock").isTextual()
          || !f.path("toBlock").isTextual()) {
        return new LocalPlan.Never("not an explicit block range");
      }
      return new LocalPlan.Stored(
          key(m, params), Math.max(from.number(), to.number()), Admission.ANY, idTag(c.rawId()));
    }
    return new LocalPlan.Never("not cacheable");
  }

  private static JsonNode param(JsonNode params, int position) {
    if (params == null || !params.isArray() || position >= params.size()) {
      return null;
    }
    return params.get(position);
  }

  /** The method and its parameters as compact JSON (the client's spelling, key order kept). */
  private static String key(String method, JsonNode params) {
    return method + (params == null ? "" : params.toString());
  }

  /** Identifies a call's id in a node's answer (compared only, never shown). */
  private static String idTag(byte[] rawId) {
    return HexFormat.of().formatHex(rawId, 0, Math.min(rawId.length, 24))
        + ":"
        + rawId.length
        + ":"
        + Arrays.hashCode(rawId);
  }

  // ------------------------------------------------------------------------------- replies

  private static final byte[] OPEN =
      "{\"jsonrpc\":\"2.0\",\"id\":".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] RESULT = ",\"result\":".getBytes(StandardCharsets.US_ASCII);

  private static Reply reply(
      List<byte[]> ids,
      List<String> methods,
      boolean batch,
      List<LocalPlan.Call> calls,
      List<byte[]> stored,
      AdapterState state,
      long head) {
    EvmFacts facts = state instanceof EvmFacts f ? f : null;
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    // The trailer of the node whose answer is replayed (or, for facts alone, of the probed node).
    String trailer = null;
    if (batch) {
      out.write('[');
    }
    for (int i = 0; i < calls.size(); i++) {
      byte[] result;
      if (calls.get(i) instanceof LocalPlan.Stored) {
        byte[] entry = stored.get(i);
        result = Arrays.copyOfRange(entry, 1 + entry[0], entry.length);
        if (trailer == null) {
          trailer = new String(entry, 1, entry[0], StandardCharsets.US_ASCII);
        }
      } else {
        result = fact(methods.get(i), facts, head);
        if (result == null) {
          return null;
        }
      }
      if (i > 0) {
        out.write(',');
      }
      out.writeBytes(OPEN);
      out.writeBytes(ids.get(i));
      out.writeBytes(RESULT);
      out.writeBytes(result);
      out.write('}');
    }
    if (batch) {
      out.write(']');
    }
    if (trailer == null) {
      trailer = facts != null ? facts.trailer() : "";
    }
    out.writeBytes((trailer == null ? "" : trailer).getBytes(StandardCharsets.US_ASCII));
    return new Reply(200, EvmAdapter.JSON, out.toByteArray());
  }

  /** The result of a fact call as JSON; null when the facts do not say. */
  private static byte[] fact(String method, EvmFacts facts, long head) {
    String value =
        switch (method) {
          case "eth_blockNumber" -> head >= 0 ? "0x" + Long.toHexString(head) : null;
          case "eth_chainId" -> facts == null ? null : facts.chainId();
          case "net_version" -> facts == null ? null : facts.netVersion();
          default -> null;
        };
    if (value == null) {
      return null;
    }
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (IOException e) {
      return null;
    }
  }

  // ------------------------------------------------------------------------------- capture

  /** See {@link io.chainroute.chain.ChainAdapter#captured}. */
  static List<byte[]> captured(byte[] body, List<LocalPlan.Capture> calls, long finalized) {
    List<byte[]> out = new ArrayList<>(calls.size());
    for (int i = 0; i < calls.size(); i++) {
      out.add(null);
    }
    String trailer = EvmFacts.trailer(body);
    try (JsonParser p = FACTORY.createParser(body)) {
      JsonToken first = p.nextToken();
      if (first == JsonToken.START_OBJECT) {
        if (calls.size() == 1) {
          Element e = element(p, body);
          out.set(0, keep(e, calls.get(0), finalized, trailer, false));
        }
        return out;
      }
      if (first != JsonToken.START_ARRAY) {
        return out;
      }
      for (int i = 0; p.nextToken() == JsonToken.START_OBJECT; i++) {
        Element e = element(p, body);
        if (i < calls.size()) {
          out.set(i, keep(e, calls.get(i), finalized, trailer, true));
        }
      }
    } catch (IOException | RuntimeException e) {
      // Not an answer that can be read: nothing kept (the client has the node's bytes anyway).
      return out;
    }
    return out;
  }

  /** One answer object: the raw bytes of its id and result, and whether it had an error. */
  private record Element(byte[] id, byte[] result, boolean error) {}

  /** Reads the object the parser is at the start of, to its end. */
  private static Element element(JsonParser p, byte[] body) throws IOException {
    byte[] id = null;
    byte[] result = null;
    boolean error = false;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      p.nextToken();
      int start = (int) p.currentTokenLocation().getByteOffset();
      p.skipChildren();
      p.finishToken();
      int end = (int) p.currentLocation().getByteOffset();
      switch (name) {
        case "id" -> id = Arrays.copyOfRange(body, start, end);
        case "result" -> result = Arrays.copyOfRange(body, start, end);
        case "error" -> error = true;
        default -> {}
      }
    }
    return new Element(id, result, error);
  }

  private static byte[] keep(
      Element e, LocalPlan.Capture c, long finalized, String trailer, boolean batch) {
    if (c == null || e.error() || e.result() == null || e.id() == null) {
      return null;
    }
    if (batch && !idTag(e.id()).equals(c.idTag())) {
      return null;
    }
    if (e.result().length == 4
        && new String(e.result(), StandardCharsets.US_ASCII).equals("null")) {
      return null;
    }
    if (c.admission() != Admission.ANY) {
      long n =
          blockOf(e.result(), c.admission() == Admission.OWN_NUMBER ? "number" : "blockNumber");
      if (n < 0 || finalized < 0 || n > finalized) {
        return null;
      }
    }
    byte[] t = trailer.getBytes(StandardCharsets.US_ASCII);
    byte[] entry = new byte[1 + t.length + e.result().length];
    entry[0] = (byte) t.length;
    System.arraycopy(t, 0, entry, 1, t.length);
    System.arraycopy(e.result(), 0, entry, 1 + t.length, e.result().length);
    return entry;
  }

  private static long blockOf(byte[] result, String field) throws IllegalStateException {
    try (JsonParser p = FACTORY.createParser(result)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return -1;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (name.equals(field)) {
          return t == JsonToken.VALUE_STRING ? EvmAdapter.parseQuantity(p.getText()) : -1;
        }
        p.skipChildren();
      }
      return -1;
    } catch (IOException e) {
      return -1;
    }
  }
}
