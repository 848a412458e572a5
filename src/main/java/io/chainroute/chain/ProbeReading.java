package io.chainroute.chain;

/**
 * What a head probe says about a node.
 *
 * @param head the node's current height
 * @param syncing true while the node is still catching up with its peers
 * @param detail a short human-readable note for /status (e.g. sync progress); never a secret
 * @param raw the node's answer as received, for protocols that relay it (algod's status body);
 *     empty when not kept
 */
public record ProbeReading(long head, boolean syncing, String detail, byte[] raw) {
  private static final byte[] NONE = new byte[0];

  public ProbeReading {
    raw = raw == null ? NONE : raw;
  }

  public ProbeReading(long head, boolean syncing, String detail) {
    this(head, syncing, detail, NONE);
  }
}
