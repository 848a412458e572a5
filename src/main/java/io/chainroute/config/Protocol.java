package io.chainroute.config;

/** Protocol families chainroute has a chain adapter for. */
public enum Protocol {
  EVM("evm");

  private final String configName;

  Protocol(String configName) {
    this.configName = configName;
  }

  public String configName() {
    return configName;
  }

  public static Protocol fromConfigName(String name) {
    for (Protocol p : values()) {
      if (p.configName.equals(name)) {
        return p;
      }
    }
    return null;
  }
}
