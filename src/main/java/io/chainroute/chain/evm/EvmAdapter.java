package io.chainroute.chain.evm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.chainroute.chain.BlockRef;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.Classification;
import io.chainroute.chain.HeadSource;
import io.chainroute.chain.ProbeReading;
import io.chainroute.chain.Reply;
import io.chainroute.chain.Requirement;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.Protocol;
import io.chainroute.jsonrpc.JsonRpcCall;
import io.chainroute.jsonrpc.JsonRpcErrors;
import io.chainroute.jsonrpc.JsonRpcMessage;
import io.chainroute.jsonrpc.JsonRpcParser;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;

/**
 * EVM JSON-RPC: heads from {@code eth_blockNumber} + {@code eth_syncing}; requests classified with
 * {@link EvmMethods}. Stateless and thread-safe.
 */
public final class EvmAdapter implements ChainAdapter {
  /** Ids longer than this are not handed to the proxy for its own errors (they get "id":null). */
  static final int MAX_ECHO_ID_BYTES = 256;

  static final String JSON = "application/json";
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private final MethodPolicy methods;

  /** An adapter with the default method policy. */
  public EvmAdapter() {
    this(MethodPolicy.defaults());
  }

  EvmAdapter(MethodPolicy methods) {
    this.methods = methods;
  }

  @Override
  public ChainAdapter forChain(ChainConfig chain) {
    MethodPolicy policy = MethodPolicy.of(chain.methods());
    return policy == methods ? this : new EvmAdapter(policy);
  }

  /**
   * Head and sync state, and what chainroute answers itself: the chain id and network id, and the
   * finalized and safe heights (a node without finality tags answers those two with an error).
   */
  private static final byte[] PROBE =
      ("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_blockNumber\",\"params\":[]},"
              + "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_syncing\",\"params\":[]},"
              + "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"eth_chainId\",\"params\":[]},"
              + "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"net_version\",\"params\":[]},"
              + "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"eth_getBlockByNumber\","
              + "\"params\":[\"finalized\",false]},"
              + "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"eth_getBlockByNumber\","
              + "\"params\":[\"safe\",false]}]")
          .getBytes(StandardCharsets.US_ASCII);

  @Override
  public Protocol protocol() {
    return Protocol.EVM;
  }

  /** newHeads subscriptions for the chain's nodes that have a {@code wsUrl}; null when none has. */
  @Override
  public HeadSource headSource(
      ChainConfig chain,
      java.util.function.Function<io.chainroute.config.NodeConfig, HttpClient> http,
      ScheduledExecutorService timer,
      HeadSource.Wake wake) {
    NewHeadsSubscriber s = new NewHeadsSubscriber(http, chain, wake, timer);
    return s.size() == 0 ? null : s;
  }

  /** A JSON-RPC error object; the id is echoed when the proxy knows it. */
  @Override
  public String proxyErrorBody(int code, String message, String idJson) {
    return new String(
        JsonRpcErrors.error(idJson.getBytes(StandardCharsets.UTF_8), code, message, null),
        StandardCharsets.UTF_8);
  }

  @Override
  public boolean proxyErrorsEchoId() {
    return true;
  }

  /** geth's error for a filter id it does not hold (see ReadYourWrites). */
  @Override
  public NodeStateGone nodeStateGone() {
    return new NodeStateGone(JsonRpcErrors.SERVER_ERROR, ReadYourWrites.FILTER_NOT_FOUND);
  }

  @Override
  public HeadProbe headProbe(io.chainroute.config.NodeConfig node, long lastHead) {
    return new HeadProbe("POST", "/", JSON, PROBE);
  }

