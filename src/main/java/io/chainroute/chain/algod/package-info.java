/**
 * The Algorand algod adapter: round tracking through /v2/status and its wait-for-block-after long
 * poll, and path-based request classification (protocols.md part A). Pure core, stateless.
 */
package io.chainroute.chain.algod;
