package io.chainroute.admin;

import java.util.List;

/**
 * One Envoy connected over xDS, or one the allow-list refused, as /status shows it. The composition
 * root fills it from the xDS edge; admin does not depend on xDS.
 *
 * @param address the host the Envoy connected from ("" when not known)
 * @param connectedAtMillis when it connected; for a refused Envoy, its last refused attempt
 * @param refused why it gets nothing; "" for an Envoy being served
 * @param attempts refused attempts from this node id and host; 0 for an Envoy being served
 */
public record EnvoyConnection(
    String nodeId,
    String cluster,
    String region,
    String address,
    long connectedAtMillis,
    List<TypeState> types,
    String refused,
    long attempts) {
  public EnvoyConnection {
    types = List.copyOf(types);
  }

  /** A connected Envoy being served. */
  public static EnvoyConnection served(
      String nodeId,
      String cluster,
      String region,
      String address,
      long connectedAtMillis,
      List<TypeState> types) {
    return new EnvoyConnection(nodeId, cluster, region, address, connectedAtMillis, types, "", 0);
  }

  /** The same connection with these resource types. */
  public EnvoyConnection withTypes(List<TypeState> t) {
    return new EnvoyConnection(
        nodeId, cluster, region, address, connectedAtMillis, t, refused, attempts);
  }

  /** An Envoy the allow-list refused: it holds no resource from this chainroute. */
  public static EnvoyConnection refused(
      String nodeId, String address, String reason, long attempts, long lastAtMillis) {
    return new EnvoyConnection(nodeId, "", "", address, lastAtMillis, List.of(), reason, attempts);
  }

  /** Per resource type: version sent, version ACKed, last NACK (empty strings when none). */
  public record TypeState(
      String typeUrl,
      String sentVersion,
      String ackedVersion,
      String lastNack,
      long lastNackAtMillis) {}
}
