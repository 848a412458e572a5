package io.chainroute.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.chainroute.contract.EnvoyContract;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and validates the YAML configuration. Every error is a {@link ConfigException} naming the
 * path and the expectation; nothing is bound or started before the whole file is valid.
 */
public final class ConfigLoader {
  /** Duplicate keys are errors: YAML allows a parser to keep either value silently. */
  private static final ObjectMapper YAML =
      new ObjectMapper(
          YAMLFactory.builder()
              .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
              .build());

  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  // At most 9 digits: a longer number would overflow Long.parseLong and escape as a
  // NumberFormatException without the path; every allowed duration fits in 9 digits of ms.
  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m)");

  /** algod's API token header: what a node's {@code tokenEnv} is shorthand for. */
  public static final String ALGOD_TOKEN_HEADER = "X-Algo-API-Token";

  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  // RFC 9110 section 5.1: a field name is a token.
  private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");

  /**
   * Headers a node cannot be given: framing and hop-by-hop headers Envoy and the JDK client set
   * themselves (the JDK refuses to send several of them), and chainroute's and Envoy's own.
   */
  private static final Set<String> RESERVED_HEADERS =
      Set.of(
          "host",
          "connection",
          "content-length",
          "content-type",
          "transfer-encoding",
          "te",
          "trailer",
          "upgrade",
          "keep-alive",
          "proxy-connection",
          "expect");

  private static final List<String> RESERVED_PREFIXES =
      List.of(EnvoyContract.HEADER_PREFIX, "x-envoy-", "sec-websocket-");

  private ConfigLoader() {}

  public static ChainrouteConfig load(Path file) {
    return parse(read(file));
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot read the configuration file: " + e.getMessage());
    }
  }

  /**
   * Loads a file to render its Envoy bootstrap, which holds no secret: the environment variables it
   * names (node headers, the admin token) need not be set, an unset one reads as a placeholder.
   * Everything else is checked as {@link #load} checks it.
   */
  public static ChainrouteConfig loadForBootstrap(Path file) {
    return parseForBootstrap(read(file));
  }

  /**
   * {@link #loadForBootstrap} for a file's content. chainroute's own TLS files ({@code
   * server.tls.cert}, {@code key}, {@code clientCa}) are not read either: they live where
   * chainroute runs (a Kubernetes Secret, say), not where its bootstrap or EnvoyFilters are
   * rendered, and neither holds anything from them.
   */
  public static ChainrouteConfig parseForBootstrap(String yaml) {
    return parse(
        yaml,
        name -> {
          String v = System.getenv(name);
          return v == null || v.isBlank() ? "unset-when-rendering-the-bootstrap" : v;
        },
        false);
  }

  public static ChainrouteConfig parse(String yaml) {
    return parse(yaml, System::getenv);
  }

  /**
   * Parses a configuration with the given environment.
   *
   * @param env reads environment variables (node tokens); injected so tests need no real ones
   */
  public static ChainrouteConfig parse(
      String yaml, java.util.function.Function<String, String> env) {
    return parse(yaml, env, true);
  }

  private static ChainrouteConfig parse(
      String yaml, java.util.function.Function<String, String> env, boolean readTlsFiles) {
    JsonNode root;
    try {
      root = YAML.readTree(yaml);
    } catch (JsonProcessingException e) {
      if (e instanceof com.fasterxml.jackson.core.JsonParseException p
          && p.getProcessor() != null
          && e.getOriginalMessage().startsWith("Duplicate field")) {
        com.fasterxml.jackson.core.JsonStreamContext ctx = p.getProcessor().getParsingContext();
        String key = ctx.getCurrentName();
        throw new ConfigException(
            pathOf(ctx.getParent()) + (pathOf(ctx.getParent()).isEmpty() ? "" : ".") + key,
            "key '" + key + "' appears twice" + locationOf(e),
            "each key once");
      }
      throw new ConfigException(
          "(file): not valid YAML: " + e.getOriginalMessage() + locationOf(e));
    }
    if (root == null || root.isMissingNode() || root.isNull()) {
      throw new ConfigException("(file)", "empty", "a mapping with a 'chains' list");
    }
    Obj top = new Obj(root, "");
    top.allow("server", "envoy", "chains");
    ServerConfig server = server(top.obj("server"), env, readTlsFiles);
    EnvoyConfig envoy = envoy(top.obj("envoy"));
    List<ChainConfig> chains = chains(top, env);
    checkPorts(server, envoy);
    return new ChainrouteConfig(server, envoy, chains);
  }

  /** {@code chains[1].nodes[0]} for a parser context; "" at the root. */
  private static String pathOf(com.fasterxml.jackson.core.JsonStreamContext ctx) {
    if (ctx == null || ctx.inRoot()) {
      return "";
    }
    String parent = pathOf(ctx.getParent());
    if (ctx.inArray()) {
      return parent + "[" + ctx.getCurrentIndex() + "]";
    }
    String name = ctx.getCurrentName();
    return parent.isEmpty() ? name : parent + "." + name;
  }

  private static String locationOf(JsonProcessingException e) {
    return e.getLocation() == null
        ? ""
        : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
  }

  private static ServerConfig server(
      Obj o, java.util.function.Function<String, String> env, boolean readTlsFiles) {
    o.allow(
        "bindAddress",
        "xdsPort",
        "extProcPort",
        "adminHttpPort",
        "adminGrpcPort",
        "xdsCoalesce",
        "maxRequestBytes",
        "unavailableWait",
        "maxHeldRequests",
        "shutdownGrace",
        "adminTokenEnv",
        "metrics",
        "tls",
        "allowedEnvoyNodeIds",
        "cacheMaxBytes",
        "cacheRedis",
        "extProcSocket");
    String tokenEnv = o.string("adminTokenEnv", "");
    String token = "";
    if (!tokenEnv.isEmpty()) {
      token = env.apply(tokenEnv);
      if (token == null || token.isBlank()) {
        throw new ConfigException(
            o.at("adminTokenEnv"),
            "environment variable " + tokenEnv + " is not set",
            "the name of a set variable holding the admin token");
      }
    }
    String bindAddress = o.string("bindAddress", "127.0.0.1");
    if (token.isEmpty() && !loopback(bindAddress)) {
      throw new ConfigException(
          o.at("adminTokenEnv"),
          "not set while server.bindAddress is "
              + bindAddress
              + " (not loopback): anyone who reaches the admin ports could drain every node",
          "the name of a set environment variable holding the admin token (admin changes need"
              + " 'Authorization: Bearer <token>'), or a loopback server.bindAddress");
    }
    ServerTls tls = o.node.hasNonNull("tls") ? tls(o.obj("tls"), readTlsFiles) : null;
    List<String> allowed = envoyNodeIds(o, "allowedEnvoyNodeIds");
    // xDS hands every Envoy it serves the nodes' credentials (endpoint metadata): off loopback,
    // someone must vouch for the client. mTLS does; an allow-list only narrows who is served (a
    // node id is not a secret), so it is accepted with a warning at start (Sidecar).
    if (tls == null && allowed.isEmpty() && !loopback(bindAddress)) {
      throw new ConfigException(
          o.at("tls"),
          "not set while server.bindAddress is "
              + bindAddress
              + " (not loopback) and server.allowedEnvoyNodeIds is empty: any host that reaches"
              + " the xDS port would get every node's credentials",
          "server.tls (mutual TLS on the xDS and ext_proc ports), server.allowedEnvoyNodeIds (the"
              + " Envoy node ids to serve), or a loopback server.bindAddress");
    }
    return new ServerConfig(
        bindAddress,
        o.port("xdsPort", 18000),
        o.port("extProcPort", 18001),
        o.port("adminHttpPort", 8081),
        o.port("adminGrpcPort", 8082),
        o.duration("xdsCoalesce", Duration.ofMillis(100), Duration.ZERO, Duration.ofSeconds(5)),
        (int)
            o.integer(
                "maxRequestBytes", ServerConfig.DEFAULT_MAX_REQUEST_BYTES, 1024, 64 * 1024 * 1024),
        o.duration(
            "unavailableWait", Duration.ofSeconds(10), Duration.ZERO, Duration.ofSeconds(55)),
        (int) o.integer("maxHeldRequests", 10_000, 1, 1_000_000),
        o.duration("shutdownGrace", Duration.ofSeconds(10), Duration.ZERO, Duration.ofMinutes(10)),
        tokenEnv,
        token.strip(),
        o.bool("metrics", true),
        tls,
        allowed,
        o.integer(
            "cacheMaxBytes", ServerConfig.DEFAULT_CACHE_MAX_BYTES, 0, 64L * 1024 * 1024 * 1024),
        redisUrl(o.obj("cacheRedis")),
        o.obj("cacheRedis")
            .duration(
                "timeout", Duration.ofMillis(50), Duration.ofMillis(1), Duration.ofSeconds(5)),
        extProcSocket(o, tls, readTlsFiles));
  }

  /** Linux's {@code sun_path} holds 108 bytes, the last one the terminating NUL. */
  static final int MAX_SOCKET_PATH_BYTES = 107;

  /**
   * {@code server.extProcSocket}: an absolute path whose directory exists (checked where chainroute
   * runs, not when a bootstrap is rendered). Not with {@code server.tls}: the socket is reachable
   * only from this host, by users the file's permissions (0660) admit, so TLS over it would cost a
   * handshake and record framing per message and protect nothing the file mode does not.
   */
  private static Path extProcSocket(Obj o, ServerTls tls, boolean checkHost) {
    String v = o.string("extProcSocket", null);
    if (v == null) {
      return null;
    }
    String expect =
        "an absolute path for a Unix domain socket (at most "
            + MAX_SOCKET_PATH_BYTES
            + " bytes) in an existing directory, e.g. /run/chainroute/extproc.sock";
    Path p;
    try {
      p = Path.of(v);
    } catch (java.nio.file.InvalidPathException e) {
      throw new ConfigException(o.at("extProcSocket"), "'" + v + "' is not a path", expect);
    }
    if (!p.isAbsolute()) {
      throw new ConfigException(o.at("extProcSocket"), "'" + v + "' is not absolute", expect);
    }
    if (v.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES) {
      throw new ConfigException(
          o.at("extProcSocket"),
          "'" + v + "' is longer than a Unix socket address can hold",
          expect);
    }
    if (tls != null) {
      throw new ConfigException(
          o.at("extProcSocket"),
          "'"
              + v
              + "' set together with server.tls: the socket is reached only on this host, guarded"
              + " by its file permissions, and is served without TLS",
          "one of server.extProcSocket (same host) or server.tls (ext_proc over TCP with mutual"
              + " TLS)");
    }
    if (checkHost) {
      Path dir = p.getParent();
      if (dir == null || !Files.isDirectory(dir)) {
        throw new ConfigException(
            o.at("extProcSocket"), "'" + v + "': directory " + dir + " does not exist", expect);
      }
      if (Files.isDirectory(p) || Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        throw new ConfigException(
            o.at("extProcSocket"),
            "'" + v + "' exists and is not a socket (chainroute replaces only a stale socket)",
            expect);
      }
    }
    return p;
  }

  /**
   * {@code server.tls}; every file chainroute reads is checked now, before a port is bound (unless
   * {@code readFiles} is false: rendering a bootstrap reads none of them).
   */
  private static ServerTls tls(Obj o, boolean readFiles) {
    o.allow("cert", "key", "clientCa", "serverName", "envoyCert", "envoyKey", "envoyCa");
    String serverName = o.string("serverName", ServerTls.DEFAULT_SERVER_NAME);
    if (!DNS_NAME.matcher(serverName).matches()) {
      throw new ConfigException(
          o.at("serverName"), "'" + serverName + "'", "a DNS name (Envoy sends it as SNI)");
    }
    Path cert = Path.of(required(o, "cert", "chainroute's certificate chain (PEM file)"));
    Path key = Path.of(required(o, "key", "chainroute's private key (PKCS#8 PEM file)"));
    Path clientCa =
        Path.of(required(o, "clientCa", "the CA certificates (PEM file) Envoy's certificate has"));
    if (readFiles) {
      TlsFiles.check(o.at("cert"), cert, o.at("key"), key, o.at("clientCa"), clientCa, serverName);
    }
    return new ServerTls(
        cert,
        key,
        clientCa,
        serverName,
        required(o, "envoyCert", "Envoy's client certificate (a path on Envoy's host)"),
        required(o, "envoyKey", "Envoy's client private key (a path on Envoy's host)"),
        required(o, "envoyCa", "the CA certificates Envoy trusts chainroute's certificate with"));
  }

  private static String required(Obj o, String key, String what) {
    String v = o.string(key, null);
    if (v == null) {
      throw new ConfigException(o.at(key), "missing", what);
    }
    return v;
  }

  private static final Pattern DNS_NAME =
      Pattern.compile(
          "(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

  // Envoy's node id is free text; these keep it printable and unambiguous in /status and logs.
  private static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}");

  private static List<String> envoyNodeIds(Obj o, String key) {
    JsonNode n = o.node.get(key);
    if (n == null || n.isNull()) {
      return List.of();
    }
    String expect = "a non-empty list of Envoy node ids (letters, digits and . _ : / @ -)";
    if (!n.isArray() || n.isEmpty()) {
      throw new ConfigException(o.at(key), describe(n), expect);
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n.size(); i++) {
      JsonNode e = n.get(i);
      if (!e.isTextual() || !NODE_ID.matcher(e.asText()).matches()) {
        throw new ConfigException(o.at(key) + "[" + i + "]", describe(e), expect);
      }
      if (out.contains(e.asText())) {
        throw new ConfigException(
            o.at(key) + "[" + i + "]", describe(e) + " twice", "each id once");
      }
      out.add(e.asText());
    }
    return out;
  }

  /** {@code cacheRedis: {url, timeout}}: the URL, checked without ever echoing it (a password). */
  private static String redisUrl(Obj o) {
    if (o.node.isEmpty()) {
      return "";
    }
    o.allow("url", "timeout");
    String url = o.string("url", "");
    java.net.URI u;
    try {
      u = java.net.URI.create(url);
    } catch (IllegalArgumentException e) {
      u = null;
    }
    if (u == null || !"redis".equals(u.getScheme()) || u.getHost() == null) {
      throw new ConfigException(
          o.at("url"), "not a Redis URL (value not shown)", "redis://[:password@]host:port");
    }
    return url;
  }

  /** A loopback address or name, judged from the text alone (no lookup): 127.0.0.0/8, ::1. */
  public static boolean loopback(String address) {
    String a = address.strip().toLowerCase(java.util.Locale.ROOT);
    return a.equals("localhost")
        || (IPV4.matcher(a).matches() && a.startsWith("127."))
        || a.equals("::1")
        || a.equals("[::1]")
        || a.equals("0:0:0:0:0:0:0:1");
  }

  private static EnvoyConfig envoy(Obj o) {
    o.allow(
        "listenerPort",
        "adminPort",
        "region",
        "chainrouteHost",
        "messageTimeout",
        "exposeUpstreamHeader",
        "extProcMaxRequests",
        "upstreamMaxRequests",
        "readTryTimeout",
        "maxHeapBytes",
        "maxDownstreamConnections",
        "maxRequestsPerSecond",
        "adminAddress",
        "accessLog",
        "listenerAddress",
        "fastPath");
    return new EnvoyConfig(
        o.port("listenerPort", 10000),
        o.port("adminPort", 9901),
        o.string("region", ""),
        o.string("chainrouteHost", "127.0.0.1"),
        o.duration(
            "messageTimeout", Duration.ofMillis(500), Duration.ofMillis(1), Duration.ofSeconds(10)),
        o.bool("exposeUpstreamHeader", false),
        (int)
            o.integer(
                "extProcMaxRequests", EnvoyConfig.DEFAULT_EXT_PROC_MAX_REQUESTS, 1, 1_000_000),
        (int)
            o.integer(
                "upstreamMaxRequests", EnvoyConfig.DEFAULT_UPSTREAM_MAX_REQUESTS, 1, 1_000_000),
        // Below the route timeout (60 s): a try that may take the whole request time is no try.
        o.duration(
            "readTryTimeout",
            EnvoyConfig.DEFAULT_READ_TRY_TIMEOUT,
            Duration.ofMillis(100),
            Duration.ofSeconds(59)),
        o.integer("maxHeapBytes", EnvoyConfig.DEFAULT_MAX_HEAP_BYTES, 64L << 20, 1L << 40),
        (int)
            o.integer(
                "maxDownstreamConnections",
                EnvoyConfig.DEFAULT_MAX_DOWNSTREAM_CONNECTIONS,
                1,
                10_000_000),
        // 0 = off; the right value is the deployment's measured capacity (docs/overload.md).
        (int)
            o.integer(
                "maxRequestsPerSecond", EnvoyConfig.DEFAULT_MAX_REQUESTS_PER_SECOND, 0, 10_000_000),
        ipAddress(o, "adminAddress", "127.0.0.1"),
        accessLog(o),
        ipAddress(o, "listenerAddress", "127.0.0.1"),
        o.bool("fastPath", false));
  }

  /** An IP address literal (Envoy binds a socket address, not a host name). */
  private static String ipAddress(Obj o, String key, String dflt) {
    String v = o.string(key, dflt);
    if (!IPV4.matcher(v).matches() && !IPV6.matcher(v).matches()) {
      throw new ConfigException(
          o.at(key), "'" + v + "'", "an IP address such as 127.0.0.1, 0.0.0.0 or ::1");
    }
    return v;
  }

  private static final Pattern IPV4 =
      Pattern.compile(
          "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
              + "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])");
  private static final Pattern IPV6 = Pattern.compile("[0-9a-fA-F:.]*:[0-9a-fA-F:.]*");

  /** {@code off} (or false), {@code stdout} (the default), or an absolute file path. */
  private static String accessLog(Obj o) {
    JsonNode n = o.node.get("accessLog");
    String expect = "off, stdout or an absolute file path such as /var/log/envoy/access.log";
    if (n != null && n.isBoolean() && !n.booleanValue()) {
      return EnvoyConfig.ACCESS_LOG_OFF;
    }
    if (n != null && !n.isNull() && !n.isTextual()) {
      throw new ConfigException(o.at("accessLog"), describe(n), expect);
    }
    String v = o.string("accessLog", "stdout").strip();
    return switch (v) {
      case "off" -> EnvoyConfig.ACCESS_LOG_OFF;
      case "stdout" -> EnvoyConfig.ACCESS_LOG_STDOUT;
      default -> {
        if (!v.startsWith("/") || v.chars().anyMatch(Character::isISOControl)) {
          throw new ConfigException(o.at("accessLog"), "'" + v + "'", expect);
        }
        yield v;
      }
    };
  }

  private static List<ChainConfig> chains(
      Obj top, java.util.function.Function<String, String> env) {
    JsonNode list = top.node.get("chains");
    if (list == null || !list.isArray() || list.isEmpty()) {
      throw new ConfigException("chains", describe(list), "a non-empty list of chains");
    }
    List<ChainConfig> chains = new ArrayList<>();
    Set<String> names = new HashSet<>();
    Set<String> prefixes = new HashSet<>();
    for (int i = 0; i < list.size(); i++) {
      String path = "chains[" + i + "]";
      ChainConfig chain = chain(new Obj(list.get(i), path), env);
      if (!names.add(chain.name())) {
        throw new ConfigException(
            path + ".name", "'" + chain.name() + "' is used twice", "a unique chain name");
      }
      if (!prefixes.add(chain.pathPrefix())) {
        throw new ConfigException(
            path + ".pathPrefix",
            "'" + chain.pathPrefix() + "' is used twice",
            "a unique path prefix");
      }
      chains.add(chain);
    }
    for (ChainConfig a : chains) {
      for (ChainConfig b : chains) {
        if (!a.name().equals(b.name()) && b.pathPrefix().startsWith(a.pathPrefix() + "/")) {
          throw new ConfigException(
              "chains[" + chains.indexOf(b) + "].pathPrefix",
              "'" + b.pathPrefix() + "' is inside the prefix of chain '" + a.name() + "'",
              "prefixes that do not nest");
        }
      }
    }
    return chains;
  }

  private static ChainConfig chain(Obj o, java.util.function.Function<String, String> env) {
    if (!o.node.isObject()) {
      throw new ConfigException(o.path, describe(o.node), "a mapping describing one chain");
    }
    o.allow(
        "name",
        "protocol",
        "pathPrefix",
        "maxLagBlocks",
        "degradedLagBlocks",
        "fullNodeStateBlocks",
        "fullNodeLogBlocks",
        "pollInterval",
        "blockTime",
        "probeTimeout",
        "archiveMarginBlocks",
        "methods",
        "caFile",
        "balancing",
        "chainId",
        "cache",
        "nodes");
    String name = o.name("name");
    String protocolName = o.string("protocol", null);
    if (protocolName == null) {
      throw new ConfigException(o.at("protocol"), "missing", "one of: " + Protocol.names());
    }
    Protocol protocol = Protocol.fromConfigName(protocolName);
    if (protocol == null) {
      throw new ConfigException(
          o.at("protocol"), "'" + protocolName + "'", "one of: " + Protocol.names());
    }
    String prefix = o.string("pathPrefix", "/" + name);
    // "/" serves the chain at the root (for clients that take no path in their base URL).
    if (!prefix.equals("/") && !prefix.matches("/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*")) {
      throw new ConfigException(
          o.at("pathPrefix"),
          "'" + prefix + "'",
          "a path such as /eth-mainnet (starts with /, no trailing /, no query), or / for the root");
    }
    long maxLag = o.integer("maxLagBlocks", 0, 0, 1_000_000);
    long degradedLag = o.integer("degradedLagBlocks", maxLag + 2, maxLag, 1_000_000);
    boolean algorand = protocol == Protocol.ALGORAND;
    // algod: a non-archival node serves blocks for the last 1000 rounds (protocols.md A.3).
    long stateBlocks =
        o.integer("fullNodeStateBlocks", algorand ? 1000 : 128, 1, Long.MAX_VALUE / 2);
    long logBlocks = o.integer("fullNodeLogBlocks", stateBlocks, 1, Long.MAX_VALUE / 2);
    long margin =
        o.integer(
            "archiveMarginBlocks",
            ChainConfig.DEFAULT_ARCHIVE_MARGIN_BLOCKS,
            0,
            Math.min(stateBlocks, logBlocks) - 1);
    Duration poll =
        o.duration(
            "pollInterval", Duration.ofSeconds(1), Duration.ofMillis(50), Duration.ofHours(1));
    Duration blockTime =
        o.duration(
            "blockTime",
            algorand ? Duration.ofSeconds(3) : Duration.ofSeconds(12),
            Duration.ofMillis(50),
            Duration.ofHours(1));
    Duration probeTimeout =
        o.duration(
            "probeTimeout", Duration.ofSeconds(2), Duration.ofMillis(10), Duration.ofMinutes(1));
    List<NodeConfig> nodes =
        nodes(o, env, algorand, new CaFiles(o.string("caFile", null), o.at("caFile")));
    MethodRules methods = methods(o.obj("methods"), algorand);
    Balancing balancing = balancing(o.obj("balancing"));
    String chainId = o.string("chainId", null);
    if (chainId != null && (algorand || !chainId.matches("0x(0|[1-9a-f][0-9a-f]*)"))) {
      throw new ConfigException(
          o.at("chainId"),
          "'" + chainId + "'",
          algorand
              ? "no 'chainId' (EVM chains only)"
              : "the chain id as eth_chainId answers it: lower-case hex, e.g. 0x1 or 0x539");
    }
    CacheConfig cache = cache(o.obj("cache"));
    return new ChainConfig(
        name,
        protocol,
        prefix,
        maxLag,
        degradedLag,
        stateBlocks,
        logBlocks,
        poll,
        blockTime,
        probeTimeout,
        nodes,
        margin,
        methods,
        balancing,
        chainId,
        cache);
  }

  /** {@code cache: {enabled, confirmations, ttl}} (README: Answers from chainroute). */
  private static CacheConfig cache(Obj o) {
    if (o.node.isEmpty()) {
      return CacheConfig.DEFAULTS;
    }
    o.allow("enabled", "confirmations", "ttl");
    CacheConfig d = CacheConfig.DEFAULTS;
    return new CacheConfig(
        o.bool("enabled", d.enabled()),
        o.integer("confirmations", d.confirmations(), 0, 1_000_000),
        o.duration("ttl", d.ttl(), Duration.ofSeconds(1), Duration.ofDays(365)));
  }

  /**
   * {@code balancing: {latencyWeights, localSlowerBy, localBehindBlocks, localMinHealthyPercent,
   * hedgeReadsAfter}}; every key optional ({@link Balancing#DEFAULTS}).
   */
  private static Balancing balancing(Obj o) {
    o.allow(
        "latencyWeights",
        "localSlowerBy",
        "localBehindBlocks",
        "localMinHealthyPercent",
        "hedgeReadsAfter");
    Balancing d = Balancing.DEFAULTS;
    JsonNode hedge = o.node.get("hedgeReadsAfter");
    Duration hedgeAfter =
        hedge != null && hedge.isBoolean() && !hedge.booleanValue()
            ? Duration.ZERO
            // Under 10 ms nearly every read would go out twice; the route timeout is 60 s.
            : o.duration(
                "hedgeReadsAfter", Duration.ZERO, Duration.ofMillis(10), Duration.ofSeconds(59));
    return new Balancing(
        o.bool("latencyWeights", d.latencyWeights()),
        o.duration("localSlowerBy", d.localSlowerBy(), Duration.ZERO, Duration.ofMinutes(1)),
        o.integer("localBehindBlocks", d.localBehindBlocks(), 0, 1_000_000),
        (int) o.integer("localMinHealthyPercent", d.localMinHealthyPercent(), 0, 100),
        hedgeAfter);
  }

  private static final Pattern METHOD_PATTERN = Pattern.compile("[A-Za-z0-9_]*\\*|[A-Za-z0-9_]+");

  /** {@code methods: {allow: [...], deny: [...]}}: JSON-RPC names or prefixes ending in '*'. */
  private static MethodRules methods(Obj o, boolean algorand) {
    if (o.node.isEmpty()) {
      return MethodRules.NONE;
    }
    if (algorand) {
      throw new ConfigException(
          o.path, "method rules on an algorand chain", "no 'methods' (JSON-RPC chains only)");
    }
    o.allow("allow", "deny");
    return new MethodRules(methodList(o, "allow"), methodList(o, "deny"));
  }

  private static List<String> methodList(Obj o, String key) {
    JsonNode n = o.node.get(key);
    if (n == null || n.isNull()) {
      return List.of();
    }
    if (!n.isArray()) {
      throw new ConfigException(o.at(key), describe(n), "a list of method names or prefixes");
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n.size(); i++) {
      JsonNode m = n.get(i);
      if (!m.isTextual() || !METHOD_PATTERN.matcher(m.asText()).matches()) {
        throw new ConfigException(
            o.at(key) + "[" + i + "]",
            describe(m),
            "a method name (letters, digits, '_') or a prefix ending in '*', e.g. debug_*");
      }
      if (out.contains(m.asText())) {
        throw new ConfigException(
            o.at(key) + "[" + i + "]", "'" + m.asText() + "' twice", "each once");
      }
      out.add(m.asText());
    }
    return out;
  }

  private static List<NodeConfig> nodes(
      Obj chain, java.util.function.Function<String, String> env, boolean algorand, CaFiles cas) {
    JsonNode list = chain.node.get("nodes");
    String path = chain.at("nodes");
    if (list == null || !list.isArray() || list.isEmpty()) {
      throw new ConfigException(path, describe(list), "a non-empty list of nodes");
    }
    List<NodeConfig> nodes = new ArrayList<>();
    Set<String> names = new HashSet<>();
    Set<String> endpoints = new HashSet<>();
    for (int i = 0; i < list.size(); i++) {
      Obj o = new Obj(list.get(i), path + "[" + i + "]");
      if (!o.node.isObject()) {
        throw new ConfigException(o.path, describe(o.node), "a mapping describing one node");
      }
      o.allow("name", "url", "region", "archive", "tokenEnv", "headers", "wsUrl", "caFile");
      String name = o.name("name");
      if (!names.add(name)) {
        throw new ConfigException(
            o.at("name"), "'" + name + "' is used twice", "a unique node name");
      }
      URI raw = url(o);
      List<NodeHeader> headers = headers(o, env, algorand);
      if (raw.getRawUserInfo() != null) {
        if (headers.stream().anyMatch(h -> h.key().equals("authorization"))) {
          throw new ConfigException(
              o.at("url"),
              "user info and an Authorization header (user info is sent as Authorization: Basic)",
              "one of the two");
        }
        headers = new ArrayList<>(headers);
        headers.add(basicAuth(raw));
      }
      URI url = withoutUserInfo(raw);
      URI wsUrl = wsUrl(o, algorand);
      boolean tls =
          "https".equals(url.getScheme()) || (wsUrl != null && "wss".equals(wsUrl.getScheme()));
      CaBundle ca = tls ? cas.bundle(o.string("caFile", null), o.at("caFile")) : null;
      NodeConfig node =
          new NodeConfig(
              name, url, o.string("region", ""), o.bool("archive", false), headers, wsUrl, ca);
      if (!endpoints.add(node.host() + ":" + node.port())) {
        throw new ConfigException(
            o.at("url"),
            "the same host and port as another node of this chain",
            "one entry per node");
      }
      nodes.add(node);
    }
    return nodes;
  }

  /**
   * A node's headers: {@code headers: { Name: { env: VARIABLE } }}, plus algod's {@code tokenEnv:
   * VARIABLE}, shorthand for {@code X-Algo-API-Token}. Values come from the environment only (a
   * config file is often checked in); no error message shows a value, even a misplaced literal.
   */
  private static List<NodeHeader> headers(
      Obj node, java.util.function.Function<String, String> env, boolean algorand) {
    List<NodeHeader> out = new ArrayList<>();
    String tokenEnv = node.string("tokenEnv", null);
    if (tokenEnv != null) {
      if (!algorand) {
        throw new ConfigException(
            node.at("tokenEnv"),
            "tokenEnv is algod's shorthand for " + ALGOD_TOKEN_HEADER,
            "headers: { <Header-Name>: { env: VARIABLE } } naming the header this node needs,"
                + " e.g. Authorization or x-api-key");
      }
      out.add(header(ALGOD_TOKEN_HEADER, tokenEnv, node.at("tokenEnv"), env));
    }
    JsonNode map = node.node.get("headers");
    String path = node.at("headers");
    if (map == null || map.isNull()) {
      return out;
    }
    String expect = "a mapping of header names to { env: VARIABLE }";
    if (!map.isObject()) {
      throw new ConfigException(path, "not a mapping (value not shown)", expect);
    }
    for (Iterator<String> it = map.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      String at = path + "." + name;
      String key = name.toLowerCase(java.util.Locale.ROOT);
      if (!HEADER_NAME.matcher(name).matches()) {
        throw new ConfigException(
            at, "'" + name + "' is not an HTTP header name", "a name such as x-api-key");
      }
      if (RESERVED_HEADERS.contains(key) || RESERVED_PREFIXES.stream().anyMatch(key::startsWith)) {
        throw new ConfigException(
            at,
            "'" + name + "' is set by Envoy or chainroute",
            "a header of the node's own, such as Authorization or x-api-key");
      }
      if (out.stream().anyMatch(h -> h.key().equals(key))) {
        throw new ConfigException(
            at,
            tokenEnv != null && key.equalsIgnoreCase(ALGOD_TOKEN_HEADER)
                ? "'" + name + "' is also set by tokenEnv"
                : "'" + name + "' is given twice (header names ignore case)",
            "each header once");
      }
      JsonNode spec = map.get(name);
      if (!spec.isObject()) {
        throw new ConfigException(
            at,
            spec.isNull() ? "no value" : "a literal value (not shown)",
            "{ env: VARIABLE }: header values come from the environment, never the config file");
      }
      Obj o = new Obj(spec, at);
      o.allow("env");
      String variable = o.string("env", null);
      if (variable == null) {
        throw new ConfigException(o.at("env"), "missing", "the name of an environment variable");
      }
      out.add(header(name, variable, o.at("env"), env));
    }
    return out;
  }

  /** The header {@code name} with its value from {@code variable}; errors name {@code path}. */
  private static NodeHeader header(
      String name, String variable, String path, java.util.function.Function<String, String> env) {
    if (!ENV_NAME.matcher(variable).matches()) {
      throw new ConfigException(path, "'" + variable + "'", "the name of an environment variable");
    }
    String value = env.apply(variable);
    if (value == null) {
      throw new ConfigException(
          path,
          "environment variable " + variable + " is not set",
          "the value of the node's " + name + " header in " + variable);
    }
    // A trailing newline (VAR=$(cat file)) is not part of the secret.
    value = value.strip();
    if (value.isEmpty()) {
      throw new ConfigException(
          path,
          "environment variable " + variable + " is empty",
          "the value of the node's " + name + " header in " + variable);
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      // RFC 9110 section 5.5, ASCII only: a CR or LF would end the header (request splitting).
      if (c != '\t' && (c < 0x20 || c > 0x7e)) {
        throw new ConfigException(
            path,
            "environment variable "
                + variable
                + " holds a control or non-ASCII character at position "
                + i
                + " (value not shown)",
            "a header value of visible ASCII characters, spaces and tabs");
      }
    }
    return new NodeHeader(name, variable, value);
  }

  /** The optional newHeads endpoint: ws or wss, any path (keys often sit in it; never echoed). */
  private static URI wsUrl(Obj o, boolean algorand) {
    String raw = o.string("wsUrl", null);
    if (raw == null) {
      return null;
    }
    String expect =
        "a ws:// or wss:// URL of the node's WebSocket endpoint, such as ws://10.0.1.5:8546";
    if (algorand) {
      throw new ConfigException(
          o.at("wsUrl"),
          "algod has no head subscription",
          "no wsUrl (chainroute long-polls wait-for-block-after instead)");
    }
    URI url;
    try {
      url = new URI(raw);
    } catch (URISyntaxException e) {
      throw new ConfigException(o.at("wsUrl"), "not a valid URL", expect);
    }
    if (!"ws".equals(url.getScheme()) && !"wss".equals(url.getScheme())) {
      String scheme = url.getScheme() == null ? "no scheme" : "scheme '" + url.getScheme() + "'";
      throw new ConfigException(o.at("wsUrl"), scheme, expect);
    }
    if (url.getHost() == null) {
      throw new ConfigException(o.at("wsUrl"), "no host", expect);
    }
    return url;
  }

  private static URI url(Obj o) {
    String raw = o.string("url", null);
    String expect =
        "an http or https URL with a host, such as http://10.0.1.5:8545 or"
            + " https://eth-mainnet.example.com/v2/<key>";
    if (raw == null) {
      throw new ConfigException(o.at("url"), "missing", expect);
    }
    URI url;
    try {
      url = new URI(raw);
    } catch (URISyntaxException e) {
      // The value may hold a key, so it is not echoed.
      throw new ConfigException(o.at("url"), "not a valid URL (value not shown)", expect);
    }
    if (!"http".equals(url.getScheme()) && !"https".equals(url.getScheme())) {
      String scheme = url.getScheme() == null ? "no scheme" : "scheme '" + url.getScheme() + "'";
      throw new ConfigException(o.at("url"), scheme, expect);
    }
    if (url.getHost() == null) {
      // E.g. a user info with characters URI cannot take apart; the value is not echoed.
      throw new ConfigException(o.at("url"), "no host (value not shown)", expect);
    }
    if (url.getRawFragment() != null) {
      throw new ConfigException(
          o.at("url"), "a fragment (#...) (value not shown)", expect + ", without #fragment");
    }
    String path = url.getRawPath() == null ? "" : url.getRawPath();
    if (!path.isEmpty() && !path.startsWith("/")) {
      throw new ConfigException(o.at("url"), "an opaque URL (value not shown)", expect);
    }
    if (url.getRawUserInfo() != null && url.getRawUserInfo().chars().noneMatch(c -> c == ':')) {
      throw new ConfigException(
          o.at("url"),
          "user info without ':' (value not shown)",
          "user:password@ (sent as Authorization: Basic), or a key header or path");
    }
    return url;
  }

  /** {@code Authorization: Basic} for the URL's user info (RFC 7617; percent-decoded, UTF-8). */
  private static NodeHeader basicAuth(URI url) {
    String credentials =
        java.util.Base64.getEncoder()
            .encodeToString(url.getUserInfo().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return new NodeHeader("Authorization", NodeHeader.FROM_URL, "Basic " + credentials);
  }

  private static URI withoutUserInfo(URI url) {
    if (url.getRawUserInfo() == null) {
      return url;
    }
    String s = url.toString();
    int at = s.indexOf('@', s.indexOf("//") + 2);
    return URI.create(url.getScheme() + "://" + s.substring(at + 1));
  }

  /**
   * CA bundles for a chain's TLS nodes: a node's {@code caFile}, else the chain's, else the system
   * bundle; each file read once.
   */
  private static final class CaFiles {
    private final String chainFile;
    private final String chainPath;
    private final java.util.Map<String, CaBundle> read = new java.util.HashMap<>();

    CaFiles(String chainFile, String chainPath) {
      this.chainFile = chainFile;
      this.chainPath = chainPath;
    }

    CaBundle bundle(String nodeFile, String nodePath) {
      if (nodeFile != null) {
        return load(nodeFile, nodePath, false);
      }
      if (chainFile != null) {
        return load(chainFile, chainPath, false);
      }
      return load(CaBundle.SYSTEM_BUNDLE, nodePath, true);
    }

    private CaBundle load(String file, String path, boolean system) {
      CaBundle known = read.get(file);
      if (known != null) {
        return known;
      }
      String expect =
          system
              ? "the system CA bundle at "
                  + CaBundle.SYSTEM_BUNDLE
                  + " (Debian/Ubuntu package ca-certificates), or a caFile naming a PEM file of"
                  + " the CAs to trust"
              : "a readable PEM file of CA certificates (-----BEGIN CERTIFICATE-----)";
      String pem;
      try {
        pem = Files.readString(Path.of(file), java.nio.charset.StandardCharsets.ISO_8859_1);
      } catch (IOException | RuntimeException e) {
        throw new ConfigException(
            path, "cannot read " + file + " (" + e.getClass().getSimpleName() + ")", expect);
      }
      if (!pem.contains("-----BEGIN CERTIFICATE-----")) {
        throw new ConfigException(path, file + " holds no PEM certificate", expect);
      }
      CaBundle b = new CaBundle(file, pem, system);
      read.put(file, b);
      return b;
    }
  }

  private static void checkPorts(ServerConfig s, EnvoyConfig e) {
    int[] ports = {s.xdsPort(), s.extProcPort(), s.adminHttpPort(), s.adminGrpcPort()};
    String[] names = {
      "server.xdsPort", "server.extProcPort", "server.adminHttpPort", "server.adminGrpcPort"
    };
    for (int i = 0; i < ports.length; i++) {
      for (int j = i + 1; j < ports.length; j++) {
        if (ports[i] == ports[j] && ports[i] != 0) {
          throw new ConfigException(
              names[j], ports[j] + " is also " + names[i], "a port of its own");
        }
      }
    }
    if (e.listenerPort() == e.adminPort()) {
      throw new ConfigException(
          "envoy.adminPort", e.adminPort() + " is also envoy.listenerPort", "a port of its own");
    }
  }

  static String describe(JsonNode n) {
    if (n == null || n.isMissingNode()) {
      return "missing";
    }
    if (n.isNull()) {
      return "null";
    }
    if (n.isTextual()) {
      return "'" + n.asText() + "'";
    }
    if (n.isArray()) {
      return n.isEmpty() ? "an empty list" : "a list";
    }
    if (n.isObject()) {
      return "a mapping";
    }
    return n.toString();
  }

  /** One YAML mapping plus its path, with typed getters that fail with the path. */
  private static final class Obj {
    final JsonNode node;
    final String path;

    Obj(JsonNode node, String path) {
      this.node = node == null ? YAML.createObjectNode() : node;
      this.path = path;
    }

    String at(String key) {
      return path.isEmpty() ? key : path + "." + key;
    }

    Obj obj(String key) {
      JsonNode n = node.get(key);
      if (n != null && !n.isNull() && !n.isObject()) {
        throw new ConfigException(at(key), describe(n), "a mapping");
      }
      return new Obj(n == null || n.isNull() ? null : n, at(key));
    }

    void allow(String... keys) {
      if (!node.isObject()) {
        throw new ConfigException(path.isEmpty() ? "(file)" : path, describe(node), "a mapping");
      }
      Set<String> allowed = Set.of(keys);
      for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
        String k = it.next();
        if (!allowed.contains(k)) {
          throw new ConfigException(at(k), "unknown key", "one of " + String.join(", ", keys));
        }
      }
    }

    String string(String key, String dflt) {
      JsonNode n = node.get(key);
      if (n == null || n.isNull()) {
        return dflt;
      }
      if (!n.isTextual() || n.asText().isBlank()) {
        throw new ConfigException(at(key), describe(n), "a non-empty string");
      }
      return n.asText();
    }

    String name(String key) {
      String v = string(key, null);
      if (v == null) {
        throw new ConfigException(
            at(key), "missing", "a name of lowercase letters, digits and '-'");
      }
      if (!NAME.matcher(v).matches()) {
        throw new ConfigException(
            at(key), "'" + v + "'", "a name of lowercase letters, digits and '-' (at most 63)");
      }
      return v;
    }

    boolean bool(String key, boolean dflt) {
      JsonNode n = node.get(key);
      if (n == null || n.isNull()) {
        return dflt;
      }
      if (!n.isBoolean()) {
        throw new ConfigException(at(key), describe(n), "true or false");
      }
      return n.booleanValue();
    }

    long integer(String key, long dflt, long min, long max) {
      JsonNode n = node.get(key);
      if (n == null || n.isNull()) {
        return dflt;
      }
      if (!n.isIntegralNumber()
          || !n.canConvertToLong()
          || n.longValue() < min
          || n.longValue() > max) {
        throw new ConfigException(
            at(key), describe(n), "a whole number from " + min + " to " + max);
      }
      return n.longValue();
    }

    int port(String key, int dflt) {
      return (int) integer(key, dflt, 0, 65535);
    }

    Duration duration(String key, Duration dflt, Duration min, Duration max) {
      JsonNode n = node.get(key);
      if (n == null || n.isNull()) {
        return dflt;
      }
      String expect =
          "a duration such as 250ms, 2s or 1m, from "
              + min.toMillis()
              + "ms to "
              + max.toMillis()
              + "ms";
      Matcher m = n.isTextual() ? DURATION.matcher(n.asText().trim()) : null;
      if (m == null || !m.matches()) {
        throw new ConfigException(at(key), describe(n), expect);
      }
      long amount = Long.parseLong(m.group(1));
      Duration d =
          switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(amount);
            case "s" -> Duration.ofSeconds(amount);
            default -> Duration.ofMinutes(amount);
          };
      if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
        throw new ConfigException(at(key), describe(n), expect);
      }
      return d;
    }
  }
}
