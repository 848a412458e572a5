package io.chainroute.config;

import java.util.Locale;
import java.util.Objects;

/**
 * A request header one node needs (an API key, a bearer token), sent by Envoy on every request
 * routed to that node and by chainroute on its probes of it. The value comes from an environment
 * variable and is a secret: {@link #toString()} names the variable, never the value, and nothing
 * chainroute logs, shows on /status or the admin API, or puts in an error message includes it.
 *
 * @param name the header name as configured (HTTP field names are case-insensitive; see {@link
 *     #key()})
 * @param env the environment variable the value was read from; safe to show
 * @param value the header value; a secret
 */
public record NodeHeader(String name, String env, String value) {
  /** {@code env} of the {@code Authorization: Basic} header made from a URL's user info. */
  public static final String FROM_URL = "(user info of the url)";

  public NodeHeader {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(env, "env");
    Objects.requireNonNull(value, "value");
    if (name.isEmpty() || value.isEmpty()) {
      // The value is not part of the message.
      throw new IllegalArgumentException("a node header needs a name and a value: " + name);
    }
  }

  /** The lowercase name: the key for comparisons, Envoy metadata and HTTP/1.1 on the wire. */
  public String key() {
    return name.toLowerCase(Locale.ROOT);
  }

  /** Redacted: records print every field, and the value is a secret. */
  @Override
  public String toString() {
    return FROM_URL.equals(env) ? name + " from the url's user info" : name + " from $" + env;
  }
}
