package io.chainroute.config;

/** Protocol families chainroute has a chain adapter for. */
public enum Protocol {
  /** Ethereum-style JSON-RPC (geth, reth, erigon, anvil, ...). */
  EVM("evm"),
  /** Algorand algod REST v2. */
  ALGORAND("algorand");

  private final String configName;

  Protocol(String configName) {
    this.configName = configName;
  }

  public String configName() {
    return configName;
  }

  /** The config names, for error messages. */
  public static String names() {
    return java.util.Arrays.stream(values())
        .map(Protocol::configName)
        .collect(java.util.stream.Collectors.joining(", "));
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
