package io.chainroute.envoy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.contract.EnvoyContract;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * {@code chainroute istio}: the Istio {@code EnvoyFilter} resources (networking.istio.io/v1alpha3)
 * that put chainroute into an Istio ingress gateway (issue 12 item 2). istiod keeps the gateway's
 * ADS stream; these patches add what the bootstrap holds elsewhere:
 *
 * <ol>
 *   <li>{@code chainroute-clusters}: CLUSTER ADD of chainroute's xDS and ext_proc clusters and of
 *       every chain cluster, each taking its endpoints from chainroute over EDS (EDS-only mode);
 *   <li>{@code chainroute-filters}: on the gateway's HTTP connection managers, client-sent routing
 *       headers stripped before routing (NETWORK_FILTER MERGE), then the decompressor, buffer,
 *       optional rate limit and ext_proc filters inserted before the router (HTTP_FILTER
 *       INSERT_BEFORE, in that order);
 *   <li>{@code chainroute-routes}: VIRTUAL_HOST ADD of chainroute's routes (by path prefix and pool
 *       header) for the RPC host name.
 * </ol>
 *
 * Each {@code patch.value} is an Envoy proto printed by protobuf's JSON printer, so it parses back
 * strictly into its type (tested). Pure; the chain clusters come from the composition root.
 */
public final class IstioFilters {
  static final String API_VERSION = "networking.istio.io/v1alpha3";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ObjectMapper YAML =
      new ObjectMapper(
          YAMLFactory.builder()
              .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
              .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
              .build());

  private IstioFilters() {}

