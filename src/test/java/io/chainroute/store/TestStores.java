package io.chainroute.store;

import io.chainroute.cache.ResponseStore;

/** Stores for tests in other packages. */
public final class TestStores {
  private TestStores() {}

  /** An in-process store of 1 MiB. */
  public static ResponseStore local() {
    return new LocalStore(1024 * 1024);
  }
}
