#!/bin/bash
# tests/e2e/cross_snapshot.sh - a snapshot written by one build loads in
# another of the other byte order: x86_64 (little-endian) and s390x
# (big-endian, under qemu-user-static), each way round.
#
# Both daemons first fill their caches from lib.sh's fixtures and write their
# snapshots at SIGTERM.  Then DNS and HTTPS go down, and each daemon starts on
# the other's snapshot: every answer can only come from the loaded file.
#
#   MTASTS        the x86_64 daemon (default ./mtasts)
#   MTASTS_OTHER  the other one (default build/cross/s390x/mtasts-qemu)
#   OTHER_NAME    its name in the messages (default s390x)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
OTHER=${MTASTS_OTHER:-$ROOT/build/cross/s390x/mtasts-qemu}
case $OTHER in /*) ;; *) OTHER=$PWD/$OTHER ;; esac
ON=${OTHER_NAME:-s390x}
LC="$E2E_DIR/lifecycle.py"

world_up
for b in "$MTASTS" "$OTHER"; do
	[ -x "$b" ] || setup_fail "$b missing (make mtasts cross-check)"
done

# conf FILE SNAPSHOT
conf() {
	cat > "$1" <<-EOF
	listen = 127.0.0.1:$MTASTS_PORT
	cache_file = $2
	cache_grace = 300

	[zone strict]
	strict_testing = yes

	[zone nosni]
	require_sni = no
	EOF
}

# start BINARY CONF LOG: waits for "started"
start() {
	: > "$3"
	ip netns exec "$NS" "$1" -c "$2" -v 3 >>"$3" 2>&1 &
	MTASTS_PID=$!
	PIDS+=("$MTASTS_PID")
	local i
	for i in $(seq 1 200); do
		grep -q ' started: ' "$3" 2>/dev/null && wait_port $MTASTS_PORT "$MTASTS_PID" && return 0
		kill -0 "$MTASTS_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "setup: $1 did not start: $(tail -3 "$3")"
	return 1
}

# term: SIGTERM the running daemon; exit code in RC
term() {
	kill -TERM "$MTASTS_PID" 2>/dev/null
	local i
	for i in $(seq 1 200); do kill -0 "$MTASTS_PID" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$MTASTS_PID" 2>/dev/null
	wait "$MTASTS_PID" 2>/dev/null
	RC=$?
	MTASTS_PID=
}

has() { grep -q -- "$2" "$1" && echo yes || echo "no \"$2\" in $(basename "$1"): $(tail -2 "$1" | tr '\n' ' ')"; }

# ZONE DOMAIN EXPECTED: the policies in the snapshots, each kind of field
CASES="postfix enforce.test $E_ENF
nosni enforce.test OK secure match=mail.enforce.test:.mx.enforce.test
postfix testing.test NOTFOUND
strict testing.test $(okmx testing)
postfix none.test NOTFOUND
postfix cname.test $(okmx cname)
postfix joined.test $(okmx joined)
postfix crlf.test $(okmx crlf)
postfix utf8ext.test $(okmx utf8ext)
postfix chunked.test $(okmx chunked)
postfix wildcert.test $(okmx wildcert)
postfix maxagebig.test $(okmx maxagebig)
postfix firstwins.test $(okmx firstwins)"
POLICIES=11       # distinct domains above

# answers WHO: every case through postmap
answers() {
	local zone dom exp
	while read -r zone dom exp; do
		check SNAP-X "$1: $zone $dom" "$exp" "$(q "$zone" "$dom")"
	done <<< "$CASES"
}

# fill NAME BINARY: a daemon fills its cache from the fixtures, writes its snapshot
fill() {
	local snap=$T/$1.snap
	DAEMON_DOWN=
	conf "$T/$1.conf" "$snap"
	start "$2" "$T/$1.conf" "$T/$1-fill.log" || { DAEMON_DOWN="$1 did not start"; return; }
	answers "$1 fills its cache"
	term
	check SNAP-X "$1: SIGTERM exit 0" 0 "$RC"
	check_true SNAP-X "$1: snapshot written at shutdown" \
	    "$(has "$T/$1-fill.log" "snapshot written: $POLICIES policies to $snap")"
	check SNAP-X "$1: snapshot complete and checksummed" "ok $POLICIES" "$("$PY" "$LC" snapcheck "$snap")"
}

# load NAME BINARY SNAPSHOT-OF: a daemon starts on the other's snapshot
load() {
	local snap=$T/$3.snap
	DAEMON_DOWN=
	cp "$snap" "$T/$1-from-$3.snap"
	conf "$T/$1.conf" "$T/$1-from-$3.snap"
	start "$2" "$T/$1.conf" "$T/$1-load.log" || { DAEMON_DOWN="$1 did not start"; return; }
	check_true SNAP-X "$1 loads the snapshot $3 wrote: all policies, none bad" \
	    "$(has "$T/$1-load.log" "$POLICIES policies loaded, 0 expired, 0 bad")"
	answers "$1 from $3's snapshot, DNS and HTTPS down"
	check SNAP-X "$1: a domain in no snapshot gets no policy (DNS and HTTPS are down)" \
	    NOTFOUND "$(q postfix pipe.test)"
	term
	check SNAP-X "$1: SIGTERM exit 0" 0 "$RC"
}

fill x86_64 "$MTASTS"
fill "$ON" "$OTHER"
# the same records (domain id mode max_age mx...) in both files; only the
# fetch times and so the CRCs differ
recs() { awk '$2 == "P" { $1 = ""; $7 = ""; print }' "$1" | sort; }
check SNAP-X "x86_64 and $ON wrote the same records" "$(recs "$T/x86_64.snap")" "$(recs "$T/$ON.snap")"

# DNS and HTTPS down: answers can only come from the snapshots
kill "$DNS_PID" 2>/dev/null; wait "$DNS_PID" 2>/dev/null
NGINX_PID=$(cat "$T/nginx.pid"); kill "$NGINX_PID"
for i in $(seq 1 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
check_true SNAP-X "DNS down" \
    "$(r=$(inns "$PY" "$TOOLS" dnsq $DNS_IP _mta-sts.enforce.test TXT 2>&1); case $r in rcode=0*) echo "no, $r" ;; *) echo yes ;; esac)"

load "$ON" "$OTHER" x86_64
load x86_64 "$MTASTS" "$ON"

if [ "$FAILS" -ne 0 ]; then
	for f in "$T"/*-fill.log "$T"/*-load.log; do echo "--- tail $(basename "$f")"; tail -n 8 "$f"; done
fi
finish
