package io.chainroute.chain;

/**
 * What an adapter keeps from a node's last probe answer for its own later use (algod keeps the
 * status body it relays to a held wait). Opaque to the engine: the tracker stores it per node and
 * hands it back to the adapter that made it ({@link Classification.WaitForHeight}), never reads it.
 */
public interface AdapterState {}
