package io.chainroute.sim;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Just enough msgpack for the simulator: skip values, find a map key, write small maps. */
final class Msgpack {
  private Msgpack() {}

  /** The offset just past the value starting at {@code p}. */
  static int skip(byte[] b, int p) {
    int t = b[p] & 0xff;
    if (t <= 0x7f || t >= 0xe0) {
      return p + 1; // fixint
    }
    if (t >= 0x80 && t <= 0x8f) {
      return skipN(b, p + 1, 2 * (t & 0x0f));
    }
    if (t >= 0x90 && t <= 0x9f) {
      return skipN(b, p + 1, t & 0x0f);
    }
    if (t >= 0xa0 && t <= 0xbf) {
      return p + 1 + (t & 0x1f);
    }
    return switch (t) {
      case 0xc0, 0xc2, 0xc3 -> p + 1;
      case 0xc4, 0xd9 -> p + 2 + (b[p + 1] & 0xff);
      case 0xc5, 0xda -> p + 3 + u16(b, p + 1);
      case 0xc6, 0xdb -> p + 5 + (int) u32(b, p + 1);
      case 0xcc, 0xd0 -> p + 2;
      case 0xcd, 0xd1 -> p + 3;
      case 0xce, 0xd2, 0xca -> p + 5;
      case 0xcf, 0xd3, 0xcb -> p + 9;
      case 0xdc -> skipN(b, p + 3, u16(b, p + 1));
      case 0xdd -> skipN(b, p + 5, (int) u32(b, p + 1));
      case 0xde -> skipN(b, p + 3, 2 * u16(b, p + 1));
      case 0xdf -> skipN(b, p + 5, 2 * (int) u32(b, p + 1));
      default ->
          throw new IllegalArgumentException(
              "unsupported msgpack type 0x" + Integer.toHexString(t));
    };
  }

  private static int skipN(byte[] b, int p, int n) {
    for (int i = 0; i < n; i++) {
      p = skip(b, p);
    }
    return p;
  }

  private static int u16(byte[] b, int p) {
    return ((b[p] & 0xff) << 8) | (b[p + 1] & 0xff);
  }

  private static long u32(byte[] b, int p) {
    return ((long) (b[p] & 0xff) << 24)
        | ((b[p + 1] & 0xff) << 16)
        | ((b[p + 2] & 0xff) << 8)
        | (b[p + 3] & 0xff);
  }

  /** {start, end} of the value under string key {@code key} in the map at {@code p}, or null. */
  static int[] find(byte[] b, int p, String key) {
    int t = b[p] & 0xff;
    int n;
    int q;
    if (t >= 0x80 && t <= 0x8f) {
      n = t & 0x0f;
      q = p + 1;
    } else if (t == 0xde) {
      n = u16(b, p + 1);
      q = p + 3;
    } else {
      throw new IllegalArgumentException("not a msgpack map");
    }
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < n; i++) {
      int keyEnd = skip(b, q);
      int kt = b[q] & 0xff;
      boolean match =
          kt >= 0xa0
              && kt <= 0xbf
              && (kt & 0x1f) == k.length
              && java.util.Arrays.equals(b, q + 1, keyEnd, k, 0, k.length);
      int valueEnd = skip(b, keyEnd);
      if (match) {
        return new int[] {keyEnd, valueEnd};
      }
      q = valueEnd;
    }
    return null;
  }

  static void str(ByteArrayOutputStream out, String s) {
    byte[] v = s.getBytes(StandardCharsets.UTF_8);
    out.write(0xa0 | v.length);
    out.writeBytes(v);
  }

  static void uint(ByteArrayOutputStream out, long v) {
    out.write(0xcf);
    for (int i = 7; i >= 0; i--) {
      out.write((int) (v >>> (8 * i)) & 0xff);
    }
  }

  /** RFC 4648 base32 without padding (Algorand transaction ids). */
  static String base32(byte[] data) {
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    StringBuilder sb = new StringBuilder();
    int buffer = 0;
    int bits = 0;
    for (byte d : data) {
      buffer = (buffer << 8) | (d & 0xff);
      bits += 8;
      while (bits >= 5) {
        sb.append(alphabet.charAt((buffer >> (bits - 5)) & 31));
        bits -= 5;
      }
    }
    if (bits > 0) {
      sb.append(alphabet.charAt((buffer << (5 - bits)) & 31));
    }
    return sb.toString();
  }
}
