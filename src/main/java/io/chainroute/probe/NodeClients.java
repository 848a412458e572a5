package io.chainroute.probe;

import io.chainroute.config.CaBundle;
import io.chainroute.config.NodeConfig;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.http.HttpClient;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The JDK HTTP clients chainroute's probes and head subscriptions use: one per CA bundle, trusting
 * exactly the CAs Envoy is told to trust for that node (never the JDK's own cacerts), so a probe
 * and Envoy accept the same certificates. The JDK client sends SNI for a host name and checks the
 * certificate names the host (endpoint identification HTTPS), as Envoy's SAN matcher does.
 *
 * <p>Threading: safe for concurrent use; a client is built on first use and kept.
 */
public final class NodeClients implements Function<NodeConfig, HttpClient> {
  private static final Pattern PEM =
      Pattern.compile("-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\\s]+?)-----END CERTIFICATE-----");

  private final Function<SSLContext, HttpClient> build;
  private final HttpClient plain;
  private final Map<CaBundle, HttpClient> byCa = new ConcurrentHashMap<>();

  /**
   * @param build makes a client (version, timeouts, executor) with the given TLS context, or
   *     without one when given null
   */
  public NodeClients(Function<SSLContext, HttpClient> build) {
    this.build = build;
    this.plain = build.apply(null);
  }

  /** The client for this node's connections. */
  @Override
  public HttpClient apply(NodeConfig node) {
    return node.ca() == null
        ? plain
        : byCa.computeIfAbsent(node.ca(), ca -> build.apply(context(ca)));
  }

  /** A TLS context trusting exactly the bundle's certificates. */
  static SSLContext context(CaBundle ca) {
    try {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      CertificateFactory x509 = CertificateFactory.getInstance("X.509");
      Matcher m = PEM.matcher(ca.pem());
      int n = 0;
      while (m.find()) {
        byte[] der = Base64.getMimeDecoder().decode(m.group(1));
        Certificate cert = x509.generateCertificate(new ByteArrayInputStream(der));
        store.setCertificateEntry("ca-" + n++, cert);
      }
      if (n == 0) {
        throw new IllegalArgumentException(ca + " holds no certificate");
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(store);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, tmf.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException(ca + " is not a usable CA bundle: " + e.getMessage(), e);
    }
  }
}
