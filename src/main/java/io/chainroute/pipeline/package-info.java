/**
 * The request pipeline: the one place a request's fate (route, reply, hold) is decided, and the
 * requests held until a node or a height is there. Pure core: no gRPC, protobuf or Envoy.
 */
package io.chainroute.pipeline;
