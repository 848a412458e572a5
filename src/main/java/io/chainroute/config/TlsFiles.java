package io.chainroute.config;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * Checks chainroute's TLS files at load time, so a bad file is a configuration error naming its
 * path rather than a failed handshake later: the certificate chain and CA bundle parse, the key is
 * unencrypted PKCS#8 (what the gRPC server reads) and belongs to the certificate, the certificate
 * is valid now and names the server name Envoy will check. Nothing from a key file ever reaches a
 * message.
 */
final class TlsFiles {
  private static final String PKCS8 = "-----BEGIN PRIVATE KEY-----";

  private TlsFiles() {}

  static void check(
      String certPath,
      Path cert,
      String keyPath,
      Path key,
      String caPath,
      Path ca,
      String serverName) {
    List<X509Certificate> chain = certificates(certPath, cert);
    X509Certificate leaf = chain.get(0);
    Instant now = Instant.now();
    Instant notBefore = leaf.getNotBefore().toInstant();
    Instant notAfter = leaf.getNotAfter().toInstant();
    if (now.isAfter(notAfter) || now.isBefore(notBefore)) {
      throw new ConfigException(
          certPath,
          cert + " is valid from " + notBefore + " to " + notAfter + " only",
          "a certificate valid now");
    }
    if (!names(leaf, serverName)) {
      throw new ConfigException(
          certPath,
          cert + " has no subjectAltName DNS:" + serverName + " (server.tls.serverName)",
          "a certificate for the name Envoy checks; Envoy would refuse this one");
    }
    PrivateKey privateKey = privateKey(keyPath, key);
    if (!matches(privateKey, leaf)) {
      throw new ConfigException(
          keyPath, key + " is not the key of " + cert, "the private key of server.tls.cert");
    }
    certificates(caPath, ca);
  }

  private static String read(String path, Path file) {
    try {
      return Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException | RuntimeException e) {
      throw new ConfigException(path, "cannot read " + file, "a readable PEM file");
    }
  }

  private static List<X509Certificate> certificates(String path, Path file) {
    String pem = read(path, file);
    Collection<? extends java.security.cert.Certificate> certs;
    try {
      certs =
          CertificateFactory.getInstance("X.509")
              .generateCertificates(
                  new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
    } catch (CertificateException e) {
      certs = List.of();
    }
    List<X509Certificate> out = new ArrayList<>();
    for (java.security.cert.Certificate c : certs) {
      out.add((X509Certificate) c);
    }
    if (out.isEmpty()) {
      throw new ConfigException(
          path, file + " holds no certificate", "PEM certificates (-----BEGIN CERTIFICATE-----)");
    }
    return out;
  }

  private static PrivateKey privateKey(String path, Path file) {
    String pem = read(path, file);
    String expect = "an unencrypted PKCS#8 PEM key (" + PKCS8 + "; openssl pkcs8 -topk8 -nocrypt)";
    int start = pem.indexOf(PKCS8);
    int end = pem.indexOf("-----END PRIVATE KEY-----");
    if (start < 0 || end < start) {
      throw new ConfigException(path, file + " holds no PKCS#8 private key", expect);
    }
    byte[] der;
    try {
      der = Base64.getMimeDecoder().decode(pem.substring(start + PKCS8.length(), end).strip());
    } catch (IllegalArgumentException e) {
      throw new ConfigException(path, file + " is not valid PEM", expect);
    }
    for (String algorithm : List.of("RSA", "EC", "Ed25519")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        // not this algorithm; try the next
      }
    }
    throw new ConfigException(path, file + " is not an RSA, EC or Ed25519 key", expect);
  }

  /** Signs with the key and verifies with the certificate: true when they are one pair. */
  private static boolean matches(PrivateKey key, X509Certificate cert) {
    String algorithm =
        switch (key.getAlgorithm()) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          default -> key.getAlgorithm();
        };
    byte[] probe = "chainroute".getBytes(StandardCharsets.US_ASCII);
    try {
      Signature sign = Signature.getInstance(algorithm);
      sign.initSign(key);
      sign.update(probe);
      byte[] signature = sign.sign();
      Signature verify = Signature.getInstance(algorithm);
      verify.initVerify(cert.getPublicKey());
      verify.update(probe);
      return verify.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /**
   * The certificate's DNS subjectAltNames include {@code name} (a leading "*." covers one label).
   */
  private static boolean names(X509Certificate cert, String name) {
    Collection<List<?>> sans;
    try {
      sans = cert.getSubjectAlternativeNames();
    } catch (CertificateException e) {
      return false;
    }
    if (sans == null) {
      return false;
    }
    String want = name.toLowerCase(Locale.ROOT);
    for (List<?> san : sans) {
      // Type 2 is dNSName (RFC 5280 section 4.2.1.6).
      if (san.size() < 2 || !Integer.valueOf(2).equals(san.get(0))) {
        continue;
      }
      String dns = String.valueOf(san.get(1)).toLowerCase(Locale.ROOT);
      if (dns.equals(want)
          || (dns.startsWith("*.")
              && want.indexOf('.') > 0
              && want.substring(want.indexOf('.')).equals(dns.substring(1)))) {
        return true;
      }
    }
    return false;
  }
}
