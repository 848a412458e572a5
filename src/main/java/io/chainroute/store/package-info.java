/**
 * Storage engines behind {@link io.chainroute.cache.ResponseStore}: an edge (it imports Caffeine),
 * chosen and wired by the composition root.
 */
package io.chainroute.store;
