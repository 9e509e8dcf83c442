#!/usr/bin/env python3
"""fakeredis.py - a hostile Redis server for tests/e2e/test_redis.sh.

  fakeredis.py PORT LOG

Answers AUTH and SELECT like Redis (so the client counts as connected and
its backoff starts again from the first step), then answers the first other
command of each connection in a hostile way, one way per connection in turn:

  garbage    bytes that are not RESP
  hugebulk   a bulk string header announcing 2 GB
  hugearray  an array header announcing 100 million elements
  trickle    a valid reply, one byte a second
  hangup     half a reply, then the connection is closed

Each connection's mode is appended to LOG.  Runs until killed.
"""
import socket
import sys
import threading
import time

MODES = ['garbage', 'hugebulk', 'hugearray', 'trickle', 'hangup']


def commands(conn):
    """Yield the first word of each RESP command (arrays of bulk strings)."""
    buf = b''
    while True:
        while b'\r\n' not in buf:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
        # *N, then N times $len + data
        try:
            head, rest = buf.split(b'\r\n', 1)
            n = int(head[1:])
            words = []
            for _ in range(n):
                while b'\r\n' not in rest:
                    data = conn.recv(65536)
                    if not data:
                        return
                    rest += data
                lhead, rest = rest.split(b'\r\n', 1)
                ln = int(lhead[1:])
                while len(rest) < ln + 2:
                    data = conn.recv(65536)
                    if not data:
                        return
                    rest += data
                words.append(rest[:ln])
                rest = rest[ln + 2:]
            buf = rest
            yield words[0].upper() if words else b''
        except (ValueError, IndexError):
            return


def serve(conn, mode, log):
    with open(log, 'a') as f:
        f.write(mode + '\n')
    try:
        for word in commands(conn):
            if word in (b'AUTH', b'SELECT', b'PING'):
                conn.sendall(b'+OK\r\n')
                continue
            if mode == 'garbage':
                conn.sendall(b'\x00\xff\x13 hello there\r\n\r\n')
            elif mode == 'hugebulk':
                conn.sendall(b'$2147483647\r\nxxxxxxxx')
            elif mode == 'hugearray':
                conn.sendall(b'*100000000\r\n:1\r\n')
            elif mode == 'trickle':
                for b in b'$5\r\nhello\r\n':
                    conn.sendall(bytes([b]))
                    time.sleep(1)
            elif mode == 'hangup':
                conn.sendall(b'$100\r\nmtasts1 ')
                conn.close()
                return
            # stay connected, reading, until the client gives up
            while conn.recv(65536):
                pass
            return
    except OSError:
        pass
    finally:
        conn.close()


def main():
    port, log = int(sys.argv[1]), sys.argv[2]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    s.listen(16)
    k = 0
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, MODES[k % len(MODES)], log),
                         daemon=True).start()
        k += 1


if __name__ == '__main__':
    main()
