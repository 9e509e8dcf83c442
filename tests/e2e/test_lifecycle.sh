#!/bin/bash
# tests/e2e/test_lifecycle.sh - a daemon that restarts, reloads and fails
# without losing anything: snapshot restart with DNS and HTTPS down, damaged
# snapshots, expiry across downtime, kill -9 during snapshot writes,
# proactive refresh, failure backoff, SIGHUP with good and bad configs,
# seamless restart under load (reuse_port), privilege drop, log files,
# syslog, idle timeout and unix socket permissions.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
LC="$E2E_DIR/lifecycle.py"
SNAPDIR=$T/snap
SNAP=$SNAPDIR/cache.snap

# ---------------------------------------------------------------- the world
# lib.sh's world plus two fixtures of our own: dyn.test, whose TXT id and
# policy change during the test, and fail404.test, whose fetch always fails.
ns_up
pki_up
cp "$T/pki/ca.crt" "/etc/netns/$NS/ssl/certs/ca-certificates.crt"
fixtures
site dyn
txt fail404 '"v=STSv1; id=f1"'; host fail404 $WEB_IP
vhost fail404 fail404 "return 404;"
dns_up
web_up
mkdir -p "$T/postfix" "$SNAPDIR"
printf 'compatibility_level = 3.6\ninet_protocols = all\n' > "$T/postfix/main.cf"
world_check

# dnsmasq reads its records once: restart it with the new configuration
dns_restart() {
	kill "$DNS_PID" 2>/dev/null; wait "$DNS_PID" 2>/dev/null
	ip netns exec "$NS" dnsmasq -k -C "$T/dnsmasq.conf" -u root -g root >>"$T/dnsmasq.out" 2>&1 &
	DNS_PID=$!
	PIDS+=("$DNS_PID")
	local i
	for i in $(seq 1 50); do
		[ "$(inns "$PY" "$TOOLS" dnsq $DNS_IP _mta-sts.enforce.test TXT 2>/dev/null)" = \
		    "rcode=0 tc=0 an=1" ] && return 0
		sleep 0.1
	done
	fail "setup: dnsmasq did not restart"
}

conf() { # conf FILE [extra lines...]
	local f=$1; shift
	{
		echo "listen = 127.0.0.1:$MTASTS_PORT"
		echo "cache_file = $SNAP"
		echo "snapshot_interval = 1"
		echo "cache_grace = 1"
		echo "backoff_max = 600"
		echo "proactive_fetch = yes"
		echo "proactive_interval = 4"
		echo "proactive_grace_ratio = 2"
		echo "shutdown_timeout = 5"
		printf '%s\n' "$@"
	} > "$f"
}

# start CONF LOG [ARGS]: a daemon with its own log; waits for "started"
start() {
	local c=$1 log=$2; shift 2
	: > "$log"
	ip netns exec "$NS" "$MTASTS" -c "$c" -v 3 "$@" >>"$log" 2>&1 &
	MTASTS_PID=$!
	PIDS+=("$MTASTS_PID")
	local i
	for i in $(seq 1 100); do
		grep -q ' started: ' "$log" 2>/dev/null && return 0
		kill -0 "$MTASTS_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "setup: mtasts did not start: $(tail -3 "$log")"
	return 1
}

# term PID: SIGTERM, wait; the exit code in $RC (not in a subshell: the
# daemon is this shell's child)
term() {
	kill -TERM "$1" 2>/dev/null
	local i
	for i in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	wait "$1" 2>/dev/null
	RC=$?
}

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
has() { grep -q -- "$2" "$1" && echo yes || echo "no \"$2\" in $(basename "$1"): $(tail -2 "$1" | tr '\n' ' ')"; }

conf "$T/a.conf" '[zone strict]' 'strict_testing = no'
start "$T/a.conf" "$T/a.log" || DAEMON_DOWN="mtasts did not start"
A=$MTASTS_PID

