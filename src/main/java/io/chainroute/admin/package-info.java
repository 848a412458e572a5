/**
 * The admin edge: {@code GET /status}, {@code /healthz}, {@code /readyz} over the JDK HTTP server,
 * and the {@code chainroute.admin.v1} gRPC service, both behind {@link
 * io.chainroute.admin.AdminAccess} (token, Host and Origin rules). Reads immutable topology
 * snapshots; its only changes are operator drains, through the tracker. Depends on the core, not on
 * the other edges.
 */
package io.chainroute.admin;
