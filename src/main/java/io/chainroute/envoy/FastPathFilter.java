package io.chainroute.envoy;

import com.google.protobuf.Any;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.chainroute.chain.DataKind;
import io.chainroute.chain.FastPathTable;
import io.chainroute.contract.EnvoyContract;
import io.chainroute.envoy.BootstrapRenderer.Chain;
import io.chainroute.routing.FastPathBounds;
import io.envoyproxy.envoy.config.core.v3.ApiConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.ExtensionConfigSource;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig;
import io.envoyproxy.envoy.extensions.filters.http.lua.v3.Lua;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The in-Envoy fast path ({@code envoy.fastPath}): a stock Lua filter before ext_proc whose tables
 * are compiled from each chain adapter's {@link FastPathTable}. For a call it is certain about it
 * sets the head pool ({@link EnvoyContract#POOL_HEADER} and {@link EnvoyContract#FAST_HEADER}), the
 * dynamic metadata ext_proc would have set, and clears the route cache; the route that matches
 * {@link EnvoyContract#FAST_HEADER} has ext_proc disabled ({@link ChainRoutes}). Every other
 * request passes on untouched. The script finds the chain by the route metadata {@link
 * #METADATA_CHAIN} under the filter's name. Pure.
 */
public final class FastPathFilter {
  private FastPathFilter() {}

  static final String NAME = "envoy.filters.http.lua";

  /** Route metadata key (under {@link #NAME}): the chain whose table the script applies. */
  static final String METADATA_CHAIN = "chain";

  /** Bodies above this are left to ext_proc: scanning them costs more than a side call saves. */
  static final int MAX_BODY = 16 * 1024;

  /** As EvmAdapter: a longer id is not echoed in Envoy's own errors. */
  static final int MAX_ECHO_ID = 256;

  /** The chains with a fast-path table, by name: the tables the script holds. */
  public static Map<String, FastPathTable> tables(
      List<io.chainroute.config.ChainConfig> chains,
      java.util.function.Function<
              io.chainroute.config.ChainConfig, io.chainroute.chain.ChainAdapter>
          adapters) {
    return tables(chains.stream().map(c -> new Chain(c, adapters.apply(c))).toList());
  }

  static Map<String, FastPathTable> tables(List<Chain> chains) {
    Map<String, FastPathTable> out = new TreeMap<>();
    for (Chain c : chains) {
      FastPathTable t = c.adapter().fastPath();
      if (t != null) {
        out.put(c.config().name(), t);
      }
    }
    return out;
  }

  /**
   * The filter for the bootstrap, or null when no chain has a table. Its configuration comes from
   * chainroute over ECDS ({@link #resource}: the same script with each chain's number bounds),
   * delivered on the xDS cluster; until the first arrives, and whenever chainroute is unreachable
   * at Envoy's start, the default applies without waiting: the same tables with no bounds (head
   * tags only). Envoy keeps the last configuration it received; its bounds expire on their own.
   */
  static HttpFilter filter(List<Chain> chains) {
    Map<String, FastPathTable> tables = tables(chains);
    if (tables.isEmpty()) {
      return null;
    }
    return HttpFilter.newBuilder()
        .setName(NAME)
        .setConfigDiscovery(
            ExtensionConfigSource.newBuilder()
                .setConfigSource(
                    ConfigSource.newBuilder()
                        .setResourceApiVersion(ApiVersion.V3)
                        .setApiConfigSource(
                            ApiConfigSource.newBuilder()
                                .setApiType(ApiConfigSource.ApiType.GRPC)
                                .setTransportApiVersion(ApiVersion.V3)
                                .setSetNodeOnFirstMessageOnly(true)
                                .addGrpcServices(
                                    GrpcService.newBuilder()
                                        .setEnvoyGrpc(
                                            GrpcService.EnvoyGrpc.newBuilder()
                                                .setClusterName(EnvoyContract.XDS_CLUSTER)))))
                .setDefaultConfig(Any.pack(lua(tables, Map.of(), 0)))
                .setApplyDefaultConfigWithoutWarming(true)
                .addTypeUrls(TYPE_URL))
        .build();
  }

  /** The filter configuration chainroute sends over ECDS: the tables with these bounds. */
  public static TypedExtensionConfig resource(
      Map<String, FastPathTable> tables, Map<String, FastPathBounds> bounds, long serial) {
    return TypedExtensionConfig.newBuilder()
        .setName(NAME)
        .setTypedConfig(Any.pack(lua(tables, bounds, serial)))
        .build();
  }

  static final String TYPE_URL = "type.googleapis.com/" + Lua.getDescriptor().getFullName();

  private static Lua lua(
      Map<String, FastPathTable> tables, Map<String, FastPathBounds> bounds, long serial) {
    return Lua.newBuilder()
        .setDefaultSourceCode(
            DataSource.newBuilder().setInlineString(script(tables, bounds, serial)))
        .build();
  }

  /** The route metadata that points the script at {@code chain}'s table. */
  static Struct routeMetadata(String chain) {
    return Struct.newBuilder()
        .putFields(METADATA_CHAIN, Value.newBuilder().setStringValue(chain).build())
        .build();
  }

  static String script(
      Map<String, FastPathTable> tables, Map<String, FastPathBounds> bounds, long serial) {
    StringBuilder t = new StringBuilder("{\n");
    java.util.Set<String> tags = new java.util.TreeSet<>();
    tables.forEach(
        (chain, table) -> {
          t.append("  [").append(lua(chain)).append("] = {");
          new TreeMap<>(table.methods())
              .forEach(
                  (m, rule) ->
                      t.append(" [")
                          .append(lua(m))
                          .append("] = { ")
                          .append(rule.position())
                          .append(", ")
                          .append(lua(kind(rule.kind())))
                          .append(", ")
                          .append(rule.numbers())
                          .append(", ")
                          .append(rule.filter())
                          .append(" },"));
          t.append(" },\n");
          tags.addAll(table.tags());
        });
    t.append('}');
    StringBuilder tagTable = new StringBuilder("{");
    tags.forEach(tag -> tagTable.append(" [").append(lua(tag)).append("] = true,"));
    tagTable.append(" }");
    StringBuilder b = new StringBuilder("{\n");
    new TreeMap<>(bounds)
        .forEach(
            (chain, fb) -> {
              if (!tables.containsKey(chain) || fb == null) {
                return;
              }
              b.append("  [").append(lua(chain)).append("] = { ttl = ");
              // Three quarters of the lifetime from when Envoy loads them: the delivery's delay
              // and the refresh at half of it both fit.
              b.append(fb.ttlMillis() * 3 / 4 / 1000);
              b.append(',');
              new java.util.TreeMap<>(fb.ranges())
                  .forEach(
                      (k, r) ->
                          b.append(" [")
                              .append(lua(kind(k)))
                              .append("] = { ")
                              .append(number(r.headFrom()))
                              .append(", ")
                              .append(number(r.archiveTo()))
                              .append(" },"));
              b.append(" },\n");
            });
    b.append('}');
    return template()
        .replace("__TABLES__", t)
        .replace("__TAGS__", tagTable)
        .replace("__BOUNDS__", b)
        .replace("__SERIAL__", Long.toString(serial))
        .replace("__MAX_BODY__", Integer.toString(MAX_BODY))
        .replace("__MAX_ECHO_ID__", Integer.toString(MAX_ECHO_ID))
        .replace("__POOL_HEADER__", EnvoyContract.POOL_HEADER)
        .replace("__FAST_HEADER__", EnvoyContract.FAST_HEADER)
        .replace("__NAMESPACE__", EnvoyContract.METADATA_NAMESPACE);
  }

  private static String kind(DataKind k) {
    return k.name().toLowerCase(java.util.Locale.ROOT);
  }

  /** A bound as a Lua number: exact below 2^53, else infinity of its sign. */
  private static String number(long v) {
    if (v >= 1L << 53) {
      return "math.huge";
    }
    if (v <= -(1L << 53)) {
      return "-math.huge";
    }
    return Long.toString(v);
  }

  /** A Lua string literal (names from config: quotes and backslashes escaped). */
  private static String lua(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20 || c > 0x7e) {
        b.append('\\').append((int) c);
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }

  private static String template() {
    try (InputStream in = FastPathFilter.class.getResourceAsStream("fastpath.lua")) {
      if (in == null) {
        throw new IllegalStateException("fastpath.lua is missing from the classpath");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
