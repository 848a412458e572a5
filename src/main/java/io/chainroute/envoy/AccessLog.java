package io.chainroute.envoy;

import com.google.protobuf.Any;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.chainroute.config.EnvoyConfig;
import io.chainroute.contract.EnvoyContract;
import io.envoyproxy.envoy.config.core.v3.SubstitutionFormatString;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Envoy's access log: one JSON object per line and request, written by Envoy's file access logger
 * (to a file or {@code /dev/stdout}, {@code envoy.accessLog}). Each line says which chain, which
 * pool chainroute chose and why (the dynamic metadata ExtProcService sets), which node answered,
 * and how it went. No request path, headers or body: a path or a header may carry a client's key, a
 * body a signed transaction. Pure.
 *
 * <p>A field Envoy has no value for is {@code null}: the pool and reason when ext_proc failed open
 * or chainroute answered itself ({@code details: "chainroute"}), the upstream host when no node was
 * reached.
 */
public final class AccessLog {
  private AccessLog() {}

  static final String LOGGER = "envoy.access_loggers.file";

  /** The line's fields: name to Envoy format operator (Envoy writes them in its own order). */
  public static final Map<String, String> FIELDS = fields();

  private static Map<String, String> fields() {
    Map<String, String> f = new LinkedHashMap<>();
    f.put("time", "%START_TIME%");
    f.put(
        "chain",
        "%METADATA(ROUTE:"
            + EnvoyContract.METADATA_NAMESPACE
            + ":"
            + EnvoyContract.METADATA_CHAIN
            + ")%");
    f.put("pool", dynamic(EnvoyContract.METADATA_POOL));
    f.put("reason", dynamic(EnvoyContract.METADATA_REASON));
    // The cluster the request went to: <chain>-<pool>; with ext_proc failed open, <chain>-head.
    f.put("cluster", "%UPSTREAM_CLUSTER%");
    f.put("upstream_host", "%UPSTREAM_HOST%");
    f.put("method", "%REQ(:METHOD)%");
    f.put("code", "%RESPONSE_CODE%");
    f.put("flags", "%RESPONSE_FLAGS%");
    f.put("details", "%RESPONSE_CODE_DETAILS%");
    f.put("attempts", "%UPSTREAM_REQUEST_ATTEMPT_COUNT%");
    f.put("duration_ms", "%DURATION%");
    f.put("bytes_in", "%BYTES_RECEIVED%");
    f.put("bytes_out", "%BYTES_SENT%");
    return Collections.unmodifiableMap(f);
  }

  private static String dynamic(String key) {
    return "%DYNAMIC_METADATA(" + EnvoyContract.METADATA_NAMESPACE + ":" + key + ")%";
  }

  /** The listener's access log, or null when {@code envoy.accessLog} is off. */
  static io.envoyproxy.envoy.config.accesslog.v3.AccessLog config(EnvoyConfig envoy) {
    if (!envoy.accessLogOn()) {
      return null;
    }
    Struct.Builder json = Struct.newBuilder();
    FIELDS.forEach((k, v) -> json.putFields(k, Value.newBuilder().setStringValue(v).build()));
    return io.envoyproxy.envoy.config.accesslog.v3.AccessLog.newBuilder()
        .setName(LOGGER)
        .setTypedConfig(
            Any.pack(
                FileAccessLog.newBuilder()
                    .setPath(envoy.accessLog())
                    .setLogFormat(SubstitutionFormatString.newBuilder().setJsonFormat(json))
                    .build()))
        .build();
  }
}
