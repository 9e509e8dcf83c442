#!/usr/bin/python3
"""Hostile peers for tests/e2e/test_hostile.sh: a DNS server that lies, HTTPS
policy hosts that misbehave, and socketmap clients that abuse the daemon.

Everything talks to 127.0.0.0/8 only, inside the test's network namespace
(the caller runs it under `ip netns exec`).  Every loop is bounded in count
and in time; servers live at most LIFETIME seconds.

  dns LOG IP ALTIP UPSTREAM
        UDP+TCP DNS server on IP:53.  TXT queries for _mta-sts.CASE.dnsx.test
        are answered by the script for CASE (see udp_plan/tcp_plan); every
        other UDP query is relayed to UPSTREAM:53 (dnsmasq).  ALTIP:53 and
        IP:5353 send the forged "wrong source" replies.  One line per query
        and per TCP connection in LOG.
  https LOG PKI MODE:NAME:IP ...
        One TLS (or raw TCP) server per spec on IP:443 for mta-sts.NAME.test,
        certificate PKI/NAME.crt (leaf first, then any intermediates), key
        PKI/leaf.key.  MODE is one of HTTPS_MODES.  When a connection ends,
        one line "NAME mode=M end=HOW ms=N sent=N" goes to LOG; HOW is
        peer-closed (the daemon hung up), done or limit.
  drip HOST PORT DELAY_MS PAYLOAD...
        Send the netstrings of the PAYLOADs one byte per write, then read one
        reply per payload; prints the replies (or <closed>/<timeout>).
  garbage HOST PORT
        Framing attacks, one connection each, while a control connection
        stays open; prints one line "NAME=<closed>" each, then "control=REPLY".
  vanish HOST PORT HOW REQ...
        Open one connection per request, send it, then: close, rst (close
        with SO_LINGER 0) or shutwr (half-close, then read the reply, SM-9).
  crowd HOST PORT N SPACING_MS GOFILE REQ
        Open N idle connections SPACING_MS apart, wait 1 s, print which ones
        the daemon closed; send REQ on every open one and count the right
        replies (REQ's reply must be the same for all); then wait for GOFILE
        to appear (at most 30 s) and print how many are still open.
  warm HOST PORT N REQ
        N connections at once, each sends 15 x REQ and one 1900-byte key in
        a single write and reads the 16 replies; prints "ok=N".
  flood HOST PORT WAIT_S ALTERNATE
        Write requests without reading until the daemon stops reading, wait,
        then read everything (see cmd_flood).
"""
import os
import random
import resource
import select
import socket
import ssl
import struct
import sys
import threading
import time

LIFETIME = 300          # seconds any server here lives at most
MAX_EVENTS = 200000     # loop iterations / connections a server handles
CONN_LIMIT = 20.0       # seconds one HTTPS connection may last


def now_ms():
    return int(time.monotonic() * 1000)


def netstring(b):
    return b'%d:%s,' % (len(b), b)


def log_line(path, text, lock=threading.Lock()):
    with lock:
        with open(path, 'a') as f:
            f.write(text + '\n')


# ---------------------------------------------------------------- DNS

class Query:
    pass


def dns_parse_query(msg):
    """-> Query or None.  Only what a stub sends: one question."""
    if len(msg) < 17:
        return None
    q = Query()
    q.id, q.flags, q.qd = struct.unpack('>HHH', msg[:6])
    if q.qd != 1:
        return None
    p = 12
    labels = []
    for _ in range(128):
        if p >= len(msg):
            return None
        n = msg[p]
        if n == 0:
            p += 1
            break
        if n > 63 or p + 1 + n > len(msg):
            return None
        labels.append(msg[p + 1:p + 1 + n])
        p += 1 + n
    else:
        return None
    if p + 4 > len(msg):
        return None
    q.labels = labels
    q.name = b'.'.join(labels).decode('latin-1').lower()
    q.qtype, q.qclass = struct.unpack('>HH', msg[p:p + 4])
    return q


def wire_name(labels):
    return b''.join(bytes([len(l)]) + l for l in labels) + b'\0'


def txt_rdata(text):
    b = text.encode() if isinstance(text, str) else text
    parts = [b[i:i + 255] for i in range(0, len(b), 255)] or [b'']
    return b''.join(bytes([len(s)]) + s for s in parts)


