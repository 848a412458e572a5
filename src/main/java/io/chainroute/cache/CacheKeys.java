package io.chainroute.cache;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Store keys: a fixed-size digest of the adapter's key (the method and its parameters), so a key is
 * bounded whatever a client sends, can travel through the proxy in a capture note, and never shows
 * a parameter in a log or a Redis key listing. Pure.
 */
public final class CacheKeys {
  private CacheKeys() {}

  /** 128 bits of SHA-256 of {@code adapterKey}, as 32 lower-case hex digits. */
  public static String of(String adapterKey) {
    try {
      byte[] d =
          MessageDigest.getInstance("SHA-256").digest(adapterKey.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
