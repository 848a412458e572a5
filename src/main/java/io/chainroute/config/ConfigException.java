package io.chainroute.config;

/**
 * A configuration error. The message always starts with the path of the offending value ({@code
 * chains[1].nodes[0].url}) and ends with what was expected, so an operator can fix the file without
 * reading code.
 */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String path, String problem, String expectation) {
    super(path + ": " + problem + " (expected: " + expectation + ")");
  }

  public ConfigException(String message) {
    super(message);
  }
}
