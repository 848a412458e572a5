package io.chainroute.xds;

import com.google.protobuf.Any;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.contract.EnvoyContract;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.common.mutation_rules.v3.HeaderMutation;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.extensions.filters.http.lua.v3.Lua;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import java.util.ArrayList;
import java.util.List;

/**
 * What Envoy does per node after it picked one, beyond headers: the node's TLS socket, and its
 * URL's path, query and {@code Host}. Pure.
 *
 * <p><b>TLS</b>: one {@code transport_socket_match} per https node, picked by the endpoint's {@code
 * envoy.transport_socket_match: {node: <name>}} metadata; endpoints without it (http nodes) use the
 * cluster's default plaintext socket, so http and https nodes mix in one cluster. Each socket sends
 * the node's host name as SNI and accepts only a certificate that chains to the node's CA bundle
 * and names that host (a SAN matcher: without one Envoy checks the chain but not the name). Chosen
 * over {@code auto_sni}/{@code auto_san_validation}, which take the name from the request's {@code
 * Host} before any rewrite (envoyproxy/envoy#35330), and over {@code auto_host_sni}, which takes
 * the endpoint's hostname, the node's config name in chainroute (per-node stats and /clusters use
 * it); neither mixes plaintext and TLS endpoints in one cluster.
 *
 * <p><b>Path, query and Host</b>: Envoy's header mutation may not touch {@code :path} or {@code
 * :authority}, so the cluster's upstream header mutation copies the chosen endpoint's {@code
 * chainroute.path/query/authority} metadata into {@code x-chainroute-node-*} headers, and an
 * upstream Lua filter moves them into place ({@link NodeConfig#requestPath}'s rule). Retries and
 * hedges run the upstream filters again on the same header map, already rewritten for the previous
 * node: the script keeps the request's own path and Host in dynamic metadata on the first attempt
 * and always starts from those, so no node ever sees another node's path (its key).
 */
final class NodeRequests {
  private NodeRequests() {}

  static final String PATH_HEADER = EnvoyContract.HEADER_PREFIX + "node-path";
  static final String QUERY_HEADER = EnvoyContract.HEADER_PREFIX + "node-query";
  static final String AUTHORITY_HEADER = EnvoyContract.HEADER_PREFIX + "node-authority";

  /** Dynamic metadata namespace where the script keeps the request's own path and Host. */
  static final String SAVED_NAMESPACE = "chainroute.request";

  static final String TLS_MATCH_METADATA = "envoy.transport_socket_match";

  /** The upstream script: {@link NodeConfig#requestPath} in Lua, plus the Host. */
  static final String LUA =
      """
      local SAVED = "%s"
      function envoy_on_request(handle)
        local headers = handle:headers()
        local meta = handle:streamInfo():dynamicMetadata()
        local saved = meta:get(SAVED)
        local path, authority
        if saved == nil then
          path = headers:get(":path") or "/"
          authority = headers:get(":authority") or ""
          meta:set(SAVED, "path", path)
          meta:set(SAVED, "authority", authority)
        else
          path = saved["path"]
          authority = saved["authority"]
        end
        local nodePath = headers:get("%s") or ""
        local nodeQuery = headers:get("%s") or ""
        local nodeAuthority = headers:get("%s")
        headers:remove("%s")
        headers:remove("%s")
        headers:remove("%s")
        local q = string.find(path, "?", 1, true)
        local reqPath = q and string.sub(path, 1, q - 1) or path
        local reqQuery = q and string.sub(path, q + 1) or ""
        local base
        if reqPath == "" or reqPath == "/" then
          base = nodePath ~= "" and nodePath or "/"
        else
          if string.sub(nodePath, -1) == "/" then
            nodePath = string.sub(nodePath, 1, -2)
          end
          base = nodePath .. reqPath
        end
        local query = reqQuery
        if nodeQuery ~= "" then
          query = reqQuery ~= "" and (nodeQuery .. "&" .. reqQuery) or nodeQuery
        end
        headers:replace(":path", query ~= "" and (base .. "?" .. query) or base)
        if nodeAuthority ~= nil and nodeAuthority ~= "" then
          headers:replace(":authority", nodeAuthority)
        elseif authority ~= "" then
          headers:replace(":authority", authority)
        end
      end
      """
          .formatted(
              SAVED_NAMESPACE,
              PATH_HEADER,
              QUERY_HEADER,
              AUTHORITY_HEADER,
              PATH_HEADER,
              QUERY_HEADER,
              AUTHORITY_HEADER);

