/**
 * JSON-RPC 2.0 framing: a streaming parser that keeps each id's raw bytes so replies echo it
 * exactly, and error bodies per the spec. Pure core.
 */
package io.chainroute.jsonrpc;
