#!/usr/bin/python3
"""HTTP clients for tests/e2e/test_metrics.sh, polite and hostile.

Run inside the test's network namespace; every loop is bounded in count
and in time.

  scrape HOST PORT
        GET /metrics; checks the response (200, Content-Type text/plain
        version 0.0.4, Content-Length, Connection: close) and parses the body
        strictly as Prometheus text exposition format 0.0.4: every sample
        line is `name{label="value",...} value`, every name has exactly one
        HELP and one TYPE line before its samples, a family's samples are
        together, counters end in _total, no series twice, no blank lines.
        Prints one `name{labels} value` line per sample, sorted, or
        `ERROR why` lines.
  get HOST PORT REQUEST
        Sends REQUEST (Python escapes such as \\r\\n are decoded), reads the
        answer; prints its status code, or <closed> / <timeout>.
  slow HOST PORT SECONDS
        Slowloris: sends a valid request head one byte every 0.5 s; prints
        `status CODE after MS ms` or `closed after MS ms` for what the daemon
        did (at most SECONDS).
  huge HOST PORT BYTES
        A request line of BYTES bytes, written as fast as the daemon reads;
        prints the status code or what happened.
  garbage HOST PORT BYTES
        BYTES random binary bytes (fixed seed); prints the status code.
  idle HOST PORT N SECONDS
        Opens N connections that send nothing and holds them for SECONDS;
        prints how many the daemon closed meanwhile.
  smidle HOST PORT N SECONDS
        The same against the socketmap port.
"""
import random
import re
import socket
import sys
import time

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^(%s)(\{%s(?:,%s)*\})? ([^ ]+)$' % (NAME, LABEL, LABEL))
HELP = re.compile(r'^# HELP (%s) (.*)$' % NAME)
TYPE = re.compile(r'^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$' % NAME)


def value_ok(v):
    if v in ('NaN', '+Inf', '-Inf'):
        return True
    try:
        float(v)
        return True
    except ValueError:
        return False


def parse_exposition(text):
    """Returns (samples {series: value}, errors)."""
    errors = []
    helps, types, samples, done = {}, {}, {}, set()
    current = None
    if not text.endswith('\n'):
        errors.append('no newline at the end')
    for n, line in enumerate(text.split('\n')[:-1], 1):
        if line == '':
            errors.append('line %d: blank line' % n)
            continue
        m = HELP.match(line)
        if m:
            if m.group(1) in helps:
                errors.append('line %d: second HELP for %s' % (n, m.group(1)))
            if m.group(1) in done or m.group(1) in types:
                errors.append('line %d: HELP for %s after its TYPE or samples' % (n, m.group(1)))
            helps[m.group(1)] = m.group(2)
            continue
        m = TYPE.match(line)
        if m:
            if m.group(1) in types:
                errors.append('line %d: second TYPE for %s' % (n, m.group(1)))
            if m.group(1) in done:
                errors.append('line %d: TYPE for %s after its samples' % (n, m.group(1)))
            types[m.group(1)] = m.group(2)
            continue
        if line.startswith('#'):
            errors.append('line %d: unknown comment %r' % (n, line))
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append('line %d: not a sample line: %r' % (n, line))
            continue
        name, labels, value = m.group(1), m.group(2) or '', m.group(3)
        if name not in helps or name not in types:
            errors.append('line %d: %s without HELP and TYPE before it' % (n, name))
        if types.get(name) == 'counter' and not name.endswith('_total'):
            errors.append('line %d: counter %s does not end in _total' % (n, name))
        if not name.startswith('mtasts_'):
            errors.append('line %d: %s lacks the mtasts_ prefix' % (n, name))
        if name != current and name in done:
            errors.append('line %d: samples of %s are not together' % (n, name))
        current = name
        done.add(name)
        if not value_ok(value):
            errors.append('line %d: bad value %r' % (n, value))
        series = name + labels
        if series in samples:
            errors.append('line %d: %s twice' % (n, series))
        samples[series] = value
    for name in set(helps) | set(types):
        if name not in done:
            errors.append('%s has HELP/TYPE but no sample' % name)
    return samples, errors


def connect(host, port, timeout=5.0):
    s = socket.create_connection((host, int(port)), timeout=timeout)
    return s


