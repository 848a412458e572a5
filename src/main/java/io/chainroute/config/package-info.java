/**
 * Configuration: the YAML file as validated, immutable records. Every error names the path of the
 * bad value and what was expected; a URL is never echoed (it may carry a key). Pure core.
 */
package io.chainroute.config;
