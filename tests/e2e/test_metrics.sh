#!/bin/bash
# tests/e2e/test_metrics.sh - the metrics, end to end, in the test namespace:
#   the daemon with metrics_listen on loopback; real lookups through postmap;
#   /metrics parsed strictly as Prometheus text (metrics.py scrape) after each
#   event, and the counter of that event moved: a fetched policy, a cache
#   hit, a NOTFOUND, failed fetches of each RFC 8460 type, a TXT over TCP,
#   client evictions (max_clients = 20), a snapshot write; the SIGUSR1 log
#   line; and hostile HTTP clients (slowloris, a huge request line, binary
#   garbage, many idle connections) while socketmap answers keep coming.
#                                                             (MET-1..MET-6)
#
#   sh tests/e2e/test_metrics.sh                       ./mtasts (or MTASTS=path)
#   MTASTS=build/mtasts-asan sh tests/e2e/test_metrics.sh
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

MPY=$E2E_DIR/metrics.py
MPORT=9461
E_ENF='OK secure match=mail.enforce.test:.mx.enforce.test servername=hostname'

within() { local d=$(($3 - $2)); [ "$d" -lt "$1" ] && echo yes || echo "no, took $d ms (limit $1)"; }
mlog() { grep -F "mtasts[$MTASTS_PID]" "$T/mtasts.log"; }

# scrape FILE: the parsed samples into FILE; prints "ok" or the errors
scrape() {
	if [ -n "$DAEMON_DOWN" ]; then echo "ERROR $DAEMON_DOWN" > "$1"; else
		inns "$PY" "$MPY" scrape 127.0.0.1 $MPORT > "$1" 2>&1; fi
	grep -q '^ERROR' "$1" && grep '^ERROR' "$1" | head -3 | paste -sd' ' - || echo ok
}
# val FILE SERIES: a sample's value ("none" when absent)
val() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }' "$1"; }
# moved OLD NEW SERIES: by how much a sample grew
moved() {
	local a b
	a=$(val "$1" "$3"); b=$(val "$2" "$3")
	case "$a$b" in *none*) echo "absent"; return ;; esac
	echo $((b - a))
}
mhttp() { local c=$1; shift; inns "$PY" "$MPY" "$c" 127.0.0.1 $MPORT "$@" 2>&1; }
hget() { inns "$PY" "$MPY" get 127.0.0.1 $MPORT "$1" 2>&1; }
# served WHEN FILE: a cached socketmap answer within 500 ms, and a scrape
served() {
	local t1 t2 got
	t1=$(ms); got=$(q postfix enforce.test); t2=$(ms)
	check MET-4 "socketmap answered $1" "$E_ENF" "$got"
	check MET-4 "... within 500 ms" yes "$(within 500 "$t1" "$t2")"
	check MET-4 "... and a scrape succeeds" ok "$(scrape "$2")"
}

world_up
ulimit -n 4096 2>/dev/null
mkdir -p "$T/snap"
cat > "$T/mtasts.conf" <<EOF
# test_metrics.sh
listen = 127.0.0.1:$MTASTS_PORT
metrics_listen = 127.0.0.1:$MPORT
cache_file = $T/snap/cache.snap
snapshot_interval = 1
cache_size = 1000
cache_grace = 300
max_clients = 20

[zone quick]
timeout = 2
EOF
start_mtasts || DAEMON_DOWN="mtasts did not start"
wait_port $MPORT "$MTASTS_PID" || DAEMON_DOWN="metrics_listen did not open"
echo "# $MTASTS (pid $MTASTS_PID), namespace $NS, metrics on 127.0.0.1:$MPORT"

# ---------------------------------------------------------------- the format
check MET-2 "first scrape parses as Prometheus text" ok "$(scrape "$T/m0")"
check MET-2 "42 samples" 42 "$(grep -vc '^ERROR' "$T/m0")"
check MET-2 "build_info carries the version of mtasts -V" \
    "mtasts $(sed -n 's/.*version="\(.*\)"}.*/\1/p' "$T/m0")" "$("$MTASTS" -V)"
check MET-2 "start_time_seconds is now (within 120 s)" yes \
    "$(awk -v t="$(val "$T/m0" mtasts_start_time_seconds)" -v now="$(date +%s)" \
      'BEGIN { print (t > now - 120 && t <= now) ? "yes" : "no: " t }')"
