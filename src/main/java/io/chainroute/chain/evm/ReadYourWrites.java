package io.chainroute.chain.evm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.chainroute.chain.Classification;
import io.chainroute.chain.NodeReply;
import io.chainroute.chain.NodeTag;
import io.chainroute.chain.Reply;
import io.chainroute.jsonrpc.JsonRpcCall;
import io.chainroute.jsonrpc.JsonRpcErrors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The EVM calls whose answer depends on which node saw an earlier call: a transaction (every node
 * of the head pool gets it, so any node asked next knows it) and filters (state on one node: the
 * filter id chainroute hands out carries that node's {@link NodeTag}). Stateless; used by {@link
 * EvmAdapter#classify} for single calls (a batch is forwarded whole, as before).
 *
 * <p>Transactions: the client gets the first {@code result} any node returned. A duplicate answer
 * ({@code already known}, {@code nonce too low} from a node that got the transaction over p2p from
 * another one first) never hides an acceptance: only when no node returned a result does the client
 * get an error, the first node's own, unchanged (a transaction every node knows answers "already
 * known", as a single node would).
 *
 * <p>Filters: {@code eth_newFilter}, {@code eth_newBlockFilter} and {@code
 * eth_newPendingTransactionFilter} are created on one node and their id comes back with the node's
 * tag appended ({@code 0x<node's id><tag>}; geth's ids have no leading zero, so clients that read
 * them as quantities keep every digit). {@code eth_getFilterChanges}, {@code eth_getFilterLogs} and
 * {@code eth_uninstallFilter} with a tagged id go to that node with the node's own id; when it is
 * gone they get the node's own {@code filter not found}. An id without a tag (a filter made before
 * chainroute, or straight at a node) is routed as before.
 */
final class ReadYourWrites {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  static final Set<String> CREATE =
      Set.of("eth_newFilter", "eth_newBlockFilter", "eth_newPendingTransactionFilter");
  static final Set<String> USE =
      Set.of("eth_getFilterChanges", "eth_getFilterLogs", "eth_uninstallFilter");
  static final String SEND = "eth_sendRawTransaction";

  /** geth's answer for an id it does not know (eth/filters/api.go {@code errFilterNotFound}). */
  static final String FILTER_NOT_FOUND = "filter not found";

  /** Lower-case parts of the errors nodes give for a transaction they already have. */
  private static final List<String> DUPLICATES =
      List.of(
          "already known", // geth
          "known transaction", // besu, older geth
          "already exists", // erigon ALREADY_EXISTS
          "alreadyknown", // nethermind
          "nonce too low"); // mined already (it reached the node another way first)

  private ReadYourWrites() {}

  /**
   * The classification of a valid single call when it is one of these methods, else null.
   *
   * @param otherwise the ordinary classification: how to route it when chainroute does not
   */
  static Classification classify(JsonRpcCall call, byte[] body, Classification.Forward otherwise) {
    String method = call.method();
    Classification.ErrorReplier errors = otherwise.errors();
    if (SEND.equals(method)) {
      return new Classification.Broadcast(
          body, replies -> broadcastAnswer(replies, errors), otherwise);
    }
    if (CREATE.contains(method)) {
      return new Classification.CreateOnNode(
          body, (tag, reply) -> created(tag, reply, errors), otherwise);
    }
    if (USE.contains(method)) {
      return onNode(call, body, otherwise);
    }
    return null;
  }

  /** The answer to a broadcast transaction (see the class comment). */
  static Reply broadcastAnswer(List<NodeReply> replies, Classification.ErrorReplier errors) {
    NodeReply firstDuplicate = null;
    NodeReply firstError = null;
    for (NodeReply r : replies) {
      if (!r.answered()) {
        continue;
      }
      JsonNode json = json(r.body());
      if (r.httpStatus() == 200 && json != null && json.hasNonNull("result")) {
        return reply(r);
      }
      String message =
          json == null
              ? ""
              : json.path("error").path("message").asText("").toLowerCase(Locale.ROOT);
      if (firstDuplicate == null && DUPLICATES.stream().anyMatch(message::contains)) {
        firstDuplicate = r;
      }
      if (firstError == null) {
        firstError = r;
      }
    }
    if (firstDuplicate != null) {
      return reply(firstDuplicate);
    }
    if (firstError != null) {
      return reply(firstError);
    }
    return errors.reply(
        503,
        JsonRpcErrors.RESOURCE_UNAVAILABLE,
        "no node answered eth_sendRawTransaction in time; it may still reach the chain");
  }

  /** The node's answer to a filter creation, its id tagged with the node. */
  static Reply created(String tag, NodeReply r, Classification.ErrorReplier errors) {
    if (!r.answered()) {
      return errors.reply(
          503, JsonRpcErrors.RESOURCE_UNAVAILABLE, "the node chosen for the filter did not answer");
    }
    JsonNode json = json(r.body());
    JsonNode result = json == null ? null : json.get("result");
    if (r.httpStatus() != 200 || result == null || !result.isTextual()) {
      return reply(r);
    }
    String id = result.asText();
    if (!isHex(id)) {
      return reply(r);
    }
    byte[] tagged = replaceFirst(r.body(), quoted(id), quoted(id + tag));
    return new Reply(200, EvmAdapter.JSON, tagged == null ? r.body() : tagged);
  }

  /** A call on a tagged filter id: to its node, with the node's own id; else null (untagged). */
  private static Classification onNode(
      JsonRpcCall call, byte[] body, Classification.Forward otherwise) {
    JsonNode params = call.params();
    JsonNode first = params != null && params.isArray() && params.size() > 0 ? params.get(0) : null;
    if (first == null || !first.isTextual()) {
      return null;
    }
    String tagged = first.asText();
    if (tagged.length() < 2 + 1 + NodeTag.LENGTH || !isHex(tagged)) {
      return null;
    }
    String own = tagged.substring(0, tagged.length() - NodeTag.LENGTH);
    String tag = tagged.substring(tagged.length() - NodeTag.LENGTH).toLowerCase(Locale.ROOT);
    byte[] rewritten = replaceFirst(body, quoted(tagged), quoted(own));
    if (rewritten == null) {
      // Written with escapes: not an id chainroute handed out in that form. Route as before.
      return null;
    }
    Reply gone =
        new Reply(
            200,
            EvmAdapter.JSON,
            JsonRpcErrors.error(call.rawId(), JsonRpcErrors.SERVER_ERROR, FILTER_NOT_FOUND, null));
    return new Classification.OnNode(tag, rewritten, gone, otherwise);
  }

  private static boolean isHex(String s) {
    if (s.length() < 3 || !(s.startsWith("0x") || s.startsWith("0X"))) {
      return false;
    }
    for (int i = 2; i < s.length(); i++) {
      if (Character.digit(s.charAt(i), 16) < 0) {
        return false;
      }
    }
    return true;
  }

  private static byte[] quoted(String s) {
    return ("\"" + s + "\"").getBytes(StandardCharsets.US_ASCII);
  }

  /** {@code in} with the first {@code from} replaced by {@code to}; null when there is none. */
  static byte[] replaceFirst(byte[] in, byte[] from, byte[] to) {
    outer:
    for (int i = 0; i + from.length <= in.length; i++) {
      for (int j = 0; j < from.length; j++) {
        if (in[i + j] != from[j]) {
          continue outer;
        }
      }
      byte[] out = Arrays.copyOf(in, in.length - from.length + to.length);
      System.arraycopy(to, 0, out, i, to.length);
      System.arraycopy(in, i + from.length, out, i + to.length, in.length - i - from.length);
      return out;
    }
    return null;
  }

  private static JsonNode json(byte[] body) {
    try {
      return MAPPER.readTree(body);
    } catch (IOException e) {
      return null;
    }
  }

  private static Reply reply(NodeReply r) {
    return new Reply(r.httpStatus(), EvmAdapter.JSON, r.body());
  }
}
