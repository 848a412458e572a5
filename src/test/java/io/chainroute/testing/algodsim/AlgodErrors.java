package io.chainroute.testing.algodsim;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;

/**
 * algod's error texts and the bytes of its error bodies, written from algod's documented behaviour
 * (shared/reference/protocols.md A.2, A.4 and the catalogue A.7), not from chainroute's adapter:
 * this is the oracle the "byte-identical to algod" tests compare chainroute with.
 *
 * <p>A body is {@code {"message":"<text>"}} as echo writes it through Go's {@code encoding/json}
 * (A.0): {@code "} and {@code \} escaped, {@code \b \f \n \r \t} short, other control characters
 * and {@code < > &} (Go escapes HTML by default) and U+2028/U+2029 as lowercase {@code \}{@code
 * u00XX}, then the newline Go's {@code json.Encoder} appends (protocols.md gives the bodies without
 * it; a real algod v4.7.4 ends every JSON body with one).
 */
public final class AlgodErrors {
  public static final String NOT_FOUND = "Not Found";
  public static final String METHOD_NOT_ALLOWED = "Method Not Allowed";
  public static final String NO_VALID_TXID = "no valid transaction ID was specified";

  /** A submitted body that is not a msgpack map or array (algod v4.7.4 for e.g. "garbage"). */
  public static final String NOT_A_STRUCT =
      "msgpack decode error [pos 1]: only encoded map or array can be decoded into a struct";

  public static final String INVALID_TOKEN = "Invalid API Token";
  public static final String CATCHUP = "operation not available during catchup";
  public static final String SHUTTING_DOWN = "operation aborted as server is shutting down";
  public static final String UNSUPPORTED_UPGRADE =
      "requested round would reach only after the protocol upgrade which isn't supported";
  public static final String NO_LEDGER_ENTRY = "failed to retrieve information from the ledger";
  public static final String BAD_FORMAT = "failed to parse the format option";
  public static final String EMPTY_TXGROUP = "empty txgroup";
  public static final String TXN_NOT_FOUND =
      "could not find the transaction in the transaction pool or in the last 1000 confirmed rounds";

  private static final BigInteger MAX_UINT64 =
      BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

  private AlgodErrors() {}

  /** The error body algod (echo) writes for {@code message}. */
  public static byte[] body(String message) {
    return ("{\"message\":" + goJsonString(message) + "}\n").getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The {round} path parameter as oapi-codegen binds it: {@code strconv.ParseUint(s, 10, 64)}. Null
   * when that fails; {@link #invalidRound} is then the message.
   */
  public static BigInteger parseRound(String decoded) {
    if (decoded.isEmpty()) {
      return null;
    }
    for (int i = 0; i < decoded.length(); i++) {
      char c = decoded.charAt(i);
      if (c < '0' || c > '9') {
        return null;
      }
    }
    BigInteger v = new BigInteger(decoded);
    return v.compareTo(MAX_UINT64) > 0 ? null : v;
  }

  /**
   * The 400 message for a {round} that {@link #parseRound} rejects (A.2): oapi-codegen's binding
   * error around strconv's {@code NumError}, which quotes the input with {@code strconv.Quote}.
   *
   * @param decodedBytes the path segment after percent-decoding (Go's router sees decoded paths)
   */
  public static String invalidRound(byte[] decodedBytes) {
    String s = new String(decodedBytes, StandardCharsets.UTF_8);
    boolean digits = !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
    return "Invalid format for parameter round: error binding string parameter: "
        + "strconv.ParseUint: parsing "
        + goQuote(decodedBytes)
        + ": "
        + (digits ? "value out of range" : "invalid syntax");
  }

  /**
   * Go's {@code strconv.Quote} of raw bytes: printable characters as they are, {@code \a \b \f \n
   * \r \t \v} short, other ASCII control characters and bytes that are not UTF-8 as {@code \xNN}.
   * (Non-ASCII code points are taken as printable; Go would escape the few that are not.)
   */
  static String goQuote(byte[] b) {
    StringBuilder out = new StringBuilder("\"");
    int i = 0;
    while (i < b.length) {
      int c = b[i] & 0xff;
      if (c < 0x80) {
        switch (c) {
          case '"' -> out.append("\\\"");
          case '\\' -> out.append("\\\\");
          case 0x07 -> out.append("\\a");
          case '\b' -> out.append("\\b");
          case '\f' -> out.append("\\f");
          case '\n' -> out.append("\\n");
          case '\r' -> out.append("\\r");
          case '\t' -> out.append("\\t");
          case 0x0b -> out.append("\\v");
          default -> {
            if (c < 0x20 || c == 0x7f) {
              out.append(String.format("\\x%02x", c));
            } else {
              out.append((char) c);
            }
          }
        }
        i++;
        continue;
      }
      int len = utf8Length(b, i);
      if (len == 0) {
        out.append(String.format("\\x%02x", c));
        i++;
      } else {
        out.append(new String(b, i, len, StandardCharsets.UTF_8));
        i += len;
      }
    }
    return out.append('"').toString();
  }

  /** The length of the valid UTF-8 sequence at {@code i}, or 0 if the bytes there are not one. */
  private static int utf8Length(byte[] b, int i) {
    int c = b[i] & 0xff;
    int len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (len == 0 || i + len > b.length) {
      return 0;
    }
    for (int k = 1; k < len; k++) {
      if ((b[i + k] & 0xc0) != 0x80) {
        return 0;
      }
    }
    String decoded = new String(b, i, len, StandardCharsets.UTF_8);
    return decoded.indexOf('\ufffd') >= 0 ? 0 : len;
  }

  /**
   * A JSON string as Go's {@code encoding/json} writes it (HTML escaping on, as echo leaves it).
   */
  static String goJsonString(String s) {
    StringBuilder out = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
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
    return out.append('"').toString();
  }
}