check MET-2 "resident_memory_bytes is the daemon's VmRSS (within 1 MiB)" yes \
    "$(awk -v r="$(val "$T/m0" mtasts_resident_memory_bytes)" \
      -v k="$(awk '/^VmRSS:/ { print $2 }' "/proc/$MTASTS_PID/status")" \
      'BEGIN { d = r - k * 1024; if (d < 0) d = -d; print (r > 0 && d < 1048576) ? "yes" : "no: " r " vs " k " kB" }')"
check MET-2 "clients_max is max_clients" 20 "$(val "$T/m0" mtasts_clients_max)"
check MET-2 "cache_capacity_entries is cache_size" 1000 "$(val "$T/m0" mtasts_cache_capacity_entries)"
check MET-1 "no snapshot written yet (nothing changed)" "0 0" \
    "$(val "$T/m0" mtasts_snapshot_writes_total) $(val "$T/m0" mtasts_snapshot_failures_total)"

# ---------------------------------------------------------------- counters move
echo "# --- counters follow events"
check SETUP "enforce.test looked up" "$E_ENF" "$(q postfix enforce.test)"
scrape "$T/m1" > /dev/null
check MET-1 "a fetched policy: lookups_total{answer=policy} +1" 1 "$(moved "$T/m0" "$T/m1" 'mtasts_lookups_total{answer="policy"}')"
check MET-1 "... cache_misses_total +1" 1 "$(moved "$T/m0" "$T/m1" mtasts_cache_misses_total)"
check MET-1 "... fetches_total{result=ok} +1" 1 "$(moved "$T/m0" "$T/m1" 'mtasts_fetches_total{result="ok"}')"
check MET-1 "... dns_queries_total +3 (TXT, A, AAAA)" 3 "$(moved "$T/m0" "$T/m1" mtasts_dns_queries_total)"
check MET-1 "... clients_accepted_total +1" 1 "$(moved "$T/m0" "$T/m1" mtasts_clients_accepted_total)"
check MET-1 "... cache_entries 1, cache_policies_usable 1" "1 1" \
    "$(val "$T/m1" mtasts_cache_entries) $(val "$T/m1" mtasts_cache_policies_usable)"
check MET-1 "... cache_bytes > 0" yes "$([ "$(val "$T/m1" mtasts_cache_bytes)" -gt 0 ] && echo yes || echo no)"
check MET-1 "... metrics_scrapes_total +1 (the scrape before)" 1 "$(moved "$T/m0" "$T/m1" mtasts_metrics_scrapes_total)"

check SETUP "enforce.test again" "$E_ENF" "$(q postfix enforce.test)"
sleep 2.2        # snapshot_interval = 1: the change is written by now
scrape "$T/m2" > /dev/null
check MET-1 "the cache changed: a snapshot written (snapshot_writes_total >= 1), no failure" "yes 0" \
    "$([ "$(val "$T/m2" mtasts_snapshot_writes_total)" -ge 1 ] && echo yes || echo no) $(val "$T/m2" mtasts_snapshot_failures_total)"
check MET-1 "... its duration counted (> 0 s, < 2 s)" yes \
    "$(awk -v l="$(val "$T/m2" mtasts_snapshot_last_duration_seconds)" -v t="$(val "$T/m2" mtasts_snapshot_duration_seconds_total)" \
      'BEGIN { print (l > 0 && l < 2 && t >= l) ? "yes" : "no: " l " " t }')"
check MET-1 "... the snapshot file holds enforce.test" 1 "$(grep -c enforce.test "$T/snap/cache.snap" 2>/dev/null)"
check MET-1 "a cached answer: cache_hits_total +1" 1 "$(moved "$T/m1" "$T/m2" mtasts_cache_hits_total)"
check MET-1 "... no fetch, no DNS query" "0 0" \
    "$(moved "$T/m1" "$T/m2" 'mtasts_fetches_total{result="ok"}') $(moved "$T/m1" "$T/m2" mtasts_dns_queries_total)"

check SETUP "notxt.test: no policy" NOTFOUND "$(q postfix notxt.test)"
check SETUP "bad key: no policy" NOTFOUND "$(q postfix '[192.0.2.1]')"
scrape "$T/m3" > /dev/null
check MET-1 "two NOTFOUND answers: lookups_total{answer=notfound} +2" 2 "$(moved "$T/m2" "$T/m3" 'mtasts_lookups_total{answer="notfound"}')"
check MET-1 "... and no policy answer" 0 "$(moved "$T/m2" "$T/m3" 'mtasts_lookups_total{answer="policy"}')"