def rr(rtype, rdata, owner=b'\xc0\x0c'):
    return owner + struct.pack('>HHIH', rtype, 1, 60, len(rdata)) + rdata


def dns_msg(q, rrs=(), rcode=0, qid=None, labels=None, qtype=None, qr=1,
            qdcount=1, tc=0, opcode=0, ancount=None):
    flags = (qr << 15) | (opcode << 11) | (tc << 9) | 0x0100 | 0x0080 | rcode
    an = len(rrs) if ancount is None else ancount
    head = struct.pack('>HHHHHH', q.id if qid is None else qid, flags, qdcount, an, 0, 0)
    question = b''
    if qdcount:
        question = wire_name(q.labels if labels is None else labels) + \
            struct.pack('>HH', q.qtype if qtype is None else qtype, 1)
    return head + question + b''.join(rrs)


def sts(case):
    return 'v=STSv1; id=%s1' % case.replace('-', '')


def good_txt(q, case):
    return dns_msg(q, [rr(16, txt_rdata(sts(case)))])


def case_of(q):
    """CASE for TXT _mta-sts.CASE.dnsx.test, else None."""
    parts = q.name.split('.')
    if q.qtype == 16 and len(parts) == 4 and parts[0] == '_mta-sts' and \
            parts[2:] == ['dnsx', 'test']:
        return parts[1]
    return None


def loop_msg(q):
    """The answer's owner name is a compression pointer to itself."""
    base = dns_msg(q, [], ancount=1)
    off = len(base)
    return base + bytes([0xc0 | off >> 8, off & 0xff]) + struct.pack('>HHIH', 16, 1, 60, 4) + b'\x03abc'


def jumps_msg(q, n=40):
    """A NULL RR whose rdata is a chain of n pointers, each to the one
    before (the first to the question); then a TXT RR owned by the last:
    n + 1 jumps, more than the daemon's cap of 32, none pointing forward."""
    base = dns_msg(q, [], ancount=2)
    start = len(base) + 2 + 10          # rdata of the NULL RR
    ptrs = b'\xc0\x0c'
    for i in range(1, n):
        prev = start + 2 * (i - 1)
        ptrs += bytes([0xc0 | prev >> 8, prev & 0xff])
    last = start + 2 * (n - 1)
    null = rr(10, ptrs)
    txt = rr(16, txt_rdata(sts('jumps')), owner=bytes([0xc0 | last >> 8, last & 0xff]))
    return base + null + txt


def big_udp(q):
    """Over 1232 bytes, TC=0.  Whole, it holds two STSv1 records (no
    policy); only the TCP answer (one record) gives a policy."""
    rrs = [rr(16, txt_rdata(sts('big'))), rr(16, txt_rdata('v=STSv1; id=other1')),
           rr(16, txt_rdata('filler=' + 'f' * 1400))]
    return dns_msg(q, rrs)


