/**
 * Prometheus metrics: every {@code chainroute_*} series, the JVM's collectors, and the text or
 * OpenMetrics exposition that {@code GET /metrics} serves. State (heads, health, pools, held
 * requests, connected Envoys) is read from the immutable views at scrape time; events (requests,
 * probes, xDS pushes and ACKs) are counted as they happen through the listener seams of the
 * pipeline, the prober and the xDS edge. Series names and labels: docs/metrics.md. Depends on the
 * core and the Prometheus client only, never on an edge.
 */
package io.chainroute.metrics;
