package io.chainroute.metrics;

import io.chainroute.config.ChainConfig;
import io.chainroute.height.ChainView;
import io.chainroute.height.Health;
import io.chainroute.height.NodeProber;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.pipeline.Decided;
import io.chainroute.pipeline.DecisionListener;
import io.chainroute.pipeline.Reason;
import io.chainroute.routing.Pool;
import io.chainroute.routing.PoolPlan;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * Owns every {@code chainroute_*} series (docs/metrics.md) and its own registry with the JVM's
 * collectors.
 *
 * <ul>
 *   <li>Per node and per chain, and held requests and connected Envoys: gauges read at scrape time
 *       from the tracker's immutable topology and the suppliers given to {@link #watch}; nothing is
 *       pushed, and a node a reload removed leaves with it.
 *   <li>Per request: the {@link DecisionListener} the pipeline calls once per request.
 *   <li>Probes: {@link #probes} wraps the prober and observes each result (latency, failure cause).
 *   <li>xDS: {@link #xdsPushed}, {@link #xdsAcked}, {@link #xdsNacked}, wired to the xDS edge's
 *       listener by the composition root.
 * </ul>
 *
 * <p>Labels are configuration names and bounded sets (reasons, pools, method labels from the
 * adapters' tables, health states, failure causes, xDS types, Envoy node ids), never URLs, ids or
 * parameters.
 *
 * <p>Threading: any thread; counters and histograms are the client library's lock-free ones.
 * Lifecycle: none (no threads of its own).
 */
public final class ChainrouteMetrics implements DecisionListener {
  static final String PREFIX = "chainroute_";

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final ExpositionFormats formats = ExpositionFormats.init();
  private final Clock clock;

  private final Counter requests;
  private final Histogram classification;
  private final Counter replies;
  private final Histogram heldWait;
  private final Counter unavailable;
  private final Histogram probeLatency;
  private final Counter probeErrors;
  private final Counter xdsPushes;
  private final Histogram xdsAckLatency;
  private final Counter xdsAcks;
  private final Counter xdsNacks;
  private final Counter xdsRefused;
  private final Counter cacheLookups;

  /**
   * @param clock wall clock for {@code chainroute_chain_head_age_seconds}
   * @param jvm register the JVM's standard collectors (off in unit tests that compare a whole
   *     scrape)
   */
  public ChainrouteMetrics(Clock clock, boolean jvm) {
    this.clock = clock;
    requests =
        Counter.builder()
            .name(PREFIX + "requests_total")
            .help(
                "Requests by the pipeline's outcome: pool routed to (none when chainroute"
                    + " answered or passed it), reason, and the method label from the adapter's"
                    + " table (other for any name not in it)")
            .labelNames("chain", "pool", "reason", "method")
            .withoutExemplars()
            .register(registry);
    classification =
        Histogram.builder()
            .name(PREFIX + "classification_seconds")
            .help("Time the chain's adapter took to read a request (parse and classify)")
            .unit(Unit.SECONDS)
            .labelNames("chain")
            .classicOnly()
            .classicUpperBounds(
                0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                0.01)
            .withoutExemplars()
            .register(registry);
    replies =
        Counter.builder()
            .name(PREFIX + "replies_total")
            .help(
                "Replies chainroute made itself (no node saw the request) by HTTP status and"
                    + " JSON-RPC error code (empty when none)")
            .labelNames("chain", "status", "code")
            .withoutExemplars()
            .register(registry);
    heldWait =
        Histogram.builder()
            .name(PREFIX + "held_wait_seconds")
            .help("How long held requests waited (for a usable node, or an algod round)")
            .unit(Unit.SECONDS)
            .labelNames("chain")
            .classicOnly()
            .classicUpperBounds(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
            .withoutExemplars()
            .register(registry);
    unavailable =
        Counter.builder()
            .name(PREFIX + "unavailable_total")
            .help(
                "Requests answered at once with the protocol's unavailable error because no node"
                    + " was usable (not held, or the bound on held requests was reached)")
            .labelNames("chain")
            .withoutExemplars()
            .register(registry);
    probeLatency =
        Histogram.builder()
            .name(PREFIX + "node_probe_latency_seconds")
            .help(
                "Round trip of successful head probes (for long polls, the plain status probe sent"
                    + " before each; the same figure as /status probeLatencyMicros)")
            .unit(Unit.SECONDS)
            .labelNames("chain", "node")
            .classicOnly()
            .classicUpperBounds(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
            .withoutExemplars()
            .register(registry);
    probeErrors =
        Counter.builder()
            .name(PREFIX + "node_probe_errors_total")
            .help(
                "Failed head probes by cause: timeout, refused, dns, io, bad_answer (HTTP error or"
                    + " unreadable answer), other")
            .labelNames("chain", "node", "reason")
            .withoutExemplars()
            .register(registry);
    xdsPushes =
        Counter.builder()
            .name(PREFIX + "xds_pushes_total")
            .help("xDS responses sent to Envoys, by resource type (cluster, endpoint, other)")
            .labelNames("type")
            .withoutExemplars()
            .register(registry);
    xdsAckLatency =
        Histogram.builder()
            .name(PREFIX + "xds_push_ack_seconds")
            .help("Time from sending an xDS response to the Envoy's ACK of it")
            .unit(Unit.SECONDS)
            .classicOnly()
            .classicUpperBounds(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
            .withoutExemplars()
            .register(registry);
    xdsAcks =
        Counter.builder()
            .name(PREFIX + "xds_acks_total")
            .help("xDS responses ACKed, per Envoy node id")
            .labelNames("envoy")
            .withoutExemplars()
            .register(registry);
    xdsRefused =
        Counter.builder()
            .name(PREFIX + "xds_refused_total")
            .help(
                "xDS streams closed with PERMISSION_DENIED before any resource was sent"
                    + " (server.allowedEnvoyNodeIds), by reason: no_node_id, unknown_node")
            .labelNames("reason")
            .withoutExemplars()
            .register(registry);
    xdsRefused.labelValues("no_node_id");
    xdsRefused.labelValues("unknown_node");
    cacheLookups =
        Counter.builder()
            .name(PREFIX + "cache_lookups_total")
            .help(
                "Cacheable requests by result: hit (answered from the response cache, every call"
                    + " of a batch), miss (sent to a node, its answer captured for the cache)")
            .labelNames("chain", "result")
            .withoutExemplars()
            .register(registry);
    xdsNacks =
        Counter.builder()
            .name(PREFIX + "xds_nacks_total")
            .help("xDS responses rejected (NACKed), per Envoy node id")
            .labelNames("envoy")
            .withoutExemplars()
            .register(registry);
    if (jvm) {
      JvmMetrics.builder().register(registry);
    }
  }

  /**
   * Registers the response cache's scrape-time series: entries and bytes held, evictions and stores
   * since start.
   */
  public ChainrouteMetrics watchCache(
      Supplier<io.chainroute.cache.ResponseStore.Stats> stats, List<ChainConfig> chains) {
    for (ChainConfig c : chains) {
      cacheLookups.labelValues(c.name(), "hit");
      cacheLookups.labelValues(c.name(), "miss");
    }
    GaugeWithCallback.builder()
        .name(PREFIX + "cache_entries")
        .help("Answers the response cache holds now")
        .callback(cb -> cb.call((double) stats.get().entries()))
        .register(registry);
    GaugeWithCallback.builder()
        .name(PREFIX + "cache_bytes")
        .help("Size of the answers the response cache holds now (the bound's measure)")
        .unit(Unit.BYTES)
        .callback(cb -> cb.call((double) stats.get().bytes()))
        .register(registry);
    io.prometheus.metrics.core.metrics.CounterWithCallback.builder()
        .name(PREFIX + "cache_evictions_total")
        .help("Answers the response cache dropped for room or age")
        .callback(cb -> cb.call((double) stats.get().evictions()))
        .register(registry);
    io.prometheus.metrics.core.metrics.CounterWithCallback.builder()
        .name(PREFIX + "cache_stores_total")
        .help("Answers put in the response cache (captured from nodes)")
        .callback(cb -> cb.call((double) stats.get().stores()))
        .register(registry);
    return this;
  }

  /**
   * Registers the scrape-time series over live state.
   *
   * @param topology the tracker's newest topology (node and chain gauges)
   * @param chains the configured chains, for series that start at zero
   * @param heldByChain requests held now, per chain
   * @param connectedEnvoys Envoys with an open xDS stream
   */
  public ChainrouteMetrics watch(
      Supplier<Topology> topology,
      List<ChainConfig> chains,
      Supplier<Map<String, Integer>> heldByChain,
      IntSupplier connectedEnvoys) {
    for (ChainConfig c : chains) {
      // Present from the start, so rate() and alerts see a 0 before the first event.
      unavailable.labelValues(c.name());
      heldWait.labelValues(c.name());
      classification.labelValues(c.name());
      for (var node : c.nodes()) {
        for (NodeProber.Cause cause : NodeProber.Cause.values()) {
          probeErrors.labelValues(c.name(), node.name(), cause.label());
        }
      }
    }
    nodeGauge(
        topology,
        "node_head",
        "Head the node reported last (absent before its first answer)",
        (n, cb, chain) -> {
          if (n.head() >= 0) {
            cb.call((double) n.head(), chain, n.name());
          }
        });
    nodeGauge(
        topology,
        "node_lag_blocks",
        "Blocks the node is behind its chain's head (absent before its first answer)",
        (n, cb, chain) -> {
          if (n.head() >= 0) {
            cb.call((double) n.lag(), chain, n.name());
          }
        });
    nodeGauge(
        topology,
        "node_drained",
        "1 while an operator has drained the node out of every pool",
        (n, cb, chain) -> cb.call(n.health() == Health.DRAINED ? 1 : 0, chain, n.name()));
    GaugeWithCallback.builder()
        .name(PREFIX + "node_health")
        .help(
            "1 for the node's current health state, 0 for the others (synced, lagging, stalled,"
                + " syncing, unreachable, unknown, drained, wrong_chain)")
        .labelNames("chain", "node", "state")
        .callback(
            cb -> {
              for (ChainView c : topology.get().chains().values()) {
                for (NodeView n : c.nodes()) {
                  for (Health h : Health.values()) {
                    cb.call(n.health() == h ? 1 : 0, c.name(), n.name(), label(h));
                  }
                }
              }
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name(PREFIX + "node_latency_seconds")
        .help(
            "The node's smoothed probe latency (EWMA, time constant 10 s) that sets its endpoint"
                + " weight; absent before its first answer")
        .unit(Unit.SECONDS)
        .labelNames("chain", "node", "region")
        .callback(
            cb -> {
              for (ChainView c : topology.get().chains().values()) {
                for (NodeView n : c.nodes()) {
                  if (n.score().latencyMicros() >= 0) {
                    cb.call(
                        n.score().latencyMicros() / 1e6, c.name(), n.name(), n.config().region());
                  }
                }
              }
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name(PREFIX + "node_weight")
        .help(
            "The node's EDS load_balancing_weight in its pools: 5 to 100 by latency, 100 with"
                + " latency weights off, 0 while it is in no pool")
        .labelNames("chain", "node", "region")
        .callback(
            cb -> {
              for (ChainView c : topology.get().chains().values()) {
                for (NodeView n : c.nodes()) {
                  cb.call(n.score().weight(), c.name(), n.name(), n.config().region());
                }
              }
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name(PREFIX + "region_spill")
        .help(
            "1 while Envoys in the region spread the pool's traffic over every region (their own"
                + " is short of nodes, behind or slower), 0 while they keep it in the region")
        .labelNames("chain", "region", "pool")
        .callback(
            cb -> {
              for (ChainView c : topology.get().chains().values()) {
                for (var p : c.preferences()) {
                  cb.call(
                      p.spill() ? 1 : 0,
                      c.name(),
                      p.region(),
                      (p.archivePool() ? Pool.ARCHIVE : Pool.HEAD).id());
                }
              }
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name(PREFIX + "chain_head")
        .help("The chain's head: the highest height a reachable, non-syncing node reported")
        .labelNames("chain")
        .callback(
            cb -> {
              for (ChainView c : topology.get().chains().values()) {
                if (c.head() >= 0) {
                  cb.call((double) c.head(), c.name());
                }
              }
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name(PREFIX + "chain_head_age_seconds")
        .help("Seconds since the chain's head last advanced (absent until it has)")
        .unit(Unit.SECONDS)
        .labelNames("chain")
        .callback(
            cb -> {
              long now = clock.millis();
              for (ChainView c : topology.get().chains().values()) {
                long at = c.headAdvancedWallMillis();
                if (at > 0) {
                  cb.call(Math.max(0, now - at) / 1000.0, c.name());
                }
              }
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name(PREFIX + "chain_pool_members")
        .help("Nodes each pool offers Envoy now (healthy or degraded)")
        .labelNames("chain", "pool")
        .callback(
            cb -> {
              for (ChainView c : topology.get().chains().values()) {
                for (Pool p : Pool.values()) {
                  cb.call(PoolPlan.members(c, p, "").size(), c.name(), p.id());
                }
              }
            })
        .register(registry);
    List<String> names = chains.stream().map(ChainConfig::name).toList();
    GaugeWithCallback.builder()
        .name(PREFIX + "held_requests")
        .help("Requests held now (waiting for a usable node or an algod round)")
        .labelNames("chain")
        .callback(
            cb -> {
              Map<String, Integer> held = heldByChain.get();
              for (String chain : names) {
                cb.call(held.getOrDefault(chain, 0), chain);
              }
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name(PREFIX + "xds_connected_envoys")
        .help("Envoys with an open xDS stream")
        .callback(cb -> cb.call(connectedEnvoys.getAsInt()))
        .register(registry);
    return this;
  }

  @FunctionalInterface
  private interface NodeSample {
    void sample(NodeView n, GaugeWithCallback.Callback cb, String chain);
  }

  private void nodeGauge(Supplier<Topology> topology, String name, String help, NodeSample s) {
    GaugeWithCallback.builder()
        .name(PREFIX + name)
        .help(help)
        .labelNames("chain", "node")
        .callback(
            cb -> {
              for (ChainView c : topology.get().chains().values()) {
                for (NodeView n : c.nodes()) {
                  s.sample(n, cb, c.name());
                }
              }
            })
        .register(registry);
  }

  static String label(Health h) {
    return h.name().toLowerCase(Locale.ROOT);
  }

  // ----------------------------------------------------------------------------- per request

  @Override
  public void decided(Decided d) {
    String chain = d.chain();
    requests
        .labelValues(
            chain, d.pool() == null ? "none" : d.pool().id(), d.reason().label(), d.method())
        .inc();
    if (d.reason() != Reason.PASS) {
      classification.labelValues(chain).observe(d.classifyNanos() / 1e9);
    }
    if (d.held()) {
      heldWait.labelValues(chain).observe(d.heldNanos() / 1e9);
    }
    if (!d.cache().isEmpty()) {
      cacheLookups.labelValues(chain, d.cache()).inc();
    }
    if (d.replied()) {
      replies.labelValues(chain, Integer.toString(d.httpStatus()), d.errorCode()).inc();
      if (!d.held() && (d.reason() == Reason.UNAVAILABLE || d.reason() == Reason.HOLD_REFUSED)) {
        unavailable.labelValues(chain).inc();
      }
    }
  }

  // -------------------------------------------------------------------------------- probes

  /** {@code inner}, with each result observed (latency of answers, cause of failures). */
  public NodeProber probes(NodeProber inner) {
    return (chain, node, lastHead) -> {
      CompletableFuture<NodeProber.Result> f = inner.probe(chain, node, lastHead);
      f.whenComplete((r, error) -> probed(chain.name(), node.name(), r, error));
      return f;
    };
  }

  void probed(String chain, String node, NodeProber.Result r, Throwable error) {
    if (r instanceof NodeProber.Answered a) {
      if (a.latencyMicros() >= 0) {
        probeLatency.labelValues(chain, node).observe(a.latencyMicros() / 1e6);
      }
    } else if (r instanceof NodeProber.Failed f) {
      probeErrors.labelValues(chain, node, f.cause().label()).inc();
    } else if (error != null) {
      probeErrors.labelValues(chain, node, NodeProber.Cause.OTHER.label()).inc();
    }
  }

  // ----------------------------------------------------------------------------------- xDS

  public void xdsPushed(String typeUrl) {
    xdsPushes.labelValues(xdsType(typeUrl)).inc();
  }

  public void xdsAcked(String envoy, String typeUrl, long millis) {
    xdsAcks.labelValues(envoy).inc();
    // An Envoy's NACK count starts at zero with its first ACK, so rate() and alerts see it.
    xdsNacks.labelValues(envoy);
    xdsAckLatency.observe(millis / 1000.0);
  }

  public void xdsNacked(String envoy, String typeUrl) {
    xdsNacks.labelValues(envoy).inc();
  }

  public void xdsRefused(String reason) {
    xdsRefused.labelValues(reason).inc();
  }

  /** Envoy's resource names for the types chainroute serves; anything else is {@code other}. */
  static String xdsType(String typeUrl) {
    return switch (typeUrl.substring(typeUrl.lastIndexOf('.') + 1)) {
      case "Cluster" -> "cluster";
      case "ClusterLoadAssignment" -> "endpoint";
      case "Listener" -> "listener";
      case "RouteConfiguration" -> "route";
      default -> "other";
    };
  }

  // -------------------------------------------------------------------------------- scrape

  /**
   * Every series, in the format the {@code Accept} header asks for: OpenMetrics text when it names
   * {@code application/openmetrics-text}, else the Prometheus text format 0.0.4.
   */
  public Exposition scrape(String accept) {
    ExpositionFormatWriter w = formats.findWriter(accept);
    if (!w.isAvailable() || w.getContentType().contains("protobuf")) {
      // Protobuf needs another artifact; Prometheus falls back to text when it is not offered.
      w = formats.getPrometheusTextFormatWriter();
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
    try {
      w.write(out, registry.scrape());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Exposition(w.getContentType(), out.toByteArray());
  }
}
