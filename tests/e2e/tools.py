#!/usr/bin/python3
"""Small network helpers for the mtasts end-to-end tests.

Every helper talks to loopback only, inside the test's network namespace
(the caller runs it under `ip netns exec`).  Every loop is bounded in count
and in time.

  send HOST PORT N CHUNK [CHUNK...]
        Connect, write each CHUNK (raw bytes from argv) as a separate write
        with a short pause in between, then read until N netstring replies
        have arrived, the peer closes, or 8 s pass.  Prints the replies
        verbatim, followed by <closed> (EOF before N replies), <timeout> or
        <badreply> (not a netstring).
  framing HOST PORT BAD GOOD
        Two connections A and B.  B sends GOOD and reads the reply, A sends
        BAD and must be closed without a reply, then B sends GOOD again.
        Prints "A=<closed> B=reply1|reply2".
  dnsq SERVER NAME TYPE [tcp]
        One DNS query; prints "rcode=N tc=0|1 an=N" (or "error ...").
  fetch HOSTNAME
        GET https://HOSTNAME/.well-known/mta-sts.txt with the system trust
        store; prints "STATUS TYPE length=N" or "STATUS TYPE chunked", or the
        error (fixture self-check).
  servfail HOST PORT
        A UDP DNS server that answers SERVFAIL to everything (900 s max).
  hang HOST PORT
        A TCP listener that accepts connections and never answers (900 s max).
"""
import os
import random
import select
import socket
import struct
import sys
import time

LIFETIME = 900      # seconds any helper server lives at most
MAX_EVENTS = 100000  # and the most requests/connections it handles


def arg_bytes(s):
    # argv arrives decoded with surrogateescape; this gives back the raw bytes.
    return os.fsencode(s)


def netstrings(buf):
    """Split buf into complete netstrings.

    Returns (list of whole netstrings, rest, ok): ok is False when the data
    cannot be a netstring at all.
    """
    out = []
    pos = 0
    for _ in range(10000):
        colon = buf.find(b':', pos)
        if colon < 0:
            head = buf[pos:]
            return out, head, head.isdigit() or head == b''
        head = buf[pos:colon]
        if not head.isdigit():
            return out, buf[pos:], False
        n = int(head)
        end = colon + 1 + n
        if len(buf) < end + 1:
            return out, buf[pos:], True
        if buf[end:end + 1] != b',':
            return out, buf[pos:], False
        out.append(buf[pos:end + 1])
        pos = end + 1
    return out, buf[pos:], True


def read_replies(sock, want, deadline):
    """Read until `want` netstrings, EOF or deadline. Returns (replies, status)."""
    buf = b''
    for _ in range(100000):
        got, rest, ok = netstrings(buf)
        if not ok:
            return got, '<badreply:%r>' % rest[:60]
        if len(got) >= want:
            return got, ''
        left = deadline - time.monotonic()
        if left <= 0:
            return got, '<timeout>'
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            continue
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b''
        if not data:
            got, rest, _ = netstrings(buf)
            return got, '<closed>'
        buf += data
    return [], '<loop-limit>'


def show(replies):
    return b''.join(replies).decode('latin-1')


def cmd_send(host, port, want, chunks):
    sock = socket.create_connection((host, int(port)), timeout=5)
    for i, chunk in enumerate(chunks):
        if i:
            time.sleep(0.2)
        try:
            sock.sendall(arg_bytes(chunk))
        except (ConnectionResetError, BrokenPipeError):
            break
    replies, status = read_replies(sock, int(want), time.monotonic() + 8)
    print(show(replies) + status)
    sock.close()


