package io.chainroute.config;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Test fixtures for the config records: builders that start from the loader's defaults, so a test
 * states only the values it is about ({@code TestConfigs.evm("eth").nodes(a, b).build()}).
 */
public final class TestConfigs {
  private TestConfigs() {}

  /** An EVM chain served at {@code /<name>} with the loader's EVM defaults. */
  public static Chain evm(String name) {
    return new Chain(name, Protocol.EVM, 128, Duration.ofSeconds(12));
  }

  /** An algod chain served at {@code /<name>} with the loader's algorand defaults. */
  public static Chain algorand(String name) {
    return new Chain(name, Protocol.ALGORAND, 1000, Duration.ofSeconds(3));
  }

  /** A node at {@code url} (http://host:port): no region, not archival, no headers. */
  public static Node node(String name, String url) {
    return new Node(name, URI.create(url));
  }

  /** Builds a {@link ChainConfig}; unset values are the loader's defaults. */
  public static final class Chain {
    private final String name;
    private final Protocol protocol;
    private String pathPrefix;
    private long maxLagBlocks = 0;
    private Long degradedLagBlocks;
    private long fullNodeStateBlocks;
    private Long fullNodeLogBlocks;
    private Duration pollInterval = Duration.ofSeconds(1);
    private Duration blockTime;
    private Duration probeTimeout = Duration.ofSeconds(2);
    private long archiveMarginBlocks = ChainConfig.DEFAULT_ARCHIVE_MARGIN_BLOCKS;
    private MethodRules methods = MethodRules.NONE;
    private Balancing balancing = Balancing.DEFAULTS;
    private String chainId;
    private CacheConfig cache = CacheConfig.DEFAULTS;
    private final List<NodeConfig> nodes = new ArrayList<>();

    private Chain(String name, Protocol protocol, long stateBlocks, Duration blockTime) {
      this.name = name;
      this.protocol = protocol;
      this.pathPrefix = "/" + name;
      this.fullNodeStateBlocks = stateBlocks;
      this.blockTime = blockTime;
    }

    public Chain pathPrefix(String prefix) {
      this.pathPrefix = prefix;
      return this;
    }

    /** Also moves the default {@code degradedLagBlocks} (maxLag + 2), as the loader does. */
    public Chain maxLagBlocks(long blocks) {
      this.maxLagBlocks = blocks;
      return this;
    }

    public Chain degradedLagBlocks(long blocks) {
      this.degradedLagBlocks = blocks;
      return this;
    }

    /** Also moves the default {@code fullNodeLogBlocks} (= state), as the loader does. */
    public Chain fullNodeStateBlocks(long blocks) {
      this.fullNodeStateBlocks = blocks;
      return this;
    }

    public Chain fullNodeLogBlocks(long blocks) {
      this.fullNodeLogBlocks = blocks;
      return this;
    }

    public Chain pollInterval(Duration d) {
      this.pollInterval = d;
      return this;
    }

    public Chain blockTime(Duration d) {
      this.blockTime = d;
      return this;
    }

    public Chain probeTimeout(Duration d) {
      this.probeTimeout = d;
      return this;
    }

    public Chain archiveMarginBlocks(long blocks) {
      this.archiveMarginBlocks = blocks;
      return this;
    }

    public Chain balancing(Balancing b) {
      this.balancing = b;
      return this;
    }

    public Chain methods(MethodRules rules) {
      this.methods = rules;
      return this;
    }

    public Chain chainId(String id) {
      this.chainId = id;
      return this;
    }

    public Chain cache(CacheConfig c) {
      this.cache = c;
      return this;
    }

    public Chain nodes(NodeConfig... more) {
      nodes.addAll(List.of(more));
      return this;
    }

    public Chain nodes(List<NodeConfig> more) {
      nodes.addAll(more);
      return this;
    }

    public ChainConfig build() {
      return new ChainConfig(
          name,
          protocol,
          pathPrefix,
          maxLagBlocks,
          degradedLagBlocks != null ? degradedLagBlocks : maxLagBlocks + 2,
          fullNodeStateBlocks,
          fullNodeLogBlocks != null ? fullNodeLogBlocks : fullNodeStateBlocks,
          pollInterval,
          blockTime,
          probeTimeout,
          nodes,
          archiveMarginBlocks,
          methods,
          balancing,
          chainId,
          cache);
    }
  }

  /** Builds a {@link NodeConfig}. */
  public static final class Node {
    private final String name;
    private final URI url;
    private String region = "";
    private boolean archive;
    private final List<NodeHeader> headers = new ArrayList<>();
    private URI wsUrl;
    private CaBundle ca;

    private Node(String name, URI url) {
      this.name = name;
      this.url = url;
    }

    public Node region(String r) {
      this.region = r;
      return this;
    }

    public Node archive() {
      this.archive = true;
      return this;
    }

    /**
     * A header whose value (a secret in production) "came from" environment variable {@code env}.
     */
    public Node header(String header, String env, String value) {
      headers.add(new NodeHeader(header, env, value));
      return this;
    }

    public Node wsUrl(String ws) {
      this.wsUrl = URI.create(ws);
      return this;
    }

    /** The CA bundle of a TLS node (a test PEM: only Envoy and the probes read it). */
    public Node ca(CaBundle bundle) {
      this.ca = bundle;
      return this;
    }

    public NodeConfig build() {
      boolean tls =
          "https".equals(url.getScheme()) || (wsUrl != null && "wss".equals(wsUrl.getScheme()));
      CaBundle bundle =
          ca != null || !tls
              ? ca
              : new CaBundle("/test/ca.pem", "-----BEGIN CERTIFICATE-----", false);
      return new NodeConfig(name, url, region, archive, headers, wsUrl, bundle);
    }
  }
}
