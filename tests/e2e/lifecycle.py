#!/usr/bin/python3
"""Helpers for tests/e2e/test_lifecycle.sh (loopback only, bounded loops).

  load HOST PORT SECONDS KEY EXPECTED conn|persist
        Look KEY up again and again for SECONDS: a new TCP connection per
        lookup (conn) or one persistent connection that is reopened once
        after a close, the way Postfix's dict_sockmap retries (persist).
        Prints "sent=N ok=N fail=N" and the first failure, if any.
  snapcheck FILE
        Checks an mtasts snapshot the way the daemon must have written it:
        header, a CRC on every line, the end marker last with the right
        record count.  Prints "ok RECORDS" or "bad: WHY".
  snapmake FILE N NOW
        Writes a valid snapshot of N policies s0.snap.test..., fetched at NOW-10.
  idle HOST PORT SECONDS
        Connects and waits; prints "closed after S s" or "still open".
  syslog PATH SECONDS OUT
        A unix datagram socket at PATH (a stand-in /dev/log) that appends
        every message to OUT, for SECONDS.
"""
import os
import socket
import sys
import time
import zlib

MAX_REQUESTS = 200000


def netstring(b):
    return str(len(b)).encode() + b':' + b + b','


def read_reply(sock, deadline):
    buf = b''
    while time.time() < deadline:
        colon = buf.find(b':')
        if colon > 0:
            n = int(buf[:colon])
            if len(buf) >= colon + 1 + n + 1:
                return buf[colon + 1:colon + 1 + n]
        sock.settimeout(max(0.01, deadline - time.time()))
        chunk = sock.recv(4096)
        if not chunk:
            return None
        buf += chunk
    return None


def cmd_load(host, port, seconds, key, expected, mode):
    port, seconds = int(port), float(seconds)
    req = netstring(b'postfix ' + key.encode())
    want = expected.encode()
    sent = ok = bad = 0
    first = ''
    end = time.time() + seconds
    sock = None
    while time.time() < end and sent < MAX_REQUESTS:
        sent += 1
        reply = None
        for attempt in (1, 2):      # Postfix retries once on a fresh connection
            try:
                if sock is None:
                    sock = socket.create_connection((host, port), timeout=5)
                sock.sendall(req)
                reply = read_reply(sock, time.time() + 5)
            except OSError as e:
                reply = None
                err = str(e)
            else:
                err = 'closed'
            if mode == 'conn' or reply is None:
                if sock is not None:
                    sock.close()
                sock = None
            if reply is not None or mode == 'conn':
                break
        if reply == want:
            ok += 1
        else:
            bad += 1
            if not first:
                first = repr(reply) if reply is not None else err
    if sock is not None:
        sock.close()
    print('sent=%d ok=%d fail=%d%s' % (sent, ok, bad, (' first=' + first) if first else ''))


def cmd_snapcheck(path):
    try:
        data = open(path, 'rb').read()
    except OSError as e:
        print('bad: %s' % e)
        return
    lines = data.split(b'\n')
    if lines[0] != b'mtasts-snapshot 1':
        print('bad: header %r' % lines[0][:40])
        return
    if data[-1:] != b'\n':
        print('bad: no final newline')
        return
    records = 0
    for i, line in enumerate(lines[1:-1], 2):
        crc, _, body = line.partition(b' ')
        if len(crc) != 8 or int(crc, 16) != zlib.crc32(body) & 0xffffffff:
            print('bad: checksum on line %d' % i)
            return
        if body.startswith(b'E '):
            if i != len(lines) - 1 or int(body[2:]) != records:
                print('bad: end marker on line %d says %s, %d records' % (i, body[2:], records))
                return
            print('ok %d' % records)
            return
        records += 1
    print('bad: no end marker')


def snapline(body):
    return b'%08x %s\n' % (zlib.crc32(body) & 0xffffffff, body)


def cmd_snapmake(path, n, now):
    n, now = int(n), int(now)
    out = [b'mtasts-snapshot 1\n']
    for i in range(n):
        out.append(snapline(b'P s%d.snap.test id%d enforce 86400 %d mx%d.snap.test *.snap%d.test'
                            % (i, i, now - 10, i, i)))
    out.append(snapline(b'E %d' % n))
    with open(path, 'wb') as f:
        f.write(b''.join(out))


def cmd_idle(host, port, seconds):
    sock = socket.create_connection((host, int(port)), timeout=5)
    start = time.time()
    sock.settimeout(float(seconds))
    try:
        data = sock.recv(10)
    except socket.timeout:
        print('still open')
        return
    except OSError:
        data = b''
    print('closed after %d s' % round(time.time() - start) if not data else 'got data')


def cmd_syslog(path, seconds, out):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)
    end = time.time() + float(seconds)
    with open(out, 'ab') as f:
        while time.time() < end:
            sock.settimeout(max(0.01, end - time.time()))
            try:
                msg = sock.recv(4096)
            except socket.timeout:
                break
            f.write(msg + b'\n')
            f.flush()
    sock.close()
    os.unlink(path)


def main(argv):
    cmds = {'load': cmd_load, 'snapcheck': cmd_snapcheck, 'snapmake': cmd_snapmake,
            'idle': cmd_idle, 'syslog': cmd_syslog}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__)
        return 2
    cmds[argv[1]](*argv[2:])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
