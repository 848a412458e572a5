/**
 * The command line ({@link io.chainroute.Main}) and the composition root ({@link
 * io.chainroute.Sidecar}), which wires the pure core to the edges and owns every thread and socket.
 */
package io.chainroute;
