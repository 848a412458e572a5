package io.chainroute.chain;

/**
 * What a head probe says about a node.
 *
 * @param head the node's current height
 * @param syncing true while the node is still catching up with its peers
 * @param detail a short human-readable note for /status (e.g. sync progress); never a secret
 * @param state what the adapter keeps from this answer for its own later use (see {@link
 *     AdapterState}); null when it keeps nothing
 * @param identity which chain the node serves, in the protocol's own terms (EVM: {@code
 *     eth_chainId} as the node wrote it); null when the protocol or the node does not say
 * @param finalized the node's finalized height; -1 when it does not say (no finality tag)
 * @param safe the node's safe height; -1 when it does not say
 */
public record ProbeReading(
    long head,
    boolean syncing,
    String detail,
    AdapterState state,
    String identity,
    long finalized,
    long safe) {
  public ProbeReading(long head, boolean syncing, String detail) {
    this(head, syncing, detail, null);
  }

  public ProbeReading(long head, boolean syncing, String detail, AdapterState state) {
    this(head, syncing, detail, state, null, -1, -1);
  }
}
