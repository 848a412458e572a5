/**
 * The ext_proc edge: Envoy's per-request gRPC stream. Classifies the buffered body, sets the pool
 * header, or answers bad input itself. Runs on gRPC transport threads and never blocks.
 */
package io.chainroute.extproc;
