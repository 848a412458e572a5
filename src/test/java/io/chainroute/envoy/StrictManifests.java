package io.chainroute.envoy;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.introspect.Annotated;
import com.fasterxml.jackson.databind.introspect.JacksonAnnotationIntrospector;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Decodes Kubernetes manifests strictly into typed models: the fabric8 Kubernetes and Prometheus
 * operator models (generated from the Kubernetes OpenAPI schema and the operator's CRDs), Istio's
 * EnvoyFilter as the records below, and kustomize's Kustomization. A field the type does not have,
 * a key given twice or a value of the wrong type fails the decode.
 *
 * <p>fabric8's classes keep unknown fields in an {@code additionalProperties} map (a Jackson any
 * setter) instead of failing; the introspector here turns every any setter off, so
 * FAIL_ON_UNKNOWN_PROPERTIES sees them. Thread-safe once built.
 */
final class StrictManifests {
  static final ObjectMapper MAPPER = mapper();

  private static ObjectMapper mapper() {
    ObjectMapper m =
        YAMLMapper.builder(
                YAMLFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .annotationIntrospector(
                new JacksonAnnotationIntrospector() {
                  private static final long serialVersionUID = 1L;

                  @Override
                  public Boolean hasAnySetter(Annotated a) {
                    return Boolean.FALSE;
                  }
                })
            .build();
    // As the API server: `replicas: "2"` is not a number, and an unquoted `false` or `8080` is
    // not a string (an annotation or a label value must be quoted).
    for (CoercionInputShape shape :
        List.of(CoercionInputShape.Integer, CoercionInputShape.Float, CoercionInputShape.Boolean)) {
      m.coercionConfigFor(LogicalType.Textual).setCoercion(shape, CoercionAction.Fail);
    }
    m.coercionConfigFor(LogicalType.Integer)
        .setCoercion(CoercionInputShape.String, CoercionAction.Fail);
    m.coercionConfigFor(LogicalType.Boolean)
        .setCoercion(CoercionInputShape.String, CoercionAction.Fail);
    return m;
  }

  /** The kinds deploy/kubernetes holds, by apiVersion and kind. */
  private static final Map<String, Class<?>> KINDS =
      Map.of(
          "v1/Namespace", Namespace.class,
          "v1/ConfigMap", io.fabric8.kubernetes.api.model.ConfigMap.class,
          "v1/Secret", io.fabric8.kubernetes.api.model.Secret.class,
          "v1/Service", Service.class,
          "apps/v1/Deployment", Deployment.class,
          "policy/v1/PodDisruptionBudget", PodDisruptionBudget.class,
          "monitoring.coreos.com/v1/ServiceMonitor", ServiceMonitor.class,
          "networking.istio.io/v1alpha3/EnvoyFilter", EnvoyFilter.class,
          "networking.istio.io/v1beta1/Gateway", Gateway.class);

  private StrictManifests() {}

  /** Every document of a (multi-document) manifest file, each decoded into its kind's type. */
  static List<Object> decode(String yaml) throws IOException {
    List<Object> out = new ArrayList<>();
    try (com.fasterxml.jackson.databind.MappingIterator<JsonNode> values =
        MAPPER.readerFor(JsonNode.class).readValues(yaml)) {
      while (values.hasNextValue()) {
        JsonNode doc = values.nextValue();
        if (doc == null || doc.isNull() || doc.isMissingNode()) {
          continue;
        }
        String key = doc.path("apiVersion").asText() + "/" + doc.path("kind").asText();
        Class<?> type = KINDS.get(key);
        if (type == null) {
          throw new IllegalArgumentException(
              "no model for " + key + " (expected one of " + KINDS.keySet() + ")");
        }
        out.add(MAPPER.treeToValue(doc, type));
      }
    }
    return out;
  }

  static <T> T decode(String yaml, Class<T> type) throws IOException {
    return MAPPER.readValue(yaml, type);
  }

  /** kustomize's Kustomization (kustomize.config.k8s.io/v1beta1), the fields these files use. */
  record Kustomization(
      String apiVersion,
      String kind,
      String namespace,
      List<String> resources,
      List<Generator> configMapGenerator,
      List<Generator> secretGenerator,
      List<Patch> patches,
      List<Image> images) {
    Kustomization {
      resources = resources == null ? List.of() : resources;
      configMapGenerator = configMapGenerator == null ? List.of() : configMapGenerator;
      secretGenerator = secretGenerator == null ? List.of() : secretGenerator;
      patches = patches == null ? List.of() : patches;
      images = images == null ? List.of() : images;
    }
  }

  record Generator(
      String name,
      String behavior,
      List<String> files,
      List<String> envs,
      GeneratorOptions options) {
    Generator {
      files = files == null ? List.of() : files;
      envs = envs == null ? List.of() : envs;
    }
  }

  record GeneratorOptions(Boolean disableNameSuffixHash, Map<String, String> labels) {}

  record Patch(String path) {}

  record Image(String name, String newName, String newTag) {}

  /** Istio's Gateway (networking.istio.io/v1beta1), as {@link EnvoyFilter}: from its reference. */
  record Gateway(
      String apiVersion,
      String kind,
      io.fabric8.kubernetes.api.model.ObjectMeta metadata,
      GatewaySpec spec) {
    record GatewaySpec(Map<String, String> selector, List<Server> servers) {}

    record Server(Port port, List<String> hosts, String bind, String name) {}

    record Port(int number, String name, Protocol protocol, Integer targetPort) {}

    enum Protocol {
      HTTP,
      HTTPS,
      GRPC,
      GRPC_WEB,
      HTTP2,
      MONGO,
      TCP,
      TLS
    }
  }

  /**
   * Istio's EnvoyFilter (networking.istio.io/v1alpha3), the fields of its reference that these
   * files use, with its enums: no Istio model is served to this build, so this is written from the
   * API reference (istio.io, "Envoy Filter"). {@code patch.value} is the Envoy proto; the tests
   * parse it strictly into the type {@code applyTo} names.
   */
  record EnvoyFilter(
      String apiVersion,
      String kind,
      io.fabric8.kubernetes.api.model.ObjectMeta metadata,
      Spec spec) {
    record Spec(WorkloadSelector workloadSelector, List<ConfigPatch> configPatches) {}

    record WorkloadSelector(Map<String, String> labels) {}

    record ConfigPatch(ApplyTo applyTo, Match match, PatchValue patch) {}

    record Match(
        Context context, ListenerMatch listener, RouteConfigurationMatch routeConfiguration) {}

    record ListenerMatch(Integer portNumber, FilterChainMatch filterChain) {}

    record FilterChainMatch(FilterMatch filter) {}

    record FilterMatch(String name, SubFilterMatch subFilter) {}

    record SubFilterMatch(String name) {}

    record RouteConfigurationMatch(
        Integer portNumber, String portName, String gateway, String name) {}

    record PatchValue(Operation operation, JsonNode value) {}

    enum ApplyTo {
      INVALID,
      LISTENER,
      FILTER_CHAIN,
      NETWORK_FILTER,
      HTTP_FILTER,
      ROUTE_CONFIGURATION,
      VIRTUAL_HOST,
      HTTP_ROUTE,
      CLUSTER,
      EXTENSION_CONFIG,
      BOOTSTRAP,
      LISTENER_FILTER
    }

    enum Context {
      ANY,
      SIDECAR_INBOUND,
      SIDECAR_OUTBOUND,
      GATEWAY
    }

    enum Operation {
      INVALID,
      MERGE,
      ADD,
      REMOVE,
      INSERT_BEFORE,
      INSERT_AFTER,
      INSERT_FIRST,
      REPLACE
    }
  }
}
