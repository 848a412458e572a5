#!/usr/bin/env python3
"""Holds many slow or idle client connections open against an HTTP listener (a fault drill).

    slow_clients.py HOST PORT PATH PARTIAL IDLE HOLD_SECONDS

PARTIAL connections send a POST's headers (Content-Length: 1024) and the first bytes of its body,
then nothing more; IDLE connections send nothing at all. All are held for HOLD_SECONDS, then closed.
Prints, one line each:
    opened=N connectFailed=N openMs=N
    held=N closedByServer=N answeredByServer=N
A separate process because the sockets need their own file-descriptor budget (RLIMIT_NOFILE).
"""
import resource
import select
import socket
import sys
import time

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
partial, idle, hold = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

head = (
    f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    "Content-Length: 1024\r\n\r\n" '{"jsonrpc":"2.0","id":1,'
).encode()
socks, failed = [], 0
start = time.monotonic()
for i in range(partial + idle):
    try:
        s = socket.create_connection((host, port), timeout=5)
        if i < partial:
            s.sendall(head)
        s.setblocking(False)
        socks.append(s)
    except OSError:
        failed += 1
print(f"opened={len(socks)} connectFailed={failed} openMs={int((time.monotonic() - start) * 1000)}", flush=True)

# A readable socket means the server answered (e.g. 408) or closed it (recv returns b"").
poller = select.epoll()
by_fd = {s.fileno(): s for s in socks}
for fd in by_fd:
    poller.register(fd, select.EPOLLIN | select.EPOLLRDHUP)
closed, answered = set(), set()
deadline = time.monotonic() + hold
while time.monotonic() < deadline:
    for fd, _ in poller.poll(0.2):
        s = by_fd[fd]
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if data:
            answered.add(fd)
        else:
            closed.add(fd)
            poller.unregister(fd)
print(f"held={len(socks) - len(closed)} closedByServer={len(closed)} answeredByServer={len(answered)}", flush=True)
for s in socks:
    s.close()
