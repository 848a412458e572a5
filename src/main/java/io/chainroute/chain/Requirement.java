package io.chainroute.chain;

/**
 * What one call needs from a node: the data kind, the oldest height it touches, and whether it
 * writes (writes are never retried after the request may have reached a node).
 */
public record Requirement(DataKind kind, BlockRef ref, boolean write) {
  public static final Requirement LATEST_READ =
      new Requirement(DataKind.NONE, BlockRef.LATEST, false);
  public static final Requirement WRITE = new Requirement(DataKind.NONE, BlockRef.LATEST, true);

  public static Requirement read(DataKind kind, BlockRef ref) {
    return new Requirement(kind, ref, false);
  }
}
