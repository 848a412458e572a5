package io.chainroute.pipeline;

import io.chainroute.chain.NodeReply;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * Sends one request to one node from chainroute itself, with the node's own headers (its API key or
 * token), for the few requests Envoy cannot place alone: a transaction sent to every node, a filter
 * created on one node whose id must carry it. The future never fails: a node that does not answer
 * in {@code timeout} gives a {@link NodeReply#failed} reply.
 */
@FunctionalInterface
public interface NodeCalls {
  CompletableFuture<NodeReply> send(
      ChainConfig chain, NodeConfig node, byte[] body, Duration timeout);

  /** chainroute sends nothing itself: every request is routed through Envoy. */
  NodeCalls NONE =
      (chain, node, body, timeout) -> {
        throw new UnsupportedOperationException("no node calls");
      };
}