def cmd_framing(host, port, bad, good):
    a = socket.create_connection((host, int(port)), timeout=5)
    b = socket.create_connection((host, int(port)), timeout=5)
    b.sendall(arg_bytes(good))
    r1, s1 = read_replies(b, 1, time.monotonic() + 8)
    a.sendall(arg_bytes(bad))
    ra, sa = read_replies(a, 1, time.monotonic() + 5)
    if sa == '' or sa.startswith('<badreply'):
        astate = 'reply:' + show(ra) + sa
    else:
        astate = show(ra) + sa
    b.sendall(arg_bytes(good))
    r2, s2 = read_replies(b, 1, time.monotonic() + 8)
    print('A=%s B=%s|%s' % (astate, show(r1) + s1, show(r2) + s2))


def dns_query(server, name, qtype, tcp):
    types = {'A': 1, 'MX': 15, 'TXT': 16, 'AAAA': 28, 'TLSA': 52}
    qid = random.randrange(65536)
    msg = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip('.').split('.'):
        msg += bytes([len(label)]) + label.encode('ascii')
    msg += b'\0' + struct.pack('>HH', types[qtype], 1)
    if tcp:
        s = socket.create_connection((server, 53), timeout=5)
        s.sendall(struct.pack('>H', len(msg)) + msg)
        data = b''
        for _ in range(1000):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if len(data) >= 2 and len(data) >= 2 + struct.unpack('>H', data[:2])[0]:
                break
        s.close()
        resp = data[2:]
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(msg, (server, 53))
        resp, _ = s.recvfrom(65536)
        s.close()
    rid, flags, _, an, _, _ = struct.unpack('>HHHHHH', resp[:12])
    if rid != qid:
        return 'error id-mismatch'
    return 'rcode=%d tc=%d an=%d' % (flags & 15, (flags >> 9) & 1, an)


def cmd_dnsq(server, name, qtype, tcp=''):
    try:
        print(dns_query(server, name, qtype, tcp == 'tcp'))
    except OSError as exc:
        print('error %s' % exc)


def cmd_fetch(hostname):
    import http.client
    import ssl
    try:
        conn = http.client.HTTPSConnection(hostname, 443, timeout=5,
                                           context=ssl.create_default_context())
        conn.request('GET', '/.well-known/mta-sts.txt')
        resp = conn.getresponse()
        te = resp.getheader('Transfer-Encoding', '')
        body = resp.read()
        how = 'chunked' if te == 'chunked' else 'length=%d' % len(body)
        print('%d %s %s' % (resp.status, resp.getheader('Content-Type'), how))
    except (OSError, http.client.HTTPException) as exc:
        print('error %s' % exc)


def cmd_servfail(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, int(port)))
    s.settimeout(1)
    end = time.monotonic() + LIFETIME
    for _ in range(MAX_EVENTS):
        if time.monotonic() > end:
            break
        try:
            d, peer = s.recvfrom(4096)
        except socket.timeout:
            continue
        if len(d) < 17:
            continue
        p = 12
        for _ in range(128):
            if p >= len(d) or d[p] == 0:
                break
            p += d[p] + 1
        p += 5
        if p > len(d):
            continue
        flags = 0x8000 | ((d[2] & 0x79) << 8) | 0x0080 | 2   # QR, opcode, RD, RA, SERVFAIL
        s.sendto(d[:2] + struct.pack('>HHHHH', flags, 1, 0, 0, 0) + d[12:p], peer)


def cmd_hang(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(128)
    s.settimeout(1)
    held = []
    end = time.monotonic() + LIFETIME
    for _ in range(MAX_EVENTS):
        if time.monotonic() > end:
            break
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        held.append(c)          # never read, never answer, never close
        if len(held) > 1000:
            held.pop(0).close()


def main(argv):
    cmds = {
        'send': lambda a: cmd_send(a[0], a[1], a[2], a[3:]),
        'framing': lambda a: cmd_framing(*a),
        'dnsq': lambda a: cmd_dnsq(*a),
        'fetch': lambda a: cmd_fetch(*a),
        'servfail': lambda a: cmd_servfail(*a),
        'hang': lambda a: cmd_hang(*a),
    }
    if len(argv) < 2 or argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    cmds[argv[1]](argv[2:])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
