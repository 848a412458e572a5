package io.chainroute;

import io.chainroute.adapters.ChainAdapters;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigException;
import io.chainroute.config.ConfigLoader;
import io.chainroute.envoy.BootstrapRenderer;
import io.chainroute.envoy.IstioFilters;
import io.chainroute.xds.XdsResources;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Command line entry point.
 *
 * <pre>
 * chainroute run --config FILE                 run the sidecar (default command)
 * chainroute bootstrap --config FILE [--node-id ID] [--out FILE] [--eds-only]
 * chainroute istio --config FILE [--namespace NS] [--gateway-label L] [--host H] [--out FILE]
 *                                              print the Envoy bootstrap for FILE
 * </pre>
 *
 * Exit codes: 0 ok, 1 runtime failure (e.g. a port already in use), 2 bad usage or configuration.
 */
public final class Main {
  /**
   * grpc-netty logs (java.util.logging, WARNING) every write to a stream the peer already reset.
   * Envoy resets ext_proc streams as a matter of course (after an ImmediateResponse, on a message
   * timeout, when the client goes away), so under load this floods the log with stack traces that
   * say nothing. Held here so the setting is not garbage-collected with the logger.
   */
  private static final java.util.logging.Logger NETTY_HANDLER_LOG =
      java.util.logging.Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler");

  private Main() {}

  public static void main(String[] args) {
    NETTY_HANDLER_LOG.setLevel(java.util.logging.Level.SEVERE);
    int code = run(args);
    if (code >= 0) {
      System.exit(code);
    }
  }

  /**
   * Runs the command; returns an exit code, or -1 when the sidecar is running in the background.
   */
  static int run(String[] args) {
    List<String> rest = new ArrayList<>(List.of(args));
    String command = "run";
    if (!rest.isEmpty() && !rest.get(0).startsWith("-")) {
      command = rest.remove(0);
    }
    String configPath = null;
    String nodeId = "envoy";
    String out = null;
    boolean edsOnly = false;
    String namespace = "istio-system";
    String gatewayLabel = "ingressgateway";
    String host = "*";
    for (int i = 0; i < rest.size(); i++) {
      String a = rest.get(i);
      switch (a) {
        case "-h", "--help" -> {
          System.out.println(usage());
          return 0;
        }
        case "--eds-only" -> edsOnly = true;
        case "--config", "--node-id", "--out", "--namespace", "--gateway-label", "--host" -> {
          if (i + 1 >= rest.size()) {
            return usageError(a + " needs a value");
          }
          String v = rest.get(++i);
          switch (a) {
            case "--config" -> configPath = v;
            case "--node-id" -> nodeId = v;
            case "--namespace" -> namespace = v;
            case "--gateway-label" -> gatewayLabel = v;
            case "--host" -> host = v;
            default -> out = v;
          }
        }
        default -> {
          return usageError("unknown argument: " + a);
        }
      }
    }
    if (configPath == null) {
      return usageError("--config FILE is required");
    }
    ChainrouteConfig config;
    try {
      config =
          "bootstrap".equals(command) || "istio".equals(command)
              ? ConfigLoader.loadForBootstrap(Path.of(configPath))
              : ConfigLoader.load(Path.of(configPath));
    } catch (ConfigException e) {
      System.err.println("chainroute: invalid configuration " + configPath + ": " + e.getMessage());
      return 2;
    }
    switch (command) {
      case "run" -> {
        try {
          Sidecar sidecar = Sidecar.start(config);
          sidecar.configFile(Path.of(configPath));
          Runtime.getRuntime().addShutdownHook(new Thread(sidecar::close, "chainroute-shutdown"));
          onSighup(sidecar);
          sidecar.awaitClosed();
          return -1;
        } catch (IOException e) {
          System.err.println("chainroute: could not start: " + e.getMessage());
          return 1;
        }
      }
      case "bootstrap", "istio" -> {
        String yaml;
        if ("istio".equals(command)) {
          yaml =
              IstioFilters.render(
                  config,
                  ChainAdapters::forChain,
                  XdsResources.clusters(config.chains(), config.envoy()),
                  namespace,
                  gatewayLabel,
                  host);
        } else if (edsOnly) {
          yaml =
              BootstrapRenderer.renderEdsOnly(
                  config,
                  nodeId,
                  ChainAdapters::forChain,
                  XdsResources.clusters(config.chains(), config.envoy()));
        } else {
          yaml = BootstrapRenderer.render(config, nodeId, ChainAdapters::forChain);
        }
        if (out == null) {
          System.out.print(yaml);
          return 0;
        }
        try {
          Files.writeString(Path.of(out), yaml);
          return 0;
        } catch (IOException e) {
          System.err.println("chainroute: could not write " + out + ": " + e.getMessage());
          return 1;
        }
      }
      default -> {
        return usageError("unknown command: " + command);
      }
    }
  }

  /**
   * SIGHUP re-reads the configuration file and applies it (the outcome is logged). Uses the JDK's
   * {@code sun.misc.Signal} (module jdk.unsupported, present in every HotSpot build): there is no
   * supported API for signals. It is reached reflectively so the build can keep {@code -Werror}
   * (javac's warning on {@code sun.*} use cannot be suppressed). Where it is missing, SIGHUP keeps
   * its default and the admin call is the way to reload.
   */
  private static void onSighup(Sidecar sidecar) {
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handler = Class.forName("sun.misc.SignalHandler");
      Object onSignal =
          Proxy.newProxyInstance(
              handler.getClassLoader(),
              new Class<?>[] {handler},
              (proxy, method, args) -> {
                if (method.getName().equals("handle")) {
                  sidecar.reload();
                }
                return null;
              });
      signal
          .getMethod("handle", signal, handler)
          .invoke(null, signal.getConstructor(String.class).newInstance("HUP"), onSignal);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      System.err.println(
          "chainroute: SIGHUP reload is not available here (" + e + "); use POST /config/reload");
    }
  }

  private static int usageError(String problem) {
    System.err.println("chainroute: " + problem + "\n" + usage());
    return 2;
  }

  private static String usage() {
    return """
        usage: chainroute [run] --config FILE
               chainroute bootstrap --config FILE [--node-id ID] [--out FILE] [--eds-only]
                 --eds-only: static listener, routes and clusters; endpoints over EDS only
               chainroute istio --config FILE [--namespace NS] [--gateway-label L] [--host H]
                 [--out FILE]: EnvoyFilters for an Istio ingress gateway (istio: L, default
                 ingressgateway, in NS, default istio-system; routes for host H, default *)""";
  }
}
