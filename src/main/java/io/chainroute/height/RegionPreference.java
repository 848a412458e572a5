package io.chainroute.height;

/**
 * Whether an Envoy in {@code region} keeps a pool's traffic in its own region, and why. Computed by
 * {@link RegionPreferences}; the routing plan turns {@code spill} into endpoint priorities.
 *
 * @param region the Envoy's (and its local nodes') region
 * @param archivePool the archive pool (true) or the head pool's full nodes (false)
 * @param spill the region's nodes share the first priority with every other region's, so Envoy
 *     spreads the pool's traffic over all of them by weight, instead of using other regions only
 *     when this one has no usable node
 * @param reason one sentence for /status
 */
public record RegionPreference(String region, boolean archivePool, boolean spill, String reason) {}
