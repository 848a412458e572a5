/**
 * Test fixtures shared across packages: fakes of the parts chainroute talks to (a loopback HTTP
 * node that records what it was sent). Test scope only.
 */
package io.chainroute.testing;
