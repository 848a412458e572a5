package io.chainroute.routing;

import io.chainroute.height.EndpointStatus;
import io.chainroute.height.NodeView;

/** A node offered to Envoy in one pool, with its health status and priority (0 = preferred). */
public record PoolMember(NodeView node, EndpointStatus status, int priority) {}
