/**
 * Routing decisions as pure functions: which pool a request needs ({@link
 * io.chainroute.routing.RoutingPolicy}) and which nodes each pool offers an Envoy ({@link
 * io.chainroute.routing.PoolPlan}).
 */
package io.chainroute.routing;
