package io.chainroute.admin;

import java.util.List;

/**
 * One Envoy connected over xDS, as /status shows it. The composition root fills it from the xDS
 * edge; admin does not depend on xDS.
 */
public record EnvoyConnection(
    String nodeId, String cluster, String region, long connectedAtMillis, List<TypeState> types) {
  public EnvoyConnection {
    types = List.copyOf(types);
  }

  /** Per resource type: version sent, version ACKed, last NACK (empty strings when none). */
  public record TypeState(
      String typeUrl,
      String sentVersion,
      String ackedVersion,
      String lastNack,
      long lastNackAtMillis) {}
}
