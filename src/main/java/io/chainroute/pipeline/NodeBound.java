package io.chainroute.pipeline;

import io.chainroute.chain.Classification;
import io.chainroute.chain.NodeReply;
import io.chainroute.chain.NodeTag;
import io.chainroute.chain.Reply;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.routing.Pool;
import io.chainroute.routing.PoolMember;
import io.chainroute.routing.PoolPlan;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pipeline's stage for requests whose answer depends on which node saw them (read-your-writes,
 * see the README): a write sent to every node of the head pool, node-local state created on one
 * node and later calls sent to that node. Decides on the topology every Envoy has ACKed, as routing
 * does. Protocol-neutral: what to send and how to read the answers is the adapter's ({@link
 * Classification.Broadcast}, {@link Classification.CreateOnNode}, {@link Classification.OnNode}).
 *
 * <p>Broadcast: sent to every usable head-pool node at once; answered when every node answered, or
 * {@link #GRACE} after the first HTTP 200 (a hung node cannot hold every write for its full
 * timeout; the tracker takes it out of the pool within a poll interval), or after the per-node
 * timeout. Waiting for the others is what makes the write visible on every node when the client
 * hears back. One usable node: routed through Envoy as before.
 *
 * <p>Threading: any thread; never blocks. Answers complete on the {@link NodeCalls} threads.
 */
final class NodeBound {
  private static final Logger log = LoggerFactory.getLogger(NodeBound.class);

  /** How long a broadcast still waits for the other nodes once one answered HTTP 200. */
  static final Duration GRACE = Duration.ofMillis(500);

  /** The floor of the per-node timeout of a request chainroute sends itself. */
  static final Duration MIN_TIMEOUT = Duration.ofSeconds(2);

  private final NodeCalls calls;
  private final Supplier<Topology> routable;
  private final AtomicInteger next = new AtomicInteger();
  private final RateLimit warnLimit =
      new RateLimit(1, Duration.ofSeconds(1).toNanos(), System::nanoTime);

  NodeBound(NodeCalls calls, Supplier<Topology> routable) {
    this.calls = calls;
    this.routable = routable;
  }

  /** The ordinary classification of a node-bound one. */
  static Classification.Forward otherwise(Classification c) {
    if (c instanceof Classification.Broadcast b) {
      return b.otherwise();
    }
    if (c instanceof Classification.CreateOnNode n) {
      return n.otherwise();
    }
    return ((Classification.OnNode) c).otherwise();
  }

  /** The outcome, or null when the request is routed as {@link #otherwise} says. */
  Outcome decide(ChainConfig chain, Classification c) {
    ChainView view = routable.get().chain(chain.name());
    if (view == null) {
      return null;
    }
    if (c instanceof Classification.OnNode n) {
      return onNode(view, n);
    }
    if (calls == NodeCalls.NONE) {
      return null;
    }
    if (c instanceof Classification.Broadcast b) {
      return broadcast(chain, view, b);
    }
    return create(chain, view, (Classification.CreateOnNode) c);
  }

  /** The per-node timeout of a request chainroute sends itself. */
  static Duration timeout(ChainConfig chain) {
    Duration t = chain.probeTimeout().multipliedBy(4);
    return t.compareTo(MIN_TIMEOUT) < 0 ? MIN_TIMEOUT : t;
  }