check SETUP "redirect.test (HTTP 301)" NOTFOUND "$(q postfix redirect.test)"
check SETUP "expired.test (expired certificate)" NOTFOUND "$(q postfix expired.test)"
check SETUP "nomaxage.test (policy without max_age)" NOTFOUND "$(q postfix nomaxage.test)"
check SETUP "tcptxt.test (TXT over TCP)" "$(okmx tcptxt)" "$(q postfix tcptxt.test)"
scrape "$T/m4" > /dev/null
check MET-1 "HTTP 301: fetches_total{result=sts-policy-fetch-error} +1" 1 \
    "$(moved "$T/m3" "$T/m4" 'mtasts_fetches_total{result="sts-policy-fetch-error"}')"
check MET-1 "expired certificate: fetches_total{result=sts-webpki-invalid} +1" 1 \
    "$(moved "$T/m3" "$T/m4" 'mtasts_fetches_total{result="sts-webpki-invalid"}')"
check MET-1 "no max_age: fetches_total{result=sts-policy-invalid} +1" 1 \
    "$(moved "$T/m3" "$T/m4" 'mtasts_fetches_total{result="sts-policy-invalid"}')"
check MET-1 "TC=1: dns_tcp_retries_total +1" 1 "$(moved "$T/m3" "$T/m4" mtasts_dns_tcp_retries_total)"
check MET-1 "no DNS timeout so far" 0 "$(val "$T/m4" mtasts_dns_timeouts_total)"
check MET-1 "nothing in flight or waiting now" "0 0" \
    "$(val "$T/m4" mtasts_lookups_in_flight) $(val "$T/m4" mtasts_lookups_waiting)"

# a lookup in flight: the hanging policy host holds one for 2 s
q quick hang.test > /dev/null &
hang_pid=$!
sleep 0.7
scrape "$T/m5" > /dev/null
check MET-1 "a hanging fetch: lookups_in_flight 1, clients 1" "1 1" \
    "$(val "$T/m5" mtasts_lookups_in_flight) $(val "$T/m5" mtasts_clients)"
wait $hang_pid

# evictions: 25 idle socketmap connections against max_clients = 20
inns "$PY" "$MPY" smidle 127.0.0.1 "$MTASTS_PORT" 25 2 > "$T/smidle" 2>&1 &
idle_pid=$!
sleep 1
scrape "$T/m6" > /dev/null
check MET-1 "25 idle clients, max_clients 20: clients 20" 20 "$(val "$T/m6" mtasts_clients)"
check MET-1 "... clients_evicted_total +5" 5 "$(moved "$T/m5" "$T/m6" mtasts_clients_evicted_total)"
check MET-1 "... clients_accepted_total +25" 25 "$(moved "$T/m5" "$T/m6" mtasts_clients_accepted_total)"
wait $idle_pid
check SETUP "... the idle clients saw 5 closed" "opened 25 closed_by_daemon 5" "$(cat "$T/smidle")"

