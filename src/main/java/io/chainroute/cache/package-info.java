/**
 * The response cache's seam ({@link io.chainroute.cache.ResponseStore}) and its keys; storage
 * engines live at the edge ({@code io.chainroute.store}). Pure core: no gRPC, protobuf or Envoy.
 */
package io.chainroute.cache;