# ---------------------------------------------------------------- proactive refresh
check PFX-1 "dyn.test first answer" "$(okmx dyn)" "$(q postfix dyn.test)"
policy dyn "version: STSv1" "mode: enforce" "mx: mail2.dyn.test" "max_age: 86400"
sed -i 's/id=dyn1/id=dyn2/' "$T/dnsmasq.conf"
dns_restart
g0=$(gets dyn)
sleep 5      # proactive_interval 4 / grace_ratio 2: policies older than 2 s are refetched
g1=$(gets dyn)
check_true CACHE-8 "proactive refresh fetched dyn.test again with no lookup ($g0 -> $g1 GETs)" \
    "$([ "$g1" -gt "$g0" ] && echo yes || echo no)"
check CACHE-8 "the next lookup gets the changed policy at once" \
    "OK secure match=mail2.dyn.test servername=hostname" "$(q postfix dyn.test)"

# ---------------------------------------------------------------- backoff
# cache_grace 1 s: without a backoff every lookup after 1 s would cost a TXT
# query and an HTTPS fetch.  20 lookups over 5 s must cost one fetch (HTTP-14,
# same id for 5 minutes) and few TXT checks (1 s, 2 s, 4 s ... apart).
mark=$(dns_mark)
results=
for i in $(seq 1 20); do
	results+="$(q postfix fail404.test) "
	sleep 0.25
done
check HTTP-14 "fail404.test: 20 lookups answered NOTFOUND" "$(printf 'NOTFOUND %.0s' $(seq 1 20))" "$results"
check HTTP-14 "fail404.test: one GET for 20 lookups over 5 s" 1 "$(gets fail404)"
txtq=$(dns_since "$mark" | grep -c '_mta-sts.fail404.test')
check_true BACKOFF "fail404.test: at most 4 TXT queries for 20 lookups (backoff), saw $txtq" \
    "$([ "$txtq" -ge 1 ] && [ "$txtq" -le 4 ] && echo yes || echo no)"

# ---------------------------------------------------------------- SIGHUP
check CACHE-11 "strict zone before reload: testing.test NOTFOUND" NOTFOUND "$(q strict testing.test)"
gt=$(gets testing)
conf "$T/a.conf" '[zone strict]' 'strict_testing = yes'
kill -HUP "$A"; sleep 0.5
check RELOAD "SIGHUP with a good config: strict zone now answers testing.test" \
    "$(okmx testing)" "$(q strict testing.test)"
check RELOAD "the cache survived the reload (no new fetch of testing.test)" "$gt" "$(gets testing)"
cp "$T/a.conf" "$T/a.good"
echo "bogus_key = 1" >> "$T/a.conf"
kill -HUP "$A"; sleep 0.5
check_true RELOAD "SIGHUP with a bad config: the daemon is still running" \
    "$(kill -0 "$A" 2>/dev/null && echo yes || echo "no, it died")"
check_true RELOAD "bad config refused with file and line in the log" \
    "$(has "$T/a.log" "reload refused, old configuration kept: $T/a.conf:12: unknown zone key \"bogus_key\"")"
check RELOAD "the old configuration keeps running" "$(okmx testing)" "$(q strict testing.test)"
cp "$T/a.good" "$T/a.conf"

# ---------------------------------------------------------------- snapshot restart
check PFX-1 "enforce.test cached before the restart" "$E_ENF" "$(q postfix enforce.test)"
term "$A"; check LIFECYCLE "SIGTERM: exit 0" 0 "$RC"
check_true CACHE-13 "snapshot written at shutdown" "$(has "$T/a.log" "snapshot written: ")"
snap=$("$PY" "$LC" snapcheck "$SNAP")
check_true CACHE-13 "snapshot is complete and checksummed ($snap)" \
    "$(case $snap in "ok "[3-9]*|"ok "[1-9][0-9]*) echo yes ;; *) echo no ;; esac)"
