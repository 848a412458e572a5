/**
 * The contract between chainroute and the Envoy it steers: header names, the dynamic metadata
 * namespace, cluster names and the timeouts both sides must agree on. Pure constants, no gRPC,
 * protobuf or Envoy imports, so the ext_proc, xDS and bootstrap edges all read one owner.
 */
package io.chainroute.contract;
