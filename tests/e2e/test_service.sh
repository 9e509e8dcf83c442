#!/bin/bash
# tests/e2e/test_service.sh - what a service manager sees of the daemon:
# systemd's notify protocol (READY=1 once listening, RELOADING=1 with
# MONOTONIC_USEC= then READY=1 around SIGHUP, STOPPING=1 on SIGTERM), to a
# socket path and to an abstract @name, a NOTIFY_SOCKET that cannot be
# reached, and the -H health probe.  The daemon runs in a network namespace
# with loopback only and never needs to look anything up.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

RECV="$E2E_DIR/notify_recv.py"

[ -x "$MTASTS" ] || { fail "setup: no binary $MTASTS (make, or set MTASTS=)"; finish; }
ns_up
# inside the namespace /etc/ssl is replaced (lib.sh), so bring a bundle
cp /etc/ssl/certs/ca-certificates.crt "$T/ca.pem" 2>/dev/null ||
	setup_fail "no /etc/ssl/certs/ca-certificates.crt"

cat > "$T/svc.conf" <<EOF2
listen = 127.0.0.1:$MTASTS_PORT
listen = unix:$T/mtasts.sock
ca_file = $T/ca.pem
nameserver = 127.0.0.53
cache_file = $T/cache.snap
EOF2

# run_notified ADDR TAG: start a receiver on ADDR and the daemon with
# NOTIFY_SOCKET=ADDR, HUP it, TERM it; the datagrams land in $T/TAG.out
run_notified() {
	local addr=$1 tag=$2 rpid dpid i rc
	rm -f "$T/mtasts.sock"
	inns "$PY" "$RECV" "$addr" "$T/$tag.out" "$T/mtasts.sock" > "$T/$tag.bound" &
	rpid=$!
	PIDS+=("$rpid")
	for i in $(seq 1 50); do grep -q bound "$T/$tag.bound" && break; sleep 0.1; done
	NOTIFY_SOCKET=$addr ip netns exec "$NS" "$MTASTS" -c "$T/svc.conf" -v 3 \
		>> "$T/$tag.log" 2>&1 &
	dpid=$!
	PIDS+=("$dpid")
	for i in $(seq 1 50); do grep -q '^READY=1' "$T/$tag.out" 2>/dev/null && break; sleep 0.1; done
	kill -HUP "$dpid"
	for i in $(seq 1 50); do [ "$(grep -c '^READY=1' "$T/$tag.out")" -ge 2 ] && break; sleep 0.1; done
	kill -TERM "$dpid"
	wait "$dpid"
	rc=$?
	for i in $(seq 1 30); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done
	kill "$rpid" 2>/dev/null
	wait "$rpid" 2>/dev/null
	check "SVC-$tag" "daemon exit status after SIGTERM" 0 "$rc"
}

# check_notified TAG: the four datagrams, in order, with sane contents
check_notified() {
	local tag=$1 f="$T/$1.out" usec got_at
	check "SVC-$tag" "datagrams in order" "READY=1 RELOADING=1 READY=1 STOPPING=1" \
		"$(cut -d' ' -f1 "$f" | sed 's/|.*//' | paste -sd' ')"
	check "SVC-$tag" "listening when READY=1 arrives" up "$(sed -n 1p "$f" | cut -d' ' -f3)"
	usec=$(sed -n 2p "$f" | cut -d' ' -f1 | tr '|' '\n' | sed -n 's/^MONOTONIC_USEC=//p')
	got_at=$(sed -n 2p "$f" | cut -d' ' -f2)
	if [[ $usec =~ ^[0-9]+$ ]] && [ "$usec" -le "$got_at" ] && [ $((got_at - usec)) -lt 5000000 ]; then
		ok "SVC-$tag RELOADING=1 carries MONOTONIC_USEC on CLOCK_MONOTONIC ($usec, received at $got_at)"
	else
		fail "SVC-$tag RELOADING=1 MONOTONIC_USEC: [$usec], received at $got_at: $(sed -n 2p "$f")"
	fi
	check "SVC-$tag" "no notify warning in the log" 0 "$(grep -c 'notify' "$T/$tag.log")"
}

