package io.chainroute.config;

import java.nio.file.Path;

/**
 * Mutual TLS between Envoy and chainroute's xDS and ext_proc ports ({@code server.tls}). Both ends
 * of the link are set here: the files chainroute reads, and the files Envoy reads, which {@code
 * chainroute bootstrap} writes into the xDS and ext_proc clusters of the bootstrap.
 *
 * @param cert chainroute's certificate chain (PEM); its subjectAltName holds {@code serverName}
 * @param key chainroute's private key (PKCS#8 PEM, unencrypted)
 * @param clientCa the CA certificates (PEM) an Envoy's client certificate must chain to; a client
 *     without one is refused in the TLS handshake, before any xDS or ext_proc message
 * @param serverName the name Envoy sends as SNI and checks in chainroute's certificate (DNS SAN)
 * @param envoyCert Envoy's client certificate chain, as a path on Envoy's host (not read here)
 * @param envoyKey Envoy's client private key, as a path on Envoy's host (not read here)
 * @param envoyCa the CA certificates Envoy verifies chainroute's certificate with, as a path on
 *     Envoy's host (not read here)
 */
public record ServerTls(
    Path cert,
    Path key,
    Path clientCa,
    String serverName,
    String envoyCert,
    String envoyKey,
    String envoyCa) {

  /** What Envoy sends as SNI and expects in chainroute's certificate unless told otherwise. */
  public static final String DEFAULT_SERVER_NAME = "chainroute";
}
