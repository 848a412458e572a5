package io.chainroute.config;

import java.util.Objects;

/**
 * The certificate authorities an https node's certificate must chain to, for Envoy and for
 * chainroute's own probes alike. Public material (CA certificates), safe to show by its file name.
 *
 * @param file where it was read from: a node's or chain's {@code caFile}, or the system bundle
 * @param pem the PEM text as read (one or more {@code CERTIFICATE} blocks)
 * @param system true for the system bundle (no {@code caFile} configured): Envoy reads its own copy
 *     of the same path; a configured {@code caFile} is sent to Envoy inline over xDS, so Envoy
 *     needs no copy of the file
 */
public record CaBundle(String file, String pem, boolean system) {
  /** Debian's and Ubuntu's bundle of the system's trusted CAs (package ca-certificates). */
  public static final String SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

  public CaBundle {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(pem, "pem");
  }

  /** The file name only: the PEM text is long and says nothing a reader needs. */
  @Override
  public String toString() {
    return (system ? "system CA bundle " : "CA file ") + file;
  }
}
