/**
 * Node heights and health: {@link io.chainroute.height.HeightTracker} owns every node's state on
 * one loop thread and publishes immutable {@link io.chainroute.height.Topology} snapshots; {@link
 * io.chainroute.height.HealthPolicy} is the pure rule set. Time and scheduler are injected.
 */
package io.chainroute.height;