  @Override
  public ProbeReading readHeadProbe(int httpStatus, byte[] body) {
    if (httpStatus != 200) {
      throw new ProbeException("HTTP " + httpStatus + " to eth_blockNumber");
    }
    JsonNode root;
    try {
      root = MAPPER.readTree(body);
    } catch (IOException e) {
      throw new ProbeException("eth_blockNumber answer is not JSON");
    }
    if (root == null || !root.isArray()) {
      throw new ProbeException("eth_blockNumber batch answer is not an array");
    }
    JsonNode number = null;
    JsonNode syncing = null;
    JsonNode chainId = null;
    JsonNode netVersion = null;
    JsonNode finalized = null;
    JsonNode safe = null;
    for (JsonNode item : root) {
      int id = item.path("id").asInt(-1);
      if (item.has("error")) {
        if (id > 2) {
          // Identity and finality are optional: a node without finality tags says "finalized
          // block not found"; chainroute then counts confirmations instead.
          continue;
        }
        throw new ProbeException(
            (id == 1 ? "eth_blockNumber" : "eth_syncing")
                + " failed: code "
                + item.path("error").path("code").asText());
      }
      JsonNode result = item.get("result");
      switch (id) {
        case 1 -> number = result;
        case 2 -> syncing = result;
        case 3 -> chainId = result;
        case 4 -> netVersion = result;
        case 5 -> finalized = result;
        case 6 -> safe = result;
        default -> {}
      }
    }
    if (number == null || !number.isTextual()) {
      throw new ProbeException("eth_blockNumber returned no quantity");
    }
    long head = parseQuantity(number.asText());
    if (head < 0) {
      throw new ProbeException("eth_blockNumber returned an invalid quantity");
    }
    String identity = chainId != null && chainId.isTextual() ? chainId.asText() : null;
    EvmFacts facts =
        new EvmFacts(
            identity,
            netVersion != null && netVersion.isTextual() ? netVersion.asText() : null,
            EvmFacts.trailer(body));
    long fin = blockNumberOf(finalized);
    long sf = blockNumberOf(safe);
    if (syncing != null && syncing.isObject()) {
      long current = parseQuantity(syncing.path("currentBlock").asText(""));
      long highest = parseQuantity(syncing.path("highestBlock").asText(""));
      if (current >= 0 && highest >= 0 && current < highest) {
        return new ProbeReading(
            head, true, "syncing " + current + "/" + highest, facts, identity, fin, sf);
      }
      return new ProbeReading(head, false, "at head, indexes building", facts, identity, fin, sf);
    }
    return new ProbeReading(head, false, "", facts, identity, fin, sf);
  }

  /** The {@code number} of a block object, or -1. */
  private static long blockNumberOf(JsonNode block) {
    if (block == null || !block.isObject() || !block.path("number").isTextual()) {
      return -1;
    }
    return parseQuantity(block.path("number").asText());
  }

  /** Block tags that always mean the head: a proxy may route them without asking chainroute. */
  static final List<String> HEAD_TAGS = List.of("latest", "pending");

  /**
   * Methods with a block parameter whose data a full node keeps at the head ({@link EvmMethods}
   * state and block reads), as this chain's policy allows them: each is kept only when this adapter
   * itself classifies a call with a head tag there as a plain head read (not refused, not
   * node-bound, not a write), so the table can never say more than {@link #classify} does.
   */
  @Override
  public io.chainroute.chain.FastPathTable fastPath() {
    java.util.Map<String, io.chainroute.chain.FastPathTable.Method> out = new java.util.TreeMap<>();
    EvmMethods.TABLE.forEach(
        (method, rule) -> {
          boolean position =
              rule.locator() == EvmMethods.Locator.POSITION
                  && (rule.kind() == io.chainroute.chain.DataKind.STATE
                      || rule.kind() == io.chainroute.chain.DataKind.NONE);
          boolean filter =
              rule.locator() == EvmMethods.Locator.FILTER_OBJECT
                  && rule.kind() == io.chainroute.chain.DataKind.LOGS;
          if (rule.write() || !(position || filter)) {
            return;
          }
          if (headRead(method, rule, filter, "\"latest\"", BlockRef.LATEST)
              && headRead(method, rule, filter, "\"pending\"", BlockRef.PENDING)
              && (!filter || headRead(method, rule, true, null, BlockRef.LATEST))) {
            // Numbers too when this adapter reads "0x2a" there as a plain read at height 42 (the
            // proxy accepts only that canonical spelling; anything else stays chainroute's).
            boolean numbers =
                headRead(method, rule, filter, "\"0x2a\"", BlockRef.number(42))
                    && headRead(method, rule, filter, "\"0x0\"", BlockRef.number(0));
            out.put(
                method,
                new io.chainroute.chain.FastPathTable.Method(
                    rule.position(), rule.kind(), numbers, filter));
          }
        });
    return out.isEmpty() ? null : new io.chainroute.chain.FastPathTable(out, HEAD_TAGS);
  }

