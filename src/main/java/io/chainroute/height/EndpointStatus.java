package io.chainroute.height;

/** How a node is offered to Envoy; NONE means it is left out of every pool. */
public enum EndpointStatus {
  HEALTHY,
  DEGRADED,
  NONE;

  public boolean usable() {
    return this != NONE;
  }
}