  /**
   * The EnvoyFilters as one multi-document YAML file for {@code kubectl apply -f}.
   *
   * @param namespace where the gateway runs (an EnvoyFilter applies to workloads of its namespace)
   * @param gatewayLabel the gateway pods' {@code istio} label ({@code ingressgateway} by default)
   * @param host the RPC host name the added virtual host answers ({@code *}: every name; it must
   *     not be a host a Gateway server already lists on that port)
   * @param chainClusters the clusters chainroute serves over CDS in ADS mode
   */
  public static String render(
      ChainrouteConfig config,
      Function<ChainConfig, ChainAdapter> adapters,
      List<Cluster> chainClusters,
      String namespace,
      String gatewayLabel,
      String host) {
    List<BootstrapRenderer.Chain> chains =
        config.chains().stream()
            .map(c -> new BootstrapRenderer.Chain(c, adapters.apply(c)))
            .toList();

    List<ObjectNode> clusters = new ArrayList<>();
    for (Cluster c : BootstrapRenderer.sidecarClusters(config, chains)) {
      clusters.add(patch("CLUSTER", context(), "ADD", c));
    }
    for (Cluster c : chainClusters) {
      clusters.add(patch("CLUSTER", context(), "ADD", BootstrapRenderer.edsFromChainroute(c)));
    }

    List<ObjectNode> filters = new ArrayList<>();
    var strip =
        io.envoyproxy.envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation
            .newBuilder();
    EnvoyContract.ROUTING_HEADERS.forEach(
        h ->
            strip.addMutations(
                io.envoyproxy.envoy.config.common.mutation_rules.v3.HeaderMutation.newBuilder()
                    .setRemove(h)));
    HttpConnectionManager stripOnly =
        HttpConnectionManager.newBuilder()
            .addEarlyHeaderMutationExtensions(
                BootstrapRenderer.extension("chainroute.strip_routing_headers", strip.build()))
            .build();
    ObjectNode hcmMatch = context();
    hcmMatch.putObject("listener").putObject("filterChain").putObject("filter").put("name", HCM);
    filters.add(patchTyped("NETWORK_FILTER", hcmMatch, "MERGE", HCM, stripOnly));
    List<HttpFilter> http = new ArrayList<>();
    http.add(BootstrapRenderer.decompressorFilter());
    http.add(BootstrapRenderer.bufferFilter(config.server().maxRequestBytes()));
    if (config.envoy().maxRequestsPerSecond() > 0) {
      http.add(BootstrapRenderer.rateLimitFilter(config.envoy().maxRequestsPerSecond()));
    }
    http.add(BootstrapRenderer.extProcFilter(config.envoy()));
    for (HttpFilter f : http) {
      ObjectNode match = context();
      ObjectNode filter = match.putObject("listener").putObject("filterChain").putObject("filter");
      filter.put("name", HCM);
      filter.putObject("subFilter").put("name", "envoy.filters.http.router");
      filters.add(patch("HTTP_FILTER", match, "INSERT_BEFORE", f));
    }

    VirtualHost vhost =
        ChainRoutes.config(config.envoy(), chains).getVirtualHosts(0).toBuilder()
            .setName("chainroute")
            .clearDomains()
            .addDomains(host)
            .build();
    ObjectNode routeMatch = context();
    routeMatch.putObject("routeConfiguration").put("portNumber", config.envoy().listenerPort());
    List<ObjectNode> routes = List.of(patch("VIRTUAL_HOST", routeMatch, "ADD", vhost));

    List<ObjectNode> docs =
        List.of(
            envoyFilter("chainroute-clusters", namespace, gatewayLabel, clusters),
            envoyFilter("chainroute-filters", namespace, gatewayLabel, filters),
            envoyFilter("chainroute-routes", namespace, gatewayLabel, routes));
    StringBuilder out =
        new StringBuilder(
            "# Istio EnvoyFilters for chainroute in an ingress gateway, rendered by `chainroute"
                + " istio`.\n# Edit the chainroute config, not this file.\n");
    try {
      for (ObjectNode d : docs) {
        out.append("---\n").append(YAML.writeValueAsString(d));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  static final String HCM = "envoy.filters.network.http_connection_manager";

  private static ObjectNode envoyFilter(
      String name, String namespace, String gatewayLabel, List<ObjectNode> patches) {
    ObjectNode r = JSON.createObjectNode();
    r.put("apiVersion", API_VERSION);
    r.put("kind", "EnvoyFilter");
    ObjectNode meta = r.putObject("metadata");
    meta.put("name", name);
    meta.put("namespace", namespace);
    ObjectNode spec = r.putObject("spec");
    spec.putObject("workloadSelector").putObject("labels").put("istio", gatewayLabel);
    ArrayNode list = spec.putArray("configPatches");
    patches.forEach(list::add);
    return r;
  }

  private static ObjectNode context() {
    ObjectNode m = JSON.createObjectNode();
    m.put("context", "GATEWAY");
    return m;
  }

  private static ObjectNode patch(String applyTo, ObjectNode match, String operation, Message v) {
    ObjectNode p = JSON.createObjectNode();
    p.put("applyTo", applyTo);
    p.set("match", match);
    ObjectNode patch = p.putObject("patch");
    patch.put("operation", operation);
    patch.set("value", json(v));
    return p;
  }

  /** A patch whose value is a filter {@code {name, typed_config}} around {@code config}. */
  private static ObjectNode patchTyped(
      String applyTo, ObjectNode match, String operation, String name, Message config) {
    ObjectNode p = patch(applyTo, match, operation, config);
    ObjectNode value = JSON.createObjectNode();
    value.put("name", name);
    ObjectNode typed = (ObjectNode) p.get("patch").get("value");
    ObjectNode withType = JSON.createObjectNode();
    withType.put("@type", "type.googleapis.com/" + config.getDescriptorForType().getFullName());
    withType.setAll(typed);
    value.set("typed_config", withType);
    ((ObjectNode) p.get("patch")).set("value", value);
    return p;
  }

  private static JsonNode json(Message m) {
    try {
      return JSON.readTree(
          JsonFormat.printer()
              .usingTypeRegistry(BootstrapRenderer.TYPES)
              .preservingProtoFieldNames()
              .sortingMapKeys()
              .print(m));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("an Any type is missing from TYPES", e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