# DNS and HTTPS down: everything must come from the snapshot
kill "$DNS_PID" 2>/dev/null; wait "$DNS_PID" 2>/dev/null
NGINX_PID=$(cat "$T/nginx.pid"); kill "$NGINX_PID"
for i in $(seq 1 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
start "$T/a.conf" "$T/b.log" || DAEMON_DOWN="mtasts did not restart"
B=$MTASTS_PID
check_true CACHE-13 "restart loaded the snapshot" "$(has "$T/b.log" "policies loaded, 0 expired, 0 bad")"
check CACHE-13 "DNS and HTTPS down: enforce.test answered from the snapshot" "$E_ENF" "$(q postfix enforce.test)"
check CACHE-13 "DNS and HTTPS down: dyn.test (changed policy) from the snapshot" \
    "OK secure match=mail2.dyn.test servername=hostname" "$(q postfix dyn.test)"
check CACHE-5 "revalidation failing (DNS down) keeps the policy" "$E_ENF" "$(sleep 1.2; q postfix enforce.test)"
term "$B"; check LIFECYCLE "SIGTERM: exit 0" 0 "$RC"

# ---------------------------------------------------------------- damaged snapshots
now=$(date +%s)
line() { printf '%08x %s\n' "$("$PY" -c 'import sys,zlib; print(zlib.crc32(sys.argv[1].encode()) & 0xffffffff)' "$1")" "$1"; }
{
	echo "mtasts-snapshot 1"
	line "P fresh.test f1 enforce 86400 $((now - 100)) mail.fresh.test"
	line "P old.test o1 enforce 50 $((now - 100)) mail.old.test"
	echo "0badc0de P broken.test b1 enforce 86400 $((now - 100)) mail.broken.test"
	line "P second.test s1 enforce 86400 $((now - 100)) mail.second.test"
	line "E 3"
} > "$SNAP"
start "$T/a.conf" "$T/c.log" || DAEMON_DOWN="mtasts did not start"
check_true CACHE-13 "damaged snapshot: valid records loaded, expired and bad counted" \
    "$(has "$T/c.log" "2 policies loaded, 1 expired, 1 bad")"
check_true CACHE-13 "damaged snapshot: reported in the log" "$(has "$T/c.log" "damaged (checksum mismatch, line 4)")"
check CACHE-13 "valid record served" "OK secure match=mail.fresh.test servername=hostname" "$(q postfix fresh.test)"
check CACHE-13 "record after the damaged line served" "OK secure match=mail.second.test servername=hostname" \
    "$(q postfix second.test)"
check CACHE-2 "max_age passed while down: not served" NOTFOUND "$(q postfix old.test)"
check CACHE-13 "damaged line not served" NOTFOUND "$(q postfix broken.test)"
term "$MTASTS_PID"

# truncated in the middle of a record
{
	echo "mtasts-snapshot 1"
	line "P fresh.test f1 enforce 86400 $((now - 100)) mail.fresh.test"
	printf '%s' "12345678 P cut.test c1 enf"
} > "$SNAP"
start "$T/a.conf" "$T/d.log" || DAEMON_DOWN="mtasts did not start"
check_true CACHE-13 "truncated snapshot: first record loaded" "$(has "$T/d.log" "1 policies loaded")"
check_true CACHE-13 "truncated snapshot: reported" "$(has "$T/d.log" "damaged (truncated")"
check CACHE-13 "truncated snapshot: the complete record is served" \
    "OK secure match=mail.fresh.test servername=hostname" "$(q postfix fresh.test)"
term "$MTASTS_PID"

for kind in version foreign empty; do
	case $kind in
	version) printf 'mtasts-snapshot 9\nwhatever\n' > "$SNAP"; why="unsupported snapshot version" ;;
	foreign) head -c 3000 /dev/urandom > "$SNAP"; why="not an mtasts snapshot" ;;
	empty) : > "$SNAP"; why="not an mtasts snapshot" ;;
	esac
	start "$T/a.conf" "$T/e.log" || DAEMON_DOWN="mtasts did not start"
	check_true CACHE-13 "$kind snapshot: ignored with a log line, daemon runs" \
	    "$(has "$T/e.log" "$why; ignored, starting with an empty cache")"
	check CACHE-13 "$kind snapshot: nothing served from it" NOTFOUND "$(q postfix fresh.test)"
	term "$MTASTS_PID"
done