  /**
   * Whether a call of {@code method} with {@code block} (JSON text) at its block parameter (for a
   * log filter: as its {@code fromBlock}, left out when null) is exactly one plain read at {@code
   * ref}.
   */
  private boolean headRead(
      String method, EvmMethods.Rule rule, boolean filter, String block, BlockRef ref) {
    StringBuilder params = new StringBuilder("[");
    if (filter) {
      params
          .append("{\"address\":\"0x000000000000000000000000000000000000bEEF\"")
          .append(block == null ? "" : ",\"fromBlock\":" + block)
          .append(",\"topics\":[]}]");
    } else {
      for (int i = 0; i < rule.position(); i++) {
        params.append("null,");
      }
      params.append(block).append("]");
    }
    byte[] probe =
        ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method + "\",\"params\":" + params + "}")
            .getBytes(StandardCharsets.UTF_8);
    return classify("POST", probe) instanceof Classification.Forward f
        && f.requirements().equals(List.of(Requirement.read(rule.kind(), ref)));
  }

  @Override
  public Classification classify(String httpMethod, byte[] body) {
    JsonRpcMessage message = JsonRpcParser.parse(body);
    if (message instanceof JsonRpcMessage.ParseError e) {
      return answer(
          JsonRpcErrors.error(null, JsonRpcErrors.PARSE_ERROR, "Parse error", e.detail()));
    }
    if (message instanceof JsonRpcMessage.NotARequest e) {
      return answer(
          JsonRpcErrors.error(null, JsonRpcErrors.INVALID_REQUEST, "Invalid Request", e.detail()));
    }
    if (message instanceof JsonRpcMessage.Single s) {
      JsonRpcCall call = s.call();
      if (!call.valid()) {
        return answer(
            JsonRpcErrors.error(
                call.rawId(),
                JsonRpcErrors.INVALID_REQUEST,
                "Invalid Request",
                call.invalidReason()));
      }
      byte[] id = call.rawId();
      if (methods.refused(call.method())) {
        return answer(refusal(call));
      }
      Classification.Forward forward =
          new Classification.Forward(
              List.of(requirement(call)),
              (status, code, msg) ->
                  new Reply(status, JSON, JsonRpcErrors.error(id, code, msg, null)),
              id == null || id.length > MAX_ECHO_ID_BYTES
                  ? null
                  : new String(id, java.nio.charset.StandardCharsets.UTF_8),
              EvmMethods.label(call.method()),
              EvmAnswers.plan(List.of(call), false));
      // Transactions to every node, filters to the node that holds them (ReadYourWrites).
      Classification nodeBound = ReadYourWrites.classify(call, body, forward);
      return nodeBound != null ? nodeBound : forward;
    }
    // A batch is forwarded whole: the node answers invalid elements itself, in order.
    List<JsonRpcCall> calls = ((JsonRpcMessage.Batch) message).calls();
    if (calls.stream().anyMatch(c -> c.valid() && methods.refused(c.method()))) {
      return answer(refusedBatch(calls));
    }
    List<Requirement> requirements = new ArrayList<>(calls.size());
    List<byte[]> ids = new ArrayList<>(calls.size());
    for (JsonRpcCall call : calls) {
      if (call.valid()) {
        requirements.add(requirement(call));
      }
      // JSON-RPC 2.0 section 6: every request gets a response, and so does every invalid element
      // (with id null when it has none); only valid notifications get nothing.
      if (!call.valid() || !call.notification()) {
        ids.add(call.rawId());
      }
    }
    return new Classification.Forward(
        requirements,
        (status, code, msg) ->
            new Reply(status, JSON, JsonRpcErrors.batchError(ids, code, msg, null)),
        null,
        "batch",
        calls.isEmpty() ? null : EvmAnswers.plan(calls, true));
  }

  @Override
  public boolean storesAnswers() {
    return true;
  }

  @Override
  public List<byte[]> captured(
      byte[] responseBody, List<io.chainroute.chain.LocalPlan.Capture> calls, long finalized) {
    return EvmAnswers.captured(responseBody, calls, finalized);
  }

  /** The error a node without the method's API gives (geth's text), the id echoed. */
  private static byte[] refusal(JsonRpcCall call) {
    return JsonRpcErrors.error(
        call.rawId(),
        JsonRpcErrors.METHOD_NOT_FOUND,
        "the method " + call.method() + " does not exist/is not available",
        null);
  }

  /**
   * A batch with a refused method never reaches a node (it cannot be split here): the refused calls
   * get -32601, the others a -32000 saying they were not run, invalid ones -32600, and
   * notifications nothing (JSON-RPC 2.0 section 6).
   */
  private byte[] refusedBatch(List<JsonRpcCall> calls) {
    List<byte[]> out = new ArrayList<>(calls.size());
    for (JsonRpcCall c : calls) {
      if (!c.valid()) {
        out.add(
            JsonRpcErrors.error(
                c.rawId(), JsonRpcErrors.INVALID_REQUEST, "Invalid Request", c.invalidReason()));
      } else if (methods.refused(c.method())) {
        if (!c.notification()) {
          out.add(refusal(c));
        }
      } else if (!c.notification()) {
        out.add(
            JsonRpcErrors.error(
                c.rawId(),
                JsonRpcErrors.SERVER_ERROR,
                "not executed: the batch has a method this endpoint does not serve",
                null));
      }
    }
    if (out.isEmpty()) {
      // Only notifications: JSON-RPC would answer nothing, but an HTTP client needs to learn why
      // nothing ran, so the refusals are answered (with id null).
      for (JsonRpcCall c : calls) {
        if (c.valid() && methods.refused(c.method())) {
          out.add(refusal(c));
        }
      }
    }
    return JsonRpcErrors.array(out);
  }

  private static Classification answer(byte[] body) {
    return new Classification.Answer(new Reply(200, JSON, body));
  }

  /** What one valid call needs. Package-private for the table-driven tests. */
  static Requirement requirement(JsonRpcCall call) {
    EvmMethods.Rule rule = EvmMethods.rule(call.method());
    if (rule.write()) {
      return Requirement.WRITE;
    }
    JsonNode params = call.params();
    BlockRef ref =
        switch (rule.locator()) {
          case NONE ->
              rule.kind() == io.chainroute.chain.DataKind.TRACE ? BlockRef.HASH : BlockRef.LATEST;
          case POSITION -> blockRef(param(params, rule.position()));
          case HASH_AT_POSITION -> BlockRef.HASH;
          case FILTER_OBJECT -> filterFrom(param(params, 0));
        };
    return Requirement.read(rule.kind(), ref);
  }

  private static JsonNode param(JsonNode params, int position) {
    if (params == null || !params.isArray() || position >= params.size()) {
      return null;
    }
    return params.get(position);
  }

  /** The oldest end of a log filter: {@code blockHash}, else {@code fromBlock} (default latest). */
  private static BlockRef filterFrom(JsonNode filter) {
    if (filter == null || !filter.isObject()) {
      return BlockRef.LATEST;
    }
    if (filter.hasNonNull("blockHash")) {
      return BlockRef.HASH;
    }
    return blockRef(filter.get("fromBlock"));
  }

  /**
   * Normalises a block parameter (protocols.md B.1): tags, hex numbers (leading zeros tolerated),
   * plain JSON numbers, 32-byte hashes and EIP-1898 objects. Missing or unreadable means latest:
   * the node then answers with its own error.
   */
  static BlockRef blockRef(JsonNode v) {
    if (v == null || v.isNull()) {
      return BlockRef.LATEST;
    }
    if (v.isIntegralNumber()) {
      return v.canConvertToLong() && v.longValue() >= 0
          ? BlockRef.number(v.longValue())
          : BlockRef.LATEST;
    }
    if (v.isObject()) {
      if (v.hasNonNull("blockHash")) {
        return BlockRef.HASH;
      }
      return blockRef(v.get("blockNumber"));
    }
    if (!v.isTextual()) {
      return BlockRef.LATEST;
    }
    String s = v.asText();
    BlockRef tag =
        switch (s) {
          case "latest" -> BlockRef.LATEST;
          case "pending" -> BlockRef.PENDING;
          case "safe" -> BlockRef.SAFE;
          case "finalized" -> BlockRef.FINALIZED;
          case "earliest" -> BlockRef.EARLIEST;
          default -> null;
        };
    if (tag != null) {
      return tag;
    }
    if (s.length() == 66 && (s.startsWith("0x") || s.startsWith("0X"))) {
      return BlockRef.HASH;
    }
    long n = parseQuantity(s);
    return n >= 0 ? BlockRef.number(n) : BlockRef.LATEST;
  }

  /**
   * A hex QUANTITY ({@code 0x1b4}, also zero-padded: {@code 0x00000000000000001b5}); -1 when it is
   * not one or its value does not fit a signed long (the caller passes such a request on, and the
   * node answers it as it would).
   */
  static long parseQuantity(String s) {
    if (s.length() < 3 || s.charAt(0) != '0' || (s.charAt(1) != 'x' && s.charAt(1) != 'X')) {
      return -1;
    }
    int i = 2;
    while (i < s.length() - 1 && s.charAt(i) == '0') {
      i++;
    }
    if (s.length() - i > 16) {
      return -1;
    }
    long n = 0;
    for (; i < s.length(); i++) {
      int d = Character.digit(s.charAt(i), 16);
      if (d < 0) {
        return -1;
      }
      n = (n << 4) | d;
    }
    return n < 0 ? -1 : n;
  }
}
