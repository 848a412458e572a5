/**
 * Renders the Envoy bootstrap that pairs with a chainroute configuration (listener, ext_proc
 * filter, routes per chain and pool, ADS). Pure.
 */
package io.chainroute.envoy;
