package io.chainroute.chain.algod;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.chainroute.chain.AdapterState;
import io.chainroute.chain.BlockRef;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.Classification;
import io.chainroute.chain.DataKind;
import io.chainroute.chain.PathRoute;
import io.chainroute.chain.ProbeReading;
import io.chainroute.chain.Reply;
import io.chainroute.chain.Requirement;
import io.chainroute.config.ConfigLoader;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.Protocol;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Algorand algod REST v2 adapter. Heads come from {@code GET /v2/status} and then a long poll
 * on {@code /v2/status/wait-for-block-after/{last-round}}; requests are classified by path alone
 * (the body, often msgpack, is never read). Behaviour and messages follow
 * shared/reference/protocols.md part A byte for byte.
 */
public final class AlgodAdapter implements ChainAdapter {
  /** algod's own wait timeout (handlers.go WaitForBlockTimeout). */
  public static final Duration WAIT_TIMEOUT = Duration.ofMinutes(1);

  static final String JSON = "application/json";
  static final String WAIT_PREFIX = "/v2/status/wait-for-block-after/";
  static final String PENDING_PREFIX = "/v2/transactions/pending/";
  private static final BigInteger MAX_UINT64 = new BigInteger("18446744073709551615");
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Reply CATCHUP = error(503, "operation not available during catchup");
  private static final Reply SHUTTING_DOWN =
      error(500, "operation aborted as server is shutting down");

  /**
   * A node's last {@code /v2/status} body as it sent it: what a held wait is answered with (algod
   * answers a wait with its own status).
   */
  record Status(byte[] body) implements AdapterState {
    Reply reply() {
      return new Reply(200, JSON, body);
    }
  }

  @Override
  public Protocol protocol() {
    return Protocol.ALGORAND;
  }

  /**
   * Waits are held by chainroute (it answers them from the nodes' status) and reach a node only
   * when chainroute is down. The transaction pool is node-local: a pending lookup that misses (404)
   * is retried on the other nodes, so it finds the node that took the submission.
   */
  @Override
  public List<PathRoute> pathRoutes() {
    return List.of(PathRoute.held(WAIT_PREFIX), PathRoute.retriedElsewhereOn(PENDING_PREFIX, 404));
  }

  /** The client's own token is dropped; the chosen node's token is set by the proxy per node. */
  @Override
  public List<String> clientHeadersToDrop() {
    return List.of(ConfigLoader.ALGOD_TOKEN_HEADER.toLowerCase(Locale.ROOT), "authorization");
  }

  /**
   * algod's {@code {"message": ...}}: no code, no id, and the newline algod's encoder ends every
   * body with (Envoy's own replies are byte for byte an algod error).
   */
  @Override
  public String proxyErrorBody(int code, String message, String idJson) {
    return errorBody(message) + "\n";
  }

  @Override
  public HeadProbe headProbe(NodeConfig node, long lastHead) {
    // No headers of its own: the node's API token is one of its configured headers (tokenEnv),
    // which the prober sends.
    if (lastHead < 0) {
      return new HeadProbe("GET", "/v2/status", "", new byte[0], Map.of(), null, false);
    }
    // Returns as soon as the node has a round after lastHead, or after algod's 60 s with its
    // status.
    return new HeadProbe(
        "GET",
        WAIT_PREFIX + lastHead,
        "",
        new byte[0],
        Map.of(),
        WAIT_TIMEOUT.plusSeconds(5),
        true);
  }

  @Override
  public ProbeReading readHeadProbe(int httpStatus, byte[] body) {
    if (httpStatus != 200) {
      throw new ProbeException("HTTP " + httpStatus + " from /v2/status" + message(body));
    }
    JsonNode s;
    try {
      s = MAPPER.readTree(body);
    } catch (IOException e) {
      throw new ProbeException("/v2/status answer is not JSON");
    }
    if (s == null || !s.path("last-round").canConvertToLong()) {
      throw new ProbeException("/v2/status answer has no last-round");
    }
    long round = s.get("last-round").asLong();
    Status status = new Status(body);
    if (s.path("stopped-at-unsupported-round").asBoolean(false)) {
      return new ProbeReading(round, true, "stopped at an unsupported round", status);
    }
    String catchpoint = s.path("catchpoint").asText("");
    if (!catchpoint.isEmpty()) {
      return new ProbeReading(round, true, "fast catchup to " + catchpoint, status);
    }
    if (s.path("catchup-time").asLong(0) > 0) {
      return new ProbeReading(round, true, "catching up", status);
    }
    return new ProbeReading(round, false, "", status);
  }