def read_all(s, deadline):
    data = b''
    while time.time() < deadline:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            return data, 'timeout'
        except ConnectionResetError:
            return data, 'reset'
        if not b:
            return data, 'closed'
        data += b
        if len(data) > 1 << 20:
            return data, 'toolong'
    return data, 'timeout'


def status_of(data, how):
    m = re.match(rb'HTTP/1\.1 (\d{3}) ', data)
    return m.group(1).decode() if m else '<%s>' % how


def cmd_scrape(host, port):
    s = connect(host, port)
    s.sendall(b'GET /metrics HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: e2e\r\n\r\n'
              % (host.encode(), port.encode()))
    data, how = read_all(s, time.time() + 5)
    s.close()
    head, sep, body = data.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    errors = []
    if not sep:
        print('ERROR no complete response (%s): %r' % (how, data[:200]))
        return 1
    if lines[0] != b'HTTP/1.1 200 OK':
        errors.append('status line %r' % lines[0])
    fields = {}
    for l in lines[1:]:
        k, _, v = l.partition(b':')
        fields[k.strip().lower()] = v.strip()
    if fields.get(b'content-type') != b'text/plain; version=0.0.4; charset=utf-8':
        errors.append('content-type %r' % fields.get(b'content-type'))
    if fields.get(b'connection') != b'close':
        errors.append('connection %r' % fields.get(b'connection'))
    if fields.get(b'content-length') != str(len(body)).encode():
        errors.append('content-length %r, body %d bytes' % (fields.get(b'content-length'), len(body)))
    if how != 'closed':
        errors.append('connection not closed after the response (%s)' % how)
    samples, perr = parse_exposition(body.decode('utf-8'))
    errors += perr
    for e in errors:
        print('ERROR ' + e)
    for k in sorted(samples):
        print('%s %s' % (k, samples[k]))
    return 1 if errors else 0


def cmd_get(host, port, request):
    req = request.encode().decode('unicode_escape').encode('latin-1')
    s = connect(host, port)
    s.sendall(req)
    data, how = read_all(s, time.time() + 8)
    s.close()
    print(status_of(data, how))
    return 0


def cmd_slow(host, port, seconds):
    req = b'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ' + b'a' * 100 + b'\r\n\r\n'
    s = connect(host, port)
    t0 = time.time()
    end = t0 + float(seconds)
    i = 0
    while time.time() < end and i < len(req):
        try:
            s.sendall(req[i:i + 1])
        except OSError:
            break
        i += 1
        s.settimeout(0.5)
        try:
            b = s.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            b = b''
        ms = int((time.time() - t0) * 1000)
        if b:
            rest, how = read_all(s, time.time() + 2)
            print('status %s after %d ms' % (status_of(b + rest, how), ms))
        else:
            print('closed after %d ms' % ms)
        return 0
    print('still open after %d ms (%d bytes sent)' % ((time.time() - t0) * 1000, i))
    return 0


def cmd_huge(host, port, nbytes):
    s = connect(host, port)
    line = b'GET /' + b'a' * (int(nbytes) - 5)
    try:
        s.sendall(line)
    except OSError:
        pass                      # the daemon may answer and shut before all is sent
    data, how = read_all(s, time.time() + 5)
    s.close()
    print(status_of(data, how))
    return 0


def cmd_garbage(host, port, nbytes):
    rnd = random.Random(8461)
    s = connect(host, port)
    try:
        s.sendall(bytes(rnd.randrange(256) for _ in range(int(nbytes))))
    except OSError:
        pass
    data, how = read_all(s, time.time() + 5)
    s.close()
    print(status_of(data, how))
    return 0


def cmd_idle(host, port, n, seconds):
    socks = []
    for _ in range(int(n)):
        try:
            socks.append(connect(host, port))
        except OSError:
            break
    time.sleep(float(seconds))
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(4096) == b'':
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    print('opened %d closed_by_daemon %d' % (len(socks), closed))
    return 0


def main(argv):
    cmds = {'scrape': (cmd_scrape, 2), 'get': (cmd_get, 3), 'slow': (cmd_slow, 3),
            'huge': (cmd_huge, 3), 'garbage': (cmd_garbage, 3), 'idle': (cmd_idle, 4),
            'smidle': (cmd_idle, 4)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__)
        return 2
    return cmds[argv[1]][0](*argv[2:])


if __name__ == '__main__':
    sys.exit(main(sys.argv))