echo "# NOTIFY_SOCKET as a path"
run_notified "$T/notify.sock" path
check_notified path
echo "# NOTIFY_SOCKET as an abstract name"
run_notified "@mtasts-test-notify-$$" abstract
check_notified abstract

echo "# NOTIFY_SOCKET that nobody listens on, and one that is not a path"
for bad in "$T/nobody.sock" "relative/name"; do
	rm -f "$T/bad.log"
	NOTIFY_SOCKET=$bad ip netns exec "$NS" "$MTASTS" -c "$T/svc.conf" >> "$T/bad.log" 2>&1 &
	dpid=$!
	PIDS+=("$dpid")
	if wait_port "$MTASTS_PORT" "$dpid"; then
		ok "SVC-bad daemon serves with NOTIFY_SOCKET=$bad"
	else
		fail "SVC-bad daemon did not start with NOTIFY_SOCKET=$bad: $(tail -3 "$T/bad.log")"
	fi
	check "SVC-bad" "health probe with NOTIFY_SOCKET=$bad" 0 \
		"$(inns "$MTASTS" -H "127.0.0.1:$MTASTS_PORT" >/dev/null 2>&1; echo $?)"
	kill -HUP "$dpid"; sleep 0.3
	kill -TERM "$dpid"; wait "$dpid"
	check "SVC-bad" "exit status with NOTIFY_SOCKET=$bad" 0 "$?"
	check "SVC-bad" "one warning for NOTIFY_SOCKET=$bad" 1 "$(grep -c 'notify\|NOTIFY_SOCKET' "$T/bad.log")"
done

echo "# the -H health probe"
ip netns exec "$NS" "$MTASTS" -c "$T/svc.conf" -v 3 >> "$T/health.log" 2>&1 &
dpid=$!
PIDS+=("$dpid")
wait_port "$MTASTS_PORT" "$dpid" || fail "SVC-H daemon did not start: $(tail -3 "$T/health.log")"
check "SVC-H1" "probe over TCP" "0 127.0.0.1:$MTASTS_PORT: answering" \
	"$(out=$(inns "$MTASTS" -H "127.0.0.1:$MTASTS_PORT" 2>&1); echo "$? $out")"
check "SVC-H2" "probe over the unix socket" 0 \
	"$(inns "$MTASTS" -H "unix:$T/mtasts.sock" >/dev/null 2>&1; echo $?)"
check "SVC-H3" "the daemon answered both probes from the key alone" \
	'key "[127.0.0.1]": ip-literal|key "[127.0.0.1]": ip-literal' \
	"$(sed '1,/ started: /d' "$T/health.log" | sed 's/^[^:]*: //' | paste -sd'|')"
check "SVC-H4" "probe of a closed port fails" 1 \
	"$(inns "$MTASTS" -H 127.0.0.1:1 >/dev/null 2>&1; echo $?)"
check "SVC-H5" "probe of a bad address is a usage error" 2 \
	"$("$MTASTS" -H localhost >/dev/null 2>&1; echo $?)"
check "SVC-H6" "probe of [::1] with nothing there fails" 1 \
	"$(inns "$MTASTS" -H '[::1]:1' >/dev/null 2>&1; echo $?)"
# a server that answers something else is not healthy
inns "$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8465)); s.listen(1); print("up", flush=True)
c, _ = s.accept(); c.recv(100); c.sendall(b"4:PERM,"); c.close()
' > "$T/fake.up" &
PIDS+=("$!")
for _ in $(seq 1 50); do grep -q up "$T/fake.up" && break; sleep 0.1; done
check "SVC-H7" "probe of a server with another answer fails" 1 \
	"$(inns "$MTASTS" -H 127.0.0.1:8465 >/dev/null 2>&1; echo $?)"
kill -TERM "$dpid"; wait "$dpid"
finish