# ---------------------------------------------------------------- SIGUSR1
echo "# --- SIGUSR1"
scrape "$T/m7" > /dev/null
kill -USR1 "$MTASTS_PID"
sleep 0.3
line=$(mlog | grep ' info: metrics: version=' | tail -1)
check MET-5 "SIGUSR1: one log line of metrics" 1 "$(mlog | grep -c ' info: metrics: version=')"
check MET-5 "... only name=value pairs after 'metrics: '" yes \
    "$(echo "${line#*metrics: }" | tr ' ' '\n' | grep -vcE '^[a-z_.0-9-]+=[0-9.a-z]+$' | grep -qx 0 && echo yes || echo "no: $line")"
check MET-5 "... lookups.policy as in the scrape" "lookups.policy=$(val "$T/m7" 'mtasts_lookups_total{answer="policy"}')" \
    "$(echo "$line" | tr ' ' '\n' | grep '^lookups.policy=')"
check MET-5 "... clients_evicted as in the scrape" "clients_evicted=$(val "$T/m7" mtasts_clients_evicted_total)" \
    "$(echo "$line" | tr ' ' '\n' | grep '^clients_evicted=')"
check MET-5 "... the daemon keeps running" yes "$(kill -0 "$MTASTS_PID" 2>/dev/null && echo yes || echo no)"

# ---------------------------------------------------------------- requests
echo "# --- requests other than GET /metrics"
check MET-3 "HTTP/1.0 GET /metrics (no Host needed)" 200 "$(hget 'GET /metrics HTTP/1.0\r\n\r\n')"
check MET-3 "GET /metrics?x=1, bare LF line ends" 200 "$(hget 'GET /metrics?x=1 HTTP/1.1\nHost: x\n\n')"
check MET-3 "GET / -> 404" 404 "$(hget 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')"
check MET-3 "POST /metrics -> 405" 405 "$(hget 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')"
check MET-3 "HTTP/2.0 -> 505" 505 "$(hget 'GET /metrics HTTP/2.0\r\n\r\n')"
check MET-3 "HTTP/1.1 without Host -> 400 (RFC 9112 3.2)" 400 "$(hget 'GET /metrics HTTP/1.1\r\n\r\n')"
check MET-3 "space before a field's colon -> 400" 400 "$(hget 'GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n')"
check MET-3 "obsolete line folding -> 400" 400 "$(hget 'GET /metrics HTTP/1.1\r\nHost: x\r\n y\r\n\r\n')"

# ---------------------------------------------------------------- hostile
echo "# --- hostile HTTP clients while Postfix is served"
scrape "$T/h0" > /dev/null
inns "$PY" "$MPY" slow 127.0.0.1 $MPORT 12 > "$T/slow" 2>&1 &
slow_pid=$!
sleep 0.3
check MET-4 "huge request line (1 MB) -> 414" 414 "$(mhttp huge 1000000)"
check MET-4 "binary garbage -> 400" 400 "$(mhttp garbage 4096)"
served "while a slowloris client trickles" "$T/h1"
wait $slow_pid
check MET-4 "slowloris: 408 after HTTPD_READ_MS (5 s, at most 1 s late)" yes \
    "$(sed -n 's/^status 408 after \([0-9]*\) ms$/\1/p' "$T/slow" |
      { read -r x; [ -n "$x" ] && [ "$x" -ge 4500 ] && [ "$x" -le 6000 ] && echo yes || echo "no: $(cat "$T/slow")"; })"

inns "$PY" "$MPY" idle 127.0.0.1 $MPORT 40 3 > "$T/idle" 2>&1 &
idle_pid=$!
sleep 0.5
served "while 40 idle connections hold every metrics slot" "$T/h1b"
wait $idle_pid
check MET-4 "idle connections: the daemon closed those beyond its 4 slots" yes \
    "$(awk '{ print ($4 >= 36) ? "yes" : "no: " $0 }' "$T/idle")"
scrape "$T/h2" > /dev/null
check MET-4 "metrics_rejected_total counted the hostile clients (>= 38)" yes \
    "$(d=$(moved "$T/h0" "$T/h2" mtasts_metrics_rejected_total); [ "$d" -ge 38 ] && echo yes || echo "no: $d")"
sleep 1.5
served "after the attack" "$T/h3"
check MET-4 "the daemon is alive" yes "$(kill -0 "$MTASTS_PID" 2>/dev/null && echo yes || echo no)"
check MET-4 "no metrics connection left open" 0 \
    "$(find "/proc/$MTASTS_PID/fd" -lname 'socket:*' 2>/dev/null | wc -l | awk '{ print $1 - 2 }')"

# ---------------------------------------------------------------- off by default
echo "# --- metrics_listen off by default"
# SIGTERM closes the metrics listener and frees its slots (under ASan a
# leak would turn the exit code non-zero)
kill "$MTASTS_PID"
wait "$MTASTS_PID"
check SEC-12 "SIGTERM: exit 0" 0 "$?"
MTASTS_PID=
sed -i '/^metrics_listen/d' "$T/mtasts.conf"
start_mtasts || DAEMON_DOWN="mtasts did not start without metrics_listen"
check MET-6 "without metrics_listen nothing listens on $MPORT" "<refused>" \
    "$(inns "$PY" -c "import socket
try:
    socket.create_connection(('127.0.0.1', $MPORT), timeout=2); print('open')
except ConnectionRefusedError:
    print('<refused>')")"
check MET-6 "... and socketmap is served" "$E_ENF" "$(q postfix enforce.test)"
stop_mtasts
check SEC-12 "clean exit log" yes "$(grep -q 'info: stopped' "$T/mtasts.log" && echo yes || echo no)"
finish