  private Outcome broadcast(ChainConfig chain, ChainView view, Classification.Broadcast b) {
    List<NodeView> targets =
        PoolPlan.members(view, Pool.HEAD, "").stream().map(PoolMember::node).toList();
    if (targets.size() < 2) {
      return null;
    }
    Duration timeout = timeout(chain);
    List<NodeReply> arrived = Collections.synchronizedList(new ArrayList<>());
    CompletableFuture<Void> firstOk = new CompletableFuture<>();
    List<CompletableFuture<NodeReply>> sent = new ArrayList<>(targets.size());
    for (NodeView n : targets) {
      sent.add(
          calls
              .send(chain, n.config(), b.body(), timeout)
              .whenComplete(
                  (r, e) -> {
                    NodeReply reply = r != null ? r : NodeReply.failed(n.name(), "send failed");
                    arrived.add(reply);
                    if (reply.answered() && reply.httpStatus() == 200) {
                      firstOk.complete(null);
                    }
                  }));
    }
    CompletableFuture<Void> all = CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new));
    CompletableFuture<Void> graceOver =
        firstOk.thenCompose(
            x ->
                new CompletableFuture<Void>()
                    .completeOnTimeout(null, GRACE.toMillis(), TimeUnit.MILLISECONDS));
    CompletableFuture<Outcome> answer =
        CompletableFuture.anyOf(all, graceOver)
            .handle(
                (x, e) -> {
                  List<NodeReply> replies;
                  synchronized (arrived) {
                    replies = new ArrayList<>(arrived);
                  }
                  warnUnanswered(chain, targets, replies);
                  return (Outcome)
                      new Outcome.Respond(b.combine().apply(replies), Reason.BROADCAST);
                });
    return new Outcome.Later(answer, timeout.plus(GRACE));
  }

  /**
   * A node that did not take a broadcast write is a node clients may not find their transaction on:
   * one WARN line a second at most, naming the nodes and why (no URL, no header).
   */
  private void warnUnanswered(ChainConfig chain, List<NodeView> targets, List<NodeReply> replies) {
    if (replies.size() == targets.size() && replies.stream().allMatch(NodeReply::answered)) {
      return;
    }
    StringBuilder missing = new StringBuilder();
    for (NodeView n : targets) {
      NodeReply r =
          replies.stream().filter(x -> x.node().equals(n.name())).findFirst().orElse(null);
      if (r == null || !r.answered()) {
        missing
            .append(missing.length() == 0 ? "" : ",")
            .append(n.name())
            .append('(')
            .append(r == null ? "no answer in time" : r.failure())
            .append(')');
      }
    }
    long suppressed = warnLimit.tryAcquire();
    if (suppressed >= 0) {
      log.warn(
          "A broadcast write did not reach every node of the head pool. chain={} nodes={}"
              + " unanswered={}{}",
          chain.name(),
          targets.size(),
          missing,
          suppressed > 0 ? " suppressed=" + suppressed : "");
    }
  }

  private Outcome create(ChainConfig chain, ChainView view, Classification.CreateOnNode c) {
    // A synced node of the first priority (full nodes before archive ones), in turn.
    List<PoolMember> members = PoolPlan.members(view, Pool.HEAD, "");
    List<NodeView> best =
        members.stream()
            .filter(m -> m.status() == EndpointStatus.HEALTHY && m.priority() == 0)
            .map(PoolMember::node)
            .toList();
    if (best.isEmpty()) {
      return null;
    }
    NodeView node = best.get(Math.floorMod(next.getAndIncrement(), best.size()));
    String tag = NodeTag.of(node.name());
    if (nodeTagged(chain, tag) == null) {
      return null; // Another node has the same tag: its state could not be found again.
    }
    Duration timeout = timeout(chain);
    CompletableFuture<Outcome> answer =
        calls
            .send(chain, node.config(), c.body(), timeout)
            .handle(
                (r, e) -> {
                  NodeReply reply = r != null ? r : NodeReply.failed(node.name(), "send failed");
                  Reply tagged = c.tagged().apply(tag, reply);
                  return (Outcome) new Outcome.Respond(tagged, Reason.STICKY);
                });
    return new Outcome.Later(answer, timeout);
  }

  private static Outcome onNode(ChainView view, Classification.OnNode n) {
    NodeConfig node = nodeTagged(view.config(), n.nodeTag());
    if (node == null) {
      return null;
    }
    for (NodeView v : view.nodes()) {
      if (v.name().equals(node.name()) && holdsState(v)) {
        return new Outcome.ToNode(node.name(), n.body(), n.otherwise().echoId(), Reason.STICKY);
      }
    }
    return new Outcome.Respond(n.gone(), Reason.STICKY_GONE);
  }

  /**
   * A node that may still hold state created on it: it answers (whether or not it is at the head: a
   * node a block behind still has its filters). Its node cluster has it as its endpoint (see
   * XdsResources).
   */
  static boolean holdsState(NodeView v) {
    return v.address() != null && v.health() != Health.UNREACHABLE && v.health() != Health.UNKNOWN;
  }

  /** The chain's one node with this tag; null when none or several have it. */
  private static NodeConfig nodeTagged(ChainConfig chain, String tag) {
    NodeConfig found = null;
    for (NodeConfig n : chain.nodes()) {
      if (NodeTag.of(n.name()).equals(tag)) {
        if (found != null) {
          return null;
        }
        found = n;
      }
    }
    return found;
  }
}