def trunc_udp(q):
    """A valid STSv1 RR, then a TXT RR cut in the middle of its rdata."""
    whole = rr(16, txt_rdata('v=spf1 ' + 'x' * 90))
    return dns_msg(q, [rr(16, txt_rdata(sts('trunc'))), whole[:len(whole) // 2]])


def udp_plan(q, case):
    """[(delay s, socket name, message)] for a scripted TXT query."""
    nx = dict(rcode=3)
    if case == 'wrongid':
        return [(0, 'main', dns_msg(q, qid=q.id ^ 0x5a5a, **nx)),
                (0.02, 'main', dns_msg(q, qid=(q.id + 1) & 0xffff, **nx)),
                (0.1, 'main', good_txt(q, case))]
    if case == 'wrongsrc':
        return [(0, 'alt', dns_msg(q, **nx)), (0.02, 'altport', dns_msg(q, **nx)),
                (0.1, 'main', good_txt(q, case))]
    if case == 'wrongq':
        other = [b'_mta-sts', b'other', b'dnsx', b'test']
        return [(0, 'main', dns_msg(q, labels=other, **nx)),
                (0.02, 'main', dns_msg(q, qtype=1, **nx)),
                (0.04, 'main', dns_msg(q, qr=0, **nx)),
                (0.06, 'main', dns_msg(q, opcode=2, **nx)),
                (0.08, 'main', dns_msg(q, qdcount=0, **nx)),
                (0.1, 'main', good_txt(q, case))]
    if case == 'upper':     # 0x20-style case change: still the same question
        return [(0, 'main', dns_msg(q, [rr(16, txt_rdata(sts(case)))],
                                    labels=[l.upper() for l in q.labels]))]
    if case == 'loop':
        return [(0, 'main', loop_msg(q))]
    if case == 'jumps':
        return [(0, 'main', jumps_msg(q))]
    if case == 'big':
        return [(0, 'main', big_udp(q))]
    if case == 'trunc':
        return [(0, 'main', trunc_udp(q))]
    if case in ('tcstall', 'tcpshort'):
        return [(0, 'main', dns_msg(q, tc=1))]
    return [(0, 'main', dns_msg(q, rcode=3))]


def tcp_plan(q, case):
    """bytes to send on the TCP connection, None to stall, b'' to close."""
    if case == 'tcstall':
        return None
    if case == 'tcpshort':
        return b'\x01\x00' + b'\x00' * 20       # says 256 bytes, sends 20, closes
    if case is None:
        msg = dns_msg(q, rcode=2)
    else:
        msg = good_txt(q, case)
    return struct.pack('>H', len(msg)) + msg


def cmd_dns(logpath, ip, altip, upstream):
    def udp(addr, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, port))
        s.setblocking(False)
        return s
    socks = {'main': udp(ip, 53), 'alt': udp(altip, 53), 'altport': udp(ip, 5353)}
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind((ip, 53))
    lst.listen(64)
    lst.setblocking(False)
    timers = []         # (when, socket name, message, destination)
    relays = {}         # upstream socket -> (client address, expiry)
    conns = {}          # tcp socket -> [buffer, accepted at, answered, qname]
    end = time.monotonic() + LIFETIME

    def log(text):
        log_line(logpath, '%.3f %s' % (time.time(), text))

    for _ in range(MAX_EVENTS):
        t = time.monotonic()
        if t > end:
            break
        for item in [x for x in timers if x[0] <= t]:
            timers.remove(item)
            try:
                socks[item[1]].sendto(item[2], item[3])
            except OSError as e:
                log('sendto failed: %s' % e)
        for s in [s for s, (_, exp) in relays.items() if exp < t]:
            s.close()
            del relays[s]
        for c in [c for c, st in conns.items() if t - st[1] > 30]:
            c.close()
            del conns[c]
        wait = 0.5
        if timers:
            wait = max(0, min(wait, min(x[0] for x in timers) - t))
        rlist = [socks['main'], lst] + list(relays) + list(conns)
        r, _, _ = select.select(rlist, [], [], wait)
        for s in r:
            if s is socks['main']:
                try:
                    data, peer = s.recvfrom(4096)
                except OSError:
                    continue
                q = dns_parse_query(data)
                if q is None:
                    continue
                case = case_of(q)
                log('udp %s type=%d id=%d from=%s:%d%s' % (q.name, q.qtype, q.id, peer[0], peer[1],
                                                           '' if case else ' relayed'))
                if case is None:
                    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    up.setblocking(False)
                    try:
                        up.sendto(data, (upstream, 53))
                    except OSError:
                        up.close()
                        continue
                    relays[up] = (peer, t + 5)
                    continue
                for delay, name, msg in udp_plan(q, case):
                    timers.append((t + delay, name, msg, peer))
            elif s is lst:
                try:
                    c, peer = lst.accept()
                except OSError:
                    continue
                c.setblocking(False)
                conns[c] = [b'', t, False, '']
                log('tcp accept from=%s:%d' % peer)
            elif s in relays:
                peer, _ = relays.pop(s)
                try:
                    data = s.recv(65536)
                    socks['main'].sendto(data, peer)
                except OSError:
                    pass
                s.close()
            elif s in conns:
                st = conns[s]
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b''
                if not data:
                    log('tcp closed by the client after %d ms (%s)' % ((t - st[1]) * 1000,
                                                                     st[3] or 'no query'))
                    s.close()
                    del conns[s]
                    continue
                st[0] += data
                if st[2] or len(st[0]) < 2 or len(st[0]) < 2 + struct.unpack('>H', st[0][:2])[0]:
                    continue
                st[2] = True
                q = dns_parse_query(st[0][2:])
                if q is None:
                    continue
                case = case_of(q)
                st[3] = q.name
                log('tcp %s type=%d id=%d' % (q.name, q.qtype, q.id))
                out = tcp_plan(q, case)
                if out is None:
                    continue            # stall: hold the connection
                try:
                    s.sendall(out)
                except OSError:
                    pass
                if case == 'tcpshort':
                    s.close()
                    del conns[s]


# ---------------------------------------------------------------- HTTPS

HTTPS_MODES = ('good', 'hdrflood', 'hdrmany', 'hdrline', 'trickle', 'trickleh',
               'bigclose', 'chunkhuge', 'chunkneg', 'chunklie', 'chunkbig',
               'tlsstall', 'halfhello')


def policy_body(name):
    return ('version: STSv1\nmode: enforce\nmx: mail.%s.test\nmax_age: 86400\n' % name).encode()


class Conn:
    """One accepted connection; tracks bytes sent and whether the daemon
    hung up."""

    def __init__(self, sock, t0):
        self.sock = sock
        self.t0 = t0
        self.sent = 0
        self.gone = False

    def expired(self):
        return time.monotonic() - self.t0 > CONN_LIMIT

    def peer_gone(self, wait):
        """Wait up to `wait` s for the daemon to close; True if it did."""
        if self.gone:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return False
        try:
            r, _, _ = select.select([self.sock], [], [], wait)
        except (OSError, ValueError):
            self.gone = True
            return True
        if not r:
            return False
        try:
            self.sock.settimeout(0.2)
            d = self.sock.recv(4096)
            self.gone = d == b''
        except (ssl.SSLWantReadError, socket.timeout):
            return False
        except (OSError, ssl.SSLError):
            self.gone = True
        return self.gone

    def send(self, data):
        """Send unless the daemon already hung up; False when it did."""
        if self.peer_gone(0):
            return False
        try:
            self.sock.settimeout(5)
            self.sock.sendall(data)
            self.sent += len(data)
            return True
        except (OSError, ssl.SSLError):
            self.gone = True
            return False

    def wait_close(self, limit=CONN_LIMIT):
        end = time.monotonic() + limit
        for _ in range(int(limit * 10) + 1):
            if self.peer_gone(0.1) or time.monotonic() > end or self.expired():
                break
        return self.gone


def read_request(c):
    buf = b''
    end = time.monotonic() + 5
    for _ in range(100):
        if b'\r\n\r\n' in buf or len(buf) > 16384 or time.monotonic() > end:
            break
        try:
            c.sock.settimeout(max(0.1, end - time.monotonic()))
            d = c.sock.recv(4096)
        except (OSError, ssl.SSLError):
            return None
        if not d:
            return None
        buf += d
    return buf


def read_record(sock, limit=5.0):
    """One TLS record from a raw socket (the ClientHello); b'' on failure."""
    buf = b''
    end = time.monotonic() + limit
    for _ in range(200):
        need = 5 if len(buf) < 5 else 5 + struct.unpack('>H', buf[3:5])[0]
        if len(buf) >= need and len(buf) >= 5:
            return buf[:need]
        left = end - time.monotonic()
        if left <= 0:
            return b''
        sock.settimeout(left)
        try:
            d = sock.recv(need - len(buf))
        except OSError:
            return b''
        if not d:
            return b''
        buf += d
    return b''


HEAD_OK = b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n'


def serve(mode, name, c, ctx):
    """Returns how the connection ended."""
    body = policy_body(name)
    if mode in ('tlsstall', 'halfhello'):
        hello = read_record(c.sock)
        if not hello:
            return 'no-client-hello'
        if mode == 'halfhello':
            inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ctx.wrap_bio(inc, out, server_side=True)
            inc.write(hello)
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as e:
                return 'handshake-error:%s' % e.reason
            flight = out.read()
            if len(flight) < 5:
                return 'no-server-hello'
            first = 5 + struct.unpack('>H', flight[3:5])[0]
            c.sock.sendall(flight[:5 + (first - 5) // 2])
            c.sent += 5 + (first - 5) // 2
        # never another byte: wait for the daemon to give up
        c.wait_close()
        return 'peer-closed' if c.gone else 'limit'

    try:
        c.sock.settimeout(5)
        c.sock = ctx.wrap_socket(c.sock, server_side=True)
    except (OSError, ssl.SSLError) as e:
        return 'handshake-failed:%s' % getattr(e, 'reason', e)
    if read_request(c) is None:
        return 'no-request'

    if mode == 'good':
        c.send(HEAD_OK + b'Content-Length: %d\r\nConnection: close\r\n\r\n' % len(body) + body)
    elif mode == 'hdrmany':
        # 100 short fields in a small, finished header section
        c.send(HEAD_OK + b''.join(b'X-%d: y\r\n' % i for i in range(100)) +
               b'Content-Length: %d\r\n\r\n' % len(body) + body)
    elif mode in ('hdrflood', 'hdrline'):
        # endless header section: long lines, or one line
        if c.send(HEAD_OK):
            if mode == 'hdrline':
                c.send(b'X-Endless: ')
            for i in range(5000):
                if mode == 'hdrflood':
                    piece = b''.join(b'X-Flood-%d: %s\r\n' % (5 * i + k, b'a' * 180) for k in range(5))
                else:
                    piece = b'a' * 500
                if not c.send(piece) or c.peer_gone(0.005) or c.expired():
                    break
    elif mode in ('trickle', 'trickleh'):
        # slowloris: one byte a second, the body or the whole head
        head = HEAD_OK + b'Content-Length: %d\r\n\r\n' % len(body)
        if mode == 'trickle':
            data = body
            c.send(head)
        else:
            data = head + body
        for i in range(len(data)):
            if not c.send(data[i:i + 1]) or c.peer_gone(1.0) or c.expired():
                break
    elif mode == 'bigclose':
        # no Content-Length: the body ends at close, and goes past 64 KiB
        pad = b'padding: ' + b'p' * 90 + b'\n'
        data = body + pad * (70 * 1024 // len(pad) + 1)
        if c.send(HEAD_OK + b'Connection: close\r\n\r\n'):
            for i in range(0, len(data), 4096):
                if not c.send(data[i:i + 4096]):
                    break
        if not c.gone:
            try:
                c.sock.settimeout(2)
                c.sock = c.sock.unwrap()       # close_notify: a complete body
            except (OSError, ssl.SSLError, ValueError):
                pass
    elif mode.startswith('chunk'):
        head = HEAD_OK + b'Transfer-Encoding: chunked\r\n\r\n'
        if mode == 'chunkhuge':         # more than 8 hex digits
            data = b'ffffffffffff\r\n' + body + b'\r\n0\r\n\r\n'
        elif mode == 'chunkneg':
            data = b'-1\r\n' + body + b'\r\n0\r\n\r\n'
        elif mode == 'chunklie':        # says 16 bytes, sends the whole body
            data = b'10\r\n' + body + b'\r\n0\r\n\r\n'
        else:                           # chunkbig: 2 GiB announced, 70 KiB sent
            pad = b'padding: ' + b'p' * 90 + b'\n'
            data = b'7fffffff\r\n' + body + pad * (70 * 1024 // len(pad) + 1)
        if c.send(head):
            for i in range(0, len(data), 4096):
                if not c.send(data[i:i + 4096]):
                    break
    else:
        return 'unknown-mode'
    if c.gone:
        return 'peer-closed'
    c.wait_close()
    return 'peer-closed' if c.gone else 'limit'


def cmd_https(logpath, pki, specs):
    servers = []
    for spec in specs:
        mode, name, ip = spec.split(':')
        if mode not in HTTPS_MODES:
            sys.exit('unknown mode ' + mode)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(pki, name + '.crt'), os.path.join(pki, 'leaf.key'))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, 443))
        s.listen(64)
        servers.append((s, mode, name, ctx))

    def handle(sock, mode, name, ctx):
        c = Conn(sock, time.monotonic())
        try:
            how = serve(mode, name, c, ctx)
        except Exception as e:          # a test server must never die silently
            how = 'error:%s' % type(e).__name__
        log_line(logpath, '%s mode=%s end=%s ms=%d sent=%d' % (
            name, mode, how, (time.monotonic() - c.t0) * 1000, c.sent))
        try:
            c.sock.close()
        except OSError:
            pass

    def accept_loop(s, mode, name, ctx):
        s.settimeout(1)
        end = time.monotonic() + LIFETIME
        for _ in range(MAX_EVENTS):
            if time.monotonic() > end:
                break
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=handle, args=(c, mode, name, ctx), daemon=True).start()

    for args in servers:
        threading.Thread(target=accept_loop, args=args, daemon=True).start()
    log_line(logpath, 'ready %d' % len(servers))
    time.sleep(LIFETIME)


# ---------------------------------------------------------------- socketmap clients

def replies(sock, want, limit):
    """Read up to `want` netstrings within `limit` s -> (list, status)."""
    buf = b''
    got = []
    end = time.monotonic() + limit
    for _ in range(10000):
        while True:
            colon = buf.find(b':')
            if colon < 0 or not buf[:colon].isdigit():
                break
            n = int(buf[:colon])
            if len(buf) < colon + n + 2:
                break
            if buf[colon + 1 + n:colon + 2 + n] != b',':
                return got, '<badreply>'
            got.append(buf[:colon + n + 2])
            buf = buf[colon + n + 2:]
        if len(got) >= want:
            return got, ''
        left = end - time.monotonic()
        if left <= 0:
            return got, '<timeout>'
        p = select.poll()               # poll: descriptors may be above 1024
        p.register(sock, select.POLLIN)
        if not p.poll(left * 1000):
            continue
        try:
            d = sock.recv(65536)
        except OSError:
            d = b''
        if not d:
            return got, '<closed>'
        buf += d
    return got, '<loop-limit>'


def show(got, status):
    return b''.join(got).decode('latin-1') + status


def connect(host, port, timeout=5):
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def cmd_drip(host, port, delay_ms, payloads):
    data = b''.join(netstring(os.fsencode(p)) for p in payloads)
    s = connect(host, port)
    for i in range(len(data)):
        try:
            s.sendall(data[i:i + 1])
        except OSError:
            break
        time.sleep(int(delay_ms) / 1000.0)
    print(show(*replies(s, len(payloads), 8)))
    s.close()


GARBAGE = [
    ('len999999999', b'999999999:'),
    ('len20digits', b'99999999999999999999:'),
    ('len10101', b'10101:' + b'a' * 200),
    ('digits4000', b'1' * 4000),
    ('binary', b'\xff' + random.Random(8461).randbytes(4095)),
    ('http', b'GET / HTTP/1.1\r\nHost: mtasts\r\n\r\n'),
    ('tls', b'\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03' + b'\x00' * 40),
    ('nocomma', b'19:postfix enforce.test;'),
    ('sign', b'-1:x,'),
    ('space', b' 5:hello,'),
    ('nul', b'\x00' * 64),
]


def cmd_garbage(host, port):
    ctl = connect(host, port)
    out = []
    for name, data in GARBAGE:
        s = connect(host, port)
        try:
            s.sendall(data)
        except OSError:
            pass
        got, status = replies(s, 1, 3)
        out.append('%s=%s' % (name, show(got, status)))
        s.close()
    ctl.sendall(netstring(b'postfix enforce.test'))
    out.append('control=' + show(*replies(ctl, 1, 5)))
    ctl.close()
    print('\n'.join(out))


def cmd_vanish(host, port, how, reqs):
    out = []
    socks = []
    for r in reqs:
        s = connect(host, port)
        s.sendall(netstring(os.fsencode(r)))
        socks.append(s)
    for s in socks:
        if how == 'rst':
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.close()
        elif how == 'shutwr':
            s.shutdown(socket.SHUT_WR)
            got, status = replies(s, 1, 10)
            # after the reply the daemon closes its side too (SM-9)
            more, st2 = replies(s, 1, 3) if not status else ([], status)
            out.append(show(got, '') + (st2 or '<open>'))
            s.close()
        else:
            s.close()
    print(' '.join(out) if out else 'sent %d' % len(reqs))


def alive(s):
    """Still open?  (A socket with a timeout would wait for data first.)"""
    s.setblocking(False)
    try:
        d = s.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.settimeout(5)
    return d != b''


def ranges(idx):
    """[1,2,3,7] -> '1-3,7'"""
    out = []
    for i in idx:
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return ','.join(('%d' % a) if a == b else '%d-%d' % (a, b) for a, b in out) or '-'


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def cmd_crowd(host, port, n, spacing_ms, gofile, req):
    n = int(n)
    raise_nofile(n + 64)
    socks = []
    end = time.monotonic() + 30
    for i in range(n):
        if time.monotonic() > end:
            break
        try:
            socks.append(connect(host, port, timeout=5))
        except OSError:
            break
        if int(spacing_ms):
            time.sleep(int(spacing_ms) / 1000.0)
    time.sleep(1)
    closed = [i + 1 for i, s in enumerate(socks) if not alive(s)]
    live = [s for s in socks if alive(s)]
    print('opened=%d alive=%d closed=%s' % (len(socks), len(live), ranges(closed)), flush=True)
    # one request on every connection still open, all written first
    want = netstring(os.fsencode(req))
    for s in live:
        try:
            s.sendall(want)
        except OSError:
            pass
    answers = {}
    end = time.monotonic() + 10
    for s in live:
        got, status = replies(s, 1, max(0.1, end - time.monotonic()))
        k = show(got, status)
        answers[k] = answers.get(k, 0) + 1
    print('answers ' + ' '.join('%d x [%s]' % (v, k) for k, v in sorted(answers.items())), flush=True)
    for _ in range(300):
        if os.path.exists(gofile):
            break
        time.sleep(0.1)
    print('still-alive=%d' % sum(1 for s in live if alive(s)), flush=True)
    for s in socks:
        s.close()


def cmd_warm(host, port, n, req):
    n = int(n)
    raise_nofile(n + 64)
    batch = netstring(os.fsencode(req)) * 15 + netstring(b'postfix ' + b'k' * 1892)
    socks = [connect(host, port) for _ in range(n)]
    for s in socks:
        s.sendall(batch)
    ok = 0
    for s in socks:
        got, status = replies(s, 16, 10)
        ok += len(got) == 16
        s.close()
    print('ok=%d' % ok)


def cmd_flood(host, port, wait_s, alternate):
    """A client that writes requests without reading a reply, with a small
    receive buffer, until its writes block because the daemon stopped
    reading (SM-8 backpressure); then it waits WAIT_S seconds and reads
    everything.  With ALTERNATE=1 the requests alternate a cached domain and
    an IP literal (both 24 bytes), so the order of the replies shows; else
    all are the literal.  Prints "sent=N replies=M order=ok|bad END", END
    being <all> (every reply came), <closed> (the daemon hung up) or
    <silent> (2 s without data)."""
    lit = netstring(b'postfix [192.0.2.10]')
    reqs = [netstring(b'postfix enforce.test'), lit] if alternate == '1' else [lit, lit]
    block = b''.join(reqs) * 512
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect((host, int(port)))
    s.setblocking(False)
    p = select.poll()
    p.register(s, select.POLLOUT)
    sent = 0
    end = time.monotonic() + 4
    for _ in range(100000):
        if sent >= 1 << 20 or time.monotonic() > end:
            break
        if not p.poll(500):
            break                       # the daemon stopped reading
        try:
            sent += s.send(block[sent % len(block):])
        except BlockingIOError:
            continue
        except OSError:
            break
    n = sent // len(lit)
    time.sleep(float(wait_s))
    s.setblocking(True)
    buf = b''
    commas = 0                          # one per reply: replies hold none
    status = '<silent>'
    end = time.monotonic() + 40
    for _ in range(1000000):
        if time.monotonic() > end:
            status = '<limit>'
            break
        s.settimeout(2)
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            break
        except OSError:
            d = b''
        if not d:
            status = '<closed>'
            break
        buf += d
        commas += d.count(b',')
        if commas >= n:
            status = '<all>'
            break
    got, pos = [], 0
    for _ in range(len(buf) // 12 + 1):
        colon = buf.find(b':', pos, pos + 8)
        if colon < 0 or not buf[pos:colon].isdigit():
            break
        k = int(buf[pos:colon])
        if len(buf) < colon + k + 2:
            break
        got.append(buf[colon + 1:colon + 1 + k])
        pos = colon + k + 2
    first = b'OK ' if alternate == '1' else b'NOTFOUND'
    order = all(g.startswith(first) == (i % 2 == 0) for i, g in enumerate(got)) \
        if alternate == '1' else all(g == b'NOTFOUND ' for g in got)
    print('sent=%d replies=%d order=%s %s' % (n, len(got), 'ok' if order else 'bad', status))
    s.close()


def main(argv):
    cmds = {
        'dns': lambda a: cmd_dns(*a),
        'https': lambda a: cmd_https(a[0], a[1], a[2:]),
        'drip': lambda a: cmd_drip(a[0], a[1], a[2], a[3:]),
        'garbage': lambda a: cmd_garbage(*a),
        'vanish': lambda a: cmd_vanish(a[0], a[1], a[2], a[3:]),
        'crowd': lambda a: cmd_crowd(*a),
        'warm': lambda a: cmd_warm(*a),
        'flood': lambda a: cmd_flood(*a),
    }
    if len(argv) < 2 or argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    cmds[argv[1]](argv[2:])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
