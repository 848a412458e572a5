package io.chainroute.chain;

/**
 * What a head probe says about a node.
 *
 * @param head the node's current height
 * @param syncing true while the node is still catching up with its peers
 * @param detail a short human-readable note for /status (e.g. sync progress); never a secret
 * @param state what the adapter keeps from this answer for its own later use (see {@link
 *     AdapterState}); null when it keeps nothing
 */
public record ProbeReading(long head, boolean syncing, String detail, AdapterState state) {
  public ProbeReading(long head, boolean syncing, String detail) {
    this(head, syncing, detail, null);
  }
}
