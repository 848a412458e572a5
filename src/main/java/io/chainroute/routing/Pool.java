package io.chainroute.routing;

/** The Envoy cluster family a request goes to: {@code <chain>-head} or {@code <chain>-archive}. */
public enum Pool {
  HEAD("head"),
  ARCHIVE("archive");

  private final String id;

  Pool(String id) {
    this.id = id;
  }

  /** The value of {@code x-chainroute-pool} and the cluster suffix. */
  public String id() {
    return id;
  }
}
