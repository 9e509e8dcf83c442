#!/usr/bin/python3
"""Control-socket helpers for tests/e2e/test_control.sh.  Every loop is
bounded in count and in time.

  cmd PATH LINE...
        Send each LINE (a newline is added) on one connection, read until
        the peer closes or 5 s pass; print what came back.
  longline PATH N
        Send N bytes without a newline; print the answer and "<closed>"
        when the daemon closed the connection.
  stall PATH SECONDS
        Send DUMP and never read; after SECONDS, print "open" or "closed"
        (whether the daemon closed the connection meanwhile).
  idle PATH N SECONDS
        Open N connections, keep them idle for SECONDS, print how many the
        daemon closed.
  fill HOST PORT PREFIX N
        N socketmap lookups PREFIX<i>.test pipelined on one connection;
        print the number of replies.
  jsoncheck FILE
        The JSON dump in FILE: print "DOMAIN mode id nmx fetched expires
        fails failure" per object, sorted.
"""
import json
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s


def read_all(s, limit=5):
    out = b''
    end = time.time() + limit
    while time.time() < end:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            out += b'<reset>'
            break
        if not b:
            out += b'<closed>'
            break
        out += b
    return out


def cmd_cmd(path, lines):
    s = connect(path)
    s.sendall(b''.join(l.encode('latin-1') + b'\n' for l in lines))
    s.shutdown(socket.SHUT_WR)
    sys.stdout.write(read_all(s).decode('latin-1'))


def cmd_longline(path, n):
    s = connect(path)
    try:
        s.sendall(b'A' * n)
    except (BrokenPipeError, ConnectionResetError):
        pass
    sys.stdout.write(read_all(s).decode('latin-1').replace('\n', ' ').strip() + '\n')


def cmd_stall(path, secs):
    s = connect(path)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b'DUMP\n')
    time.sleep(secs)
    # a closed connection shows EOF after whatever was buffered
    s.settimeout(0.5)
    state = 'open'
    try:
        for _ in range(100000):
            b = s.recv(1 << 20)
            if not b:
                state = 'closed'
                break
    except socket.timeout:
        pass
    except ConnectionResetError:
        state = 'closed'
    print(state)


def cmd_idle(path, n, secs):
    socks = [connect(path) for _ in range(n)]
    time.sleep(secs)
    closed = 0
    for s in socks:
        s.settimeout(0.2)
        try:
            if s.recv(100) == b'':
                closed += 1
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed += 1
    print(closed)


def cmd_fill(host, port, prefix, n):
    s = socket.create_connection((host, port), timeout=30)
    req = b''
    for i in range(n):
        p = b'postfix %s%d.test' % (prefix.encode(), i)
        req += b'%d:%s,' % (len(p), p)
    s.sendall(req)
    got = 0
    buf = b''
    end = time.time() + 60
    while got < n and time.time() < end:
        b = s.recv(65536)
        if not b:
            break
        buf += b
        got = buf.count(b',')
    print(got)


def cmd_jsoncheck(path):
    with open(path) as f:
        doc = json.load(f)
    rows = []
    for o in doc:
        rows.append('%s %s %s %d %s %s %s %s' % (
            o['domain'], o['mode'], o['id'], len(o['mx']),
            'yes' if isinstance(o['fetched'], int) else o['fetched'],
            o['expires'] - o['fetched'] if isinstance(o['expires'], int) else None,
            o['fails'], o['failure']))
    print('\n'.join(sorted(rows)))


def main(argv):
    c = argv[1]
    if c == 'cmd':
        cmd_cmd(argv[2], argv[3:])
    elif c == 'longline':
        cmd_longline(argv[2], int(argv[3]))
    elif c == 'stall':
        cmd_stall(argv[2], float(argv[3]))
    elif c == 'idle':
        cmd_idle(argv[2], int(argv[3]), float(argv[4]))
    elif c == 'fill':
        cmd_fill(argv[2], int(argv[3]), argv[4], int(argv[5]))
    elif c == 'jsoncheck':
        cmd_jsoncheck(argv[2])
    else:
        sys.exit('unknown command ' + c)


if __name__ == '__main__':
    main(sys.argv)