  @Override
  public Classification classifyRequestLine(String method, String pathAndQuery) {
    int q = pathAndQuery.indexOf('?');
    String path = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
    // algod removes one trailing slash before routing (echo's middleware.RemoveTrailingSlash):
    // wait-for-block-after/abc// is parsed as "abc/".
    if (path.length() > 1 && path.endsWith("/")) {
      path = path.substring(0, path.length() - 1);
    }
    // A malformed %-escape anywhere in the path is refused by Go's HTTP server before algod
    // routes it (400, text/plain): such a request goes to a node, which answers that at once.
    if (path.startsWith(WAIT_PREFIX) && "GET".equals(method) && !malformedEscape(path)) {
      return await(percentDecode(path.substring(WAIT_PREFIX.length())));
    }
    if ("POST".equals(method)
        && (path.equals("/v2/transactions") || path.equals("/v2/transactions/async"))) {
      return forward(Requirement.WRITE, "transactions");
    }
    if (path.startsWith(PENDING_PREFIX)
        || (path.startsWith("/v2/accounts/") && path.endsWith("/transactions/pending"))) {
      // The transaction pool is node-local: Envoy retries a 404 on the other nodes (pathRoutes).
      return forward(Requirement.read(DataKind.NODE_LOCAL, BlockRef.LATEST), "pending");
    }
    String round = roundSegment(path);
    if (round != null) {
      long r = parseRound(new String(percentDecode(round), StandardCharsets.UTF_8));
      if (r >= 0) {
        return forward(Requirement.read(DataKind.STATE, BlockRef.number(r)), label(path));
      }
    }
    return forward(Requirement.LATEST_READ, label(path));
  }

  /** Route labels for metrics and the decision log: the API's resource families, else "other". */
  private static final java.util.Set<String> ROUTES =
      java.util.Set.of(
          "status",
          "accounts",
          "applications",
          "assets",
          "blocks",
          "stateproofs",
          "ledger",
          "transactions",
          "teal",
          "deltas",
          "devmode",
          "participation",
          "catchup",
          "shutdown",
          "experimental");

  /**
   * The bounded label of a path: {@code /v2/<family>/...} by its family ({@link #ROUTES}), the
   * unversioned {@code /health}, {@code /ready}, {@code /genesis}, {@code /versions} by name, else
   * {@code other}.
   */
  static String label(String path) {
    if (path.startsWith("/v2/")) {
      int end = path.indexOf('/', 4);
      String family = end < 0 ? path.substring(4) : path.substring(4, end);
      return ROUTES.contains(family) ? family : "other";
    }
    return switch (path) {
      case "/health", "/ready", "/genesis", "/versions", "/metrics", "/swagger.json" ->
          path.substring(1).replace('.', '_');
      default -> "other";
    };
  }

  /** The {round} of /v2/blocks/{round}[/...] and /v2/stateproofs/{round}, or null. */
  static String roundSegment(String path) {
    String rest;
    if (path.startsWith("/v2/blocks/")) {
      rest = path.substring("/v2/blocks/".length());
    } else if (path.startsWith("/v2/stateproofs/")) {
      rest = path.substring("/v2/stateproofs/".length());
    } else {
      return null;
    }
    int slash = rest.indexOf('/');
    return slash < 0 ? rest : rest.substring(0, slash);
  }

  private static Classification await(byte[] roundBytes) {
    BigInteger round = parseUint64(new String(roundBytes, StandardCharsets.UTF_8));
    if (round == null) {
      return new Classification.Answer(invalidRound(roundBytes));
    }
    // round = 2^64-1 makes algod's round+1 wrap to 0: it answers at once.
    long minHead =
        round.equals(MAX_UINT64)
            ? 0
            : round.add(BigInteger.ONE).min(BigInteger.valueOf(Long.MAX_VALUE)).longValue();
    // Answered with the status of a synced node at minHead or above; after algod's 60 s with the
    // current status whatever its round (as algod does), or the catchup error when no node is
    // synced; at once with that error while every node catches up.
    return new Classification.WaitForHeight(
        minHead,
        WAIT_TIMEOUT,
        AlgodAdapter::statusReply,
        AlgodAdapter::statusReply,
        CATCHUP,
        SHUTTING_DOWN);
  }

  /** A node's status as the answer to a wait; the catchup error when there is none. */
  static Reply statusReply(AdapterState state) {
    return state instanceof Status s ? s.reply() : CATCHUP;
  }

  private static Classification forward(Requirement r, String label) {
    return new Classification.Forward(
        List.of(r), (status, code, message) -> error(status, message), null, label);
  }

  @Override
  public Classification classify(String method, byte[] body) {
    // Not reached: every algod request is classified by its request line.
    return forward(Requirement.LATEST_READ, "other");
  }

