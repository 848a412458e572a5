/**
 * The admin edge: {@code GET /status}, {@code /healthz}, {@code /readyz} over the JDK HTTP server,
 * and the {@code chainroute.admin.v1} gRPC service. Reads immutable topology snapshots only; never
 * changes routing. Depends on the core, not on the other edges.
 */
package io.chainroute.admin;