# ---------------------------------------------------------------- kill -9 while writing
# A 3000-policy snapshot is rewritten at every shutdown; kill -9 lands at a
# random moment of that write.  The file must always be the old or the new
# one, complete, never a mix.
"$PY" "$LC" snapmake "$SNAP" 3000 "$now"
conf "$T/k.conf" "cache_size = 4000"
bad=0
for round in $(seq 1 12); do
	start "$T/k.conf" "$T/k.log" || { bad=$((bad + 1)); break; }
	kill -TERM "$MTASTS_PID"
	sleep "0.00$((RANDOM % 10))"
	kill -9 "$MTASTS_PID" 2>/dev/null
	wait "$MTASTS_PID" 2>/dev/null
	r=$("$PY" "$LC" snapcheck "$SNAP")
	[ "$r" = "ok 3000" ] || { bad=$((bad + 1)); echo "# round $round: $r"; }
done
check CACHE-13 "kill -9 during 12 snapshot writes: the file is always complete (ok 3000)" 0 "$bad"

# ---------------------------------------------------------------- seamless restart
# Two instances share the port (reuse_port); the old one stops while a load
# loop connects anew for every lookup.  tcp_migrate_req hands connections
# still queued on the old listener to the new one.
inns sysctl -q -w net.ipv4.tcp_migrate_req=1
rm -f "$SNAP"
dns_restart
ip netns exec "$NS" nginx -c "$T/nginx.conf" -g 'daemon off;' >>"$T/nginx.out" 2>&1 &
PIDS+=($!)
for i in $(seq 1 50); do inns bash -c "exec 3<>/dev/tcp/$WEB_IP/443" 2>/dev/null && break; sleep 0.1; done
start "$T/a.conf" "$T/f.log" || DAEMON_DOWN="mtasts did not start"
OLD=$MTASTS_PID
q postfix enforce.test >/dev/null
term "$OLD"       # writes the snapshot the new instances start from
start "$T/a.conf" "$T/f.log" || DAEMON_DOWN="mtasts did not start"
OLD=$MTASTS_PID
inns "$PY" "$LC" load 127.0.0.1 $MTASTS_PORT 4 enforce.test "$E_ENF" conn > "$T/load-conn.out" &
LOAD1=$!
inns "$PY" "$LC" load 127.0.0.1 $MTASTS_PORT 4 enforce.test "$E_ENF" persist > "$T/load-persist.out" &
LOAD2=$!
sleep 1
start "$T/a.conf" "$T/g.log" || DAEMON_DOWN="mtasts did not start"
NEW=$MTASTS_PID
sleep 0.5
term "$OLD"; check LIFECYCLE "old instance stops with exit 0 under load" 0 "$RC"
wait $LOAD1 $LOAD2
r1=$(cat "$T/load-conn.out"); r2=$(cat "$T/load-persist.out")
check_true LIFECYCLE "restart under load, connect per lookup: no failed lookup ($r1)" \
    "$(case $r1 in *" fail=0"*) [ "${r1#sent=}" != "${r1}" ] && echo yes ;; *) echo no ;; esac)"
check_true LIFECYCLE "restart under load, persistent connection: no failed lookup ($r2)" \
    "$(case $r2 in *" fail=0"*) echo yes ;; *) echo no ;; esac)"
check_true LIFECYCLE "the load really ran (over 200 lookups each)" \
    "$(n1=${r1#sent=}; n2=${r2#sent=}; [ "${n1%% *}" -gt 200 ] && [ "${n2%% *}" -gt 200 ] && echo yes || echo "no: $r1 / $r2")"
check PFX-1 "the new instance answers" "$E_ENF" "$(q postfix enforce.test)"
term "$NEW"

# ---------------------------------------------------------------- privilege drop
PRIV=$T/priv
mkdir -p "$PRIV"; chmod 755 "$PRIV"
conf "$T/p.conf" "user = nobody" "listen = unix:$T/mtasts.sock" "socket_mode = 0600" "idle_timeout = 2"
sed -i "s|^cache_file = .*|cache_file = $PRIV/cache.snap|" "$T/p.conf"
start "$T/p.conf" "$T/p.log" || DAEMON_DOWN="mtasts did not start as nobody"
P=$MTASTS_PID
uid=$(id -u nobody)
check SEC-9 "/proc: every uid is nobody's" "$uid $uid $uid $uid" "$(awk '/^Uid:/ {print $2, $3, $4, $5}' /proc/$P/status)"
check SEC-9 "/proc: every gid is nobody's group" "$(id -g nobody) $(id -g nobody) $(id -g nobody) $(id -g nobody)" \
    "$(awk '/^Gid:/ {print $2, $3, $4, $5}' /proc/$P/status)"
check PFX-1 "as nobody: lookups with HTTPS fetches work" "$E_ENF" "$(q postfix enforce.test)"
check SM-13 "unix socket with socket_mode 0600" 600 "$(stat -c %a "$T/mtasts.sock")"
check SM-13 "as nobody: the unix socket answers" "9:NOTFOUND ," \
    "$(inns "$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1]); s.sendall(b"20:postfix .example.com,"); print(s.recv(100).decode())' "$T/mtasts.sock")"