  /**
   * algod's 400 for a {round} path parameter that {@link #parseUint64} rejects (protocols.md A.2:
   * oapi-codegen's binding error, serialised by echo). {@code roundBytes} is the segment after
   * percent-decoding: Go's router binds decoded path parameters.
   */
  public static Reply invalidRound(byte[] roundBytes) {
    String text = new String(roundBytes, StandardCharsets.UTF_8);
    String reason = text.matches("[0-9]+") ? "value out of range" : "invalid syntax";
    return error(
        400,
        "Invalid format for parameter round: error binding string parameter: strconv.ParseUint: parsing "
            + quoteGo(roundBytes)
            + ": "
            + reason);
  }

  /** A {@code %} not followed by two hex digits (Go's url.ParseRequestURI refuses the request). */
  static boolean malformedEscape(String path) {
    for (int i = path.indexOf('%'); i >= 0; i = path.indexOf('%', i + 1)) {
      if (i + 2 >= path.length()
          || Character.digit(path.charAt(i + 1), 16) < 0
          || Character.digit(path.charAt(i + 2), 16) < 0) {
        return true;
      }
    }
    return false;
  }

  /** A path segment with its {@code %XX} escapes decoded; a malformed escape stays as it is. */
  static byte[] percentDecode(String segment) {
    byte[] raw = segment.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length);
    for (int i = 0; i < raw.length; i++) {
      int hi = i + 2 < raw.length && raw[i] == '%' ? Character.digit(raw[i + 1], 16) : -1;
      int lo = hi >= 0 ? Character.digit(raw[i + 2], 16) : -1;
      if (lo >= 0) {
        out.write(hi * 16 + lo);
        i += 2;
      } else {
        out.write(raw[i]);
      }
    }
    return out.toByteArray();
  }

  /** strconv.ParseUint(s, 10, 64): digits only, at most 2^64-1; null otherwise. */
  public static BigInteger parseUint64(String s) {
    if (s.isEmpty() || !s.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
      return null;
    }
    BigInteger v = new BigInteger(s);
    return v.compareTo(MAX_UINT64) > 0 ? null : v;
  }

  private static long parseRound(String s) {
    BigInteger v = parseUint64(s);
    return v == null || v.bitLength() > 63 ? -1 : v.longValue();
  }

  /**
   * Go's {@code strconv.Quote} of raw bytes: printable characters as they are, {@code \a \b \f \n
   * \r \t \v} short, other control characters and bytes that are not UTF-8 as {@code \xNN}.
   */
  static String quoteGo(byte[] b) {
    StringBuilder out = new StringBuilder("\"");
    int i = 0;
    while (i < b.length) {
      int c = b[i] & 0xff;
      int len = c < 0x80 ? 1 : utf8Length(b, i);
      if (len == 1) {
        out.append(goEscape((char) c));
        i++;
      } else if (len == 0) {
        out.append(String.format("\\x%02x", c));
        i++;
      } else {
        out.append(new String(b, i, len, StandardCharsets.UTF_8));
        i += len;
      }
    }
    return out.append('"').toString();
  }

  private static String goEscape(char c) {
    return switch (c) {
      case '"' -> "\\\"";
      case '\\' -> "\\\\";
      case 0x07 -> "\\a";
      case '\b' -> "\\b";
      case '\f' -> "\\f";
      case '\n' -> "\\n";
      case '\r' -> "\\r";
      case '\t' -> "\\t";
      case 0x0b -> "\\v";
      default -> c < 0x20 || c == 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c);
    };
  }

  /** The length (2 to 4) of the valid UTF-8 sequence at {@code i}, or 0. */
  private static int utf8Length(byte[] b, int i) {
    int c = b[i] & 0xff;
    int len =
        c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (len == 0 || i + len > b.length) {
      return 0;
    }
    for (int k = 1; k < len; k++) {
      if ((b[i + k] & 0xc0) != 0x80) {
        return 0;
      }
    }
    return new String(b, i, len, StandardCharsets.UTF_8).indexOf('\ufffd') >= 0 ? 0 : len;
  }

  /**
   * An algod error body: {@code {"message":"..."}} and a newline, as echo writes it (Go's {@code
   * json.Encoder} ends every value with one; seen on algod v4.7.4).
   */
  public static Reply error(int status, String message) {
    return new Reply(status, JSON, (errorBody(message) + "\n").getBytes(StandardCharsets.UTF_8));
  }

  /** {@code {"message":...}} as Go's encoding/json writes it (echo leaves HTML escaping on). */
  private static String errorBody(String message) {
    StringBuilder out = new StringBuilder("{\"message\":\"");
    for (int i = 0; i < message.length(); i++) {
      char c = message.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029') {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append("\"}").toString();
  }

  private static String message(byte[] body) {
    try {
      String m = MAPPER.readTree(body).path("message").asText("");
      return m.isEmpty() ? "" : ": " + m;
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }
}
