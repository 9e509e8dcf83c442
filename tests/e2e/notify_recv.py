#!/usr/bin/env python3
"""tests/e2e/notify_recv.py ADDR OUT [PROBE] - stand in for systemd's notify socket.

Binds an AF_UNIX datagram socket at ADDR (a path, or @name for the abstract
namespace), then writes one line per datagram received to OUT:

    <datagram with newlines shown as '|'> <our CLOCK_MONOTONIC in usec> <probe>

where <probe> is "up" or "down": whether a stream connection to the unix
socket PROBE succeeded at the moment the datagram arrived (so a test can
check that READY=1 comes only once the daemon listens), "-" without PROBE.
Prints "bound" on stdout once the socket exists.  Stops after STOPPING=1
or 30 seconds.
"""
import socket
import sys
import time

addr, out = sys.argv[1], sys.argv[2]
probe = sys.argv[3] if len(sys.argv) > 3 else None

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
print("bound", flush=True)
s.settimeout(1.0)
deadline = time.monotonic() + 30
with open(out, "w") as f:
    while time.monotonic() < deadline:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        state = "-"
        if probe:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                c.connect(probe)
                state = "up"
            except OSError:
                state = "down"
            finally:
                c.close()
        text = data.decode("utf-8", "replace").replace("\n", "|")
        f.write("%s %d %s\n" % (text, now, state))
        f.flush()
        if "STOPPING=1" in data.decode("utf-8", "replace").split("\n"):
            break