check SEC-6 "idle_timeout 2: an idle client is closed" "closed after 2 s" "$(inns "$PY" "$LC" idle 127.0.0.1 $MTASTS_PORT 5)"
term "$P"; check LIFECYCLE "as nobody: SIGTERM exit 0" 0 "$RC"
check_true SEC-9 "as nobody: the snapshot was written" "$(has "$T/p.log" "snapshot written: 1 policies")"
check SEC-9 "the snapshot belongs to nobody" nobody "$(stat -c %U "$PRIV/cache.snap")"

# ---------------------------------------------------------------- log files and syslog
conf "$T/l.conf"
ip netns exec "$NS" "$MTASTS" -c "$T/l.conf" -l "$T/m1.log" &
L=$!; PIDS+=("$L")
for i in $(seq 1 100); do grep -q ' started: ' "$T/m1.log" 2>/dev/null && break; sleep 0.05; done
mv "$T/m1.log" "$T/m1.log.1"
kill -HUP "$L"; sleep 0.3
check_true LOG "-l FILE: reopened after rotation on SIGHUP" "$(has "$T/m1.log" "configuration reloaded")"
check_true LOG "-l FILE: lines carry a UTC timestamp" \
    "$(grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z mtasts\[' "$T/m1.log" && echo yes || echo no)"
term "$L"
if [ ! -e /dev/log ]; then
	"$PY" "$LC" syslog /dev/log 2 "$T/syslog.out" &
	SL=$!; PIDS+=("$SL")
	for i in $(seq 1 50); do [ -S /dev/log ] && break; sleep 0.05; done
	ip netns exec "$NS" "$MTASTS" -c "$T/l.conf" -s &
	L=$!; PIDS+=("$L")
	wait "$SL" 2>/dev/null
	check_true LOG "-s: lines go to syslog (facility mail)" \
	    "$(grep -q '^<2[0-9]>mtasts\[[0-9]*\]: .*started' "$T/syslog.out" && echo yes || echo "no: $(head -c 200 "$T/syslog.out")")"
	# the syslog daemon restarts (a new socket at /dev/log): the next
	# line still arrives, over a new connection
	"$PY" "$LC" syslog /dev/log 2 "$T/syslog2.out" &
	SL=$!; PIDS+=("$SL")
	for i in $(seq 1 50); do [ -S /dev/log ] && break; sleep 0.05; done
	kill -HUP "$L"
	wait "$SL" 2>/dev/null
	check_true LOG "-s: after a syslog restart, lines reach the new socket" \
	    "$(grep -q '^<22>mtasts\[[0-9]*\]: .*configuration reloaded' "$T/syslog2.out" && echo yes || echo "no: $(head -c 200 "$T/syslog2.out")")"
	term "$L"
else
	# a real syslog daemon owns /dev/log here: at least the daemon runs with -s
	ip netns exec "$NS" "$MTASTS" -c "$T/l.conf" -s &
	L=$!; PIDS+=("$L")
	sleep 0.5
	check_true LOG "-s: runs with syslog (/dev/log owned by this machine's syslog)" \
	    "$(kill -0 "$L" 2>/dev/null && echo yes || echo no)"
	term "$L"
fi

finish