  /** True when some node of the chain needs its request rewritten (the cluster gets the script). */
  static boolean needed(ChainConfig chain) {
    return chain.nodes().stream().anyMatch(NodeConfig::rewritten);
  }

  /** The header mutations that copy the chosen endpoint's URL parts into the script's headers. */
  static List<HeaderMutation> mutations() {
    List<HeaderMutation> out = new ArrayList<>();
    String[][] parts = {
      {PATH_HEADER, EnvoyContract.METADATA_NODE_PATH},
      {QUERY_HEADER, EnvoyContract.METADATA_NODE_QUERY},
      {AUTHORITY_HEADER, EnvoyContract.METADATA_NODE_AUTHORITY}
    };
    for (String[] p : parts) {
      out.add(HeaderMutation.newBuilder().setRemove(p[0]).build());
      out.add(XdsResources.fromEndpointMetadata(p[0], p[1]));
    }
    return out;
  }

  /** The upstream Lua filter, after the header mutation and before the codec. */
  static HttpFilter filter() {
    return HttpFilter.newBuilder()
        .setName(EnvoyContract.NODE_REQUEST_FILTER)
        .setTypedConfig(
            Any.pack(
                Lua.newBuilder()
                    .setDefaultSourceCode(DataSource.newBuilder().setInlineString(LUA))
                    .build()))
        .build();
  }

  /** The node's URL parts for the script (only the non-empty ones: Envoy skips empty values). */
  static void putMetadata(Struct.Builder chainroute, NodeConfig node) {
    if (!node.rewritten()) {
      return;
    }
    if (!node.rawPath().isEmpty()) {
      chainroute.putFields(EnvoyContract.METADATA_NODE_PATH, string(node.rawPath()));
    }
    if (!node.rawQuery().isEmpty()) {
      chainroute.putFields(EnvoyContract.METADATA_NODE_QUERY, string(node.rawQuery()));
    }
    chainroute.putFields(EnvoyContract.METADATA_NODE_AUTHORITY, string(node.authority()));
  }

  /** The endpoint metadata that picks the node's TLS socket, or null for an http node. */
  static Struct tlsMatch(NodeConfig node) {
    return node.tls()
        ? Struct.newBuilder().putFields(EnvoyContract.TLS_MATCH_KEY, string(node.name())).build()
        : null;
  }

  /** One TLS socket per https node of the chain. */
  static List<Cluster.TransportSocketMatch> tlsMatches(ChainConfig chain) {
    List<Cluster.TransportSocketMatch> out = new ArrayList<>();
    for (NodeConfig n : chain.nodes()) {
      if (n.tls()) {
        out.add(
            Cluster.TransportSocketMatch.newBuilder()
                .setName("tls-" + n.name())
                .setMatch(tlsMatch(n))
                .setTransportSocket(
                    TransportSocket.newBuilder()
                        .setName("envoy.transport_sockets.tls")
                        .setTypedConfig(Any.pack(tlsContext(n))))
                .build());
      }
    }
    return out;
  }

  static UpstreamTlsContext tlsContext(NodeConfig node) {
    String host = node.host();
    boolean ip = !node.hostIsName();
    String bare = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
    CertificateValidationContext.Builder validation =
        CertificateValidationContext.newBuilder()
            .setTrustedCa(
                node.ca().system()
                    // Envoy's own copy of the system bundle; a configured CA file goes inline,
                    // so Envoy needs no copy of it.
                    ? DataSource.newBuilder().setFilename(node.ca().file())
                    : DataSource.newBuilder().setInlineString(node.ca().pem()))
            .addMatchTypedSubjectAltNames(
                SubjectAltNameMatcher.newBuilder()
                    .setSanType(
                        ip
                            ? SubjectAltNameMatcher.SanType.IP_ADDRESS
                            : SubjectAltNameMatcher.SanType.DNS)
                    .setMatcher(StringMatcher.newBuilder().setExact(bare)));
    UpstreamTlsContext.Builder tls =
        UpstreamTlsContext.newBuilder()
            .setCommonTlsContext(
                CommonTlsContext.newBuilder()
                    .setValidationContext(validation)
                    // HTTP/1.1 is what the cluster speaks (XdsResources.protocolOptions).
                    .addAlpnProtocols("http/1.1"));
    if (!ip) {
      // SNI carries names only (RFC 6066 section 3).
      tls.setSni(host);
    }
    return tls.build();
  }

  private static Value string(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }
}
