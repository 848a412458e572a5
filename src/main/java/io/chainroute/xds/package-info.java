/**
 * The xDS edge: clusters and endpoints published to Envoy over ADS (state of the world) with
 * java-control-plane; per-type versions, coalesced pushes, ACK/NACK tracking per Envoy. Snapshot
 * work is confined to one loop thread.
 */
package io.chainroute.xds;
