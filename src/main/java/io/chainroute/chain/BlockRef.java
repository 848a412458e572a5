package io.chainroute.chain;

/**
 * A reference to a height as a request names it, normalised. The engine forwards the original
 * bytes; this value only drives the routing decision.
 *
 * @param kind which form the request used
 * @param number the height when {@code kind} is {@link Kind#NUMBER}, else 0
 */
public record BlockRef(Kind kind, long number) {
  public enum Kind {
    LATEST,
    PENDING,
    SAFE,
    FINALIZED,
    EARLIEST,
    NUMBER,
    /** A block hash: the height is unknown to chainroute. */
    HASH
  }

  public static final BlockRef LATEST = new BlockRef(Kind.LATEST, 0);
  public static final BlockRef PENDING = new BlockRef(Kind.PENDING, 0);
  public static final BlockRef SAFE = new BlockRef(Kind.SAFE, 0);
  public static final BlockRef FINALIZED = new BlockRef(Kind.FINALIZED, 0);
  public static final BlockRef EARLIEST = new BlockRef(Kind.EARLIEST, 0);
  public static final BlockRef HASH = new BlockRef(Kind.HASH, 0);

  public BlockRef {
    if (kind == Kind.NUMBER && number < 0) {
      throw new IllegalArgumentException("height must be >= 0, was " + number);
    }
  }

  public static BlockRef number(long n) {
    return new BlockRef(Kind.NUMBER, n);
  }
}
