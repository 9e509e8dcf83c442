#!/bin/bash
# tests/e2e/test_policies.sh - every fixture of lib.sh through real postmap
# against the daemon, with exact expected answers; key forms with zero DNS
# queries; raw netstring framing; timing under a hanging policy host; one
# fetch for 50 parallel lookups; mtasts -q / -t.
#
#   sh tests/e2e/test_policies.sh                  ./mtasts (or MTASTS=path)
#   IMPL=ref sh tests/e2e/test_policies.sh         the Python reference instead;
#       its documented differences show as XFAIL, mtasts-only parts are skipped
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/cases.sh"

pcase() { # ID DESC ZONE KEY EXPECTED [REFTAG]
	check "$1" "$2" "$5" "$(q "$3" "$4")" "${6:-}"
}

kcase() { # ID DESC KEY EXPECTED [REFTAG]
	local mark got dns
	mark=$(dns_mark)
	got=$(q postfix "$3")
	dns=$(dns_since "$mark" | paste -sd' ' -)
	check "$1" "$2 -> answer" "$4" "$got" "${5:-}"
	check "$1" "$2 -> no DNS query" "" "$dns" "${5:-}"
}

rcase() { # ID DESC N EXPECTED REFTAG CHUNK...
	local id=$1 desc=$2 n=$3 exp=$4 tag=$5
	shift 5
	check "$id" "$desc" "$exp" "$(raw "$PORT" "$n" "$@")" "$tag"
}

fcase() { # ID DESC BAD GOOD EXPECTED [REFTAG]
	local got="ERROR $DAEMON_DOWN"
	[ -n "$DAEMON_DOWN" ] || got=$(inns "$PY" "$TOOLS" framing 127.0.0.1 "$PORT" "$3" "$4")
	check "$1" "$2" "$5" "$got" "${6:-}"
}

# within LIMIT-MS START-MS END-MS -> "yes" or the measured time
within() { local d=$(($3 - $2)); [ "$d" -lt "$1" ] && echo yes || echo "no, took $d ms (limit $1)"; }

skip_mtasts_only() { echo "skip (IMPL=ref) $*"; }

world_up
write_mtasts_conf
write_ref_conf
if [ "$IMPL" = ref ]; then
	PORT=$REF_PORT
	start_ref || DAEMON_DOWN="the reference daemon did not start"
else
	PORT=$MTASTS_PORT
	start_mtasts || DAEMON_DOWN="mtasts did not start"
fi
echo "# $IMPL on port $PORT, namespace $NS"

tcp_before=$(dns_tcp_queries _mta-sts.tcptxt.test)
run_cases

# ---------------------------------------------------------------- what the servers saw
check HTTP-1 "enforce.test fetch: GET /.well-known/mta-sts.txt, Host and SNI mta-sts.enforce.test" \
    'mta-sts.enforce.test sni=mta-sts.enforce.test host=mta-sts.enforce.test "GET /.well-known/mta-sts.txt HTTP/1.1" 200' \
    "$(grep '^mta-sts.enforce.test ' "$T/access.log" | head -1)"
check CACHE-3 "enforce.test fetched once for all lookups above (all zones, all key forms)" 1 "$(gets enforce)"
check HTTP-2 "no fetch without a TXT record (notxt.test)" 0 "$(gets notxt)"
check HTTP-2 "no fetch with two STSv1 records (twotxt.test)" 0 "$(gets twotxt)"
check HTTP-2 "no fetch with an invalid TXT (badtxt.test)" 0 "$(gets badtxt)" REF-2
check HTTP-4 "redirect.test: one GET, redirect not followed" "1 0" "$(gets redirect) $(gets redirtarget)"
check DNS-4 "tcptxt.test: TXT repeated over TCP after TC=1" yes \
    "$([ "$(dns_tcp_queries _mta-sts.tcptxt.test)" -gt "$tcp_before" ] && echo yes || echo "no TCP query in dnsmasq log")"

# ---------------------------------------------------------------- timing
# HTTP-13/CACHE-6/SM-11: a policy host that accepts and never answers must not
# hold up other lookups; the answer comes within the zone timeout (2 s) + 1 s.
t0=$(ms)
q quick hang.test > "$T/hang.result" &
hang_pid=$!
sleep 0.5
t1=$(ms)
got=$(q postfix enforce.test)
t2=$(ms)
check CACHE-3 "cached enforce.test answered while hang.test is pending" "$E_ENF" "$got"
check CACHE-3 "... within 500 ms" yes "$(within 500 "$t1" "$t2")"
wait "$hang_pid"
t3=$(ms)
check HTTP-13 "hang.test (policy host never answers), zone timeout 2" NOTFOUND "$(cat "$T/hang.result")"
check HTTP-13 "... answered within timeout + 1 s" yes "$(within 3000 "$t0" "$t3")"

t0=$(ms)
got=$(q quick dnsdrop.test)
t1=$(ms)
check SM-10 "dnsdrop.test (DNS never answers), zone timeout 2" NOTFOUND "$got"
check SM-10 "... answered within timeout + 1 s" yes "$(within 3000 "$t0" "$t1")"

t0=$(ms)
got=$(q quick servfail.test)
t1=$(ms)
check DNS-7 "servfail.test again" NOTFOUND "$got"
check DNS-7 "... server failure answered within the timeout" yes "$(within 2000 "$t0" "$t1")"

# ---------------------------------------------------------------- CACHE-7
txt_before=$(dns_count _mta-sts.herd.test)
herd_pids=()
for i in $(seq 1 50); do
	q postfix herd.test > "$T/herd.$i" &
	herd_pids+=($!)
done
wait "${herd_pids[@]}"
check CACHE-7 "50 parallel lookups of uncached herd.test all answered '$(okmx herd)'" \
    50 "$(cat "$T"/herd.* | grep -cxF "$(okmx herd)")"
check CACHE-7 "... with exactly 1 GET" 1 "$(gets herd)" "CACHE-7 [D]"
check CACHE-7 "... and exactly 1 TXT query" 1 "$(( $(dns_count _mta-sts.herd.test) - txt_before ))" "CACHE-7 [D]"

# ---------------------------------------------------------------- mtasts -q / -t
# mq DOMAIN [CONF]: runs mtasts -q in the namespace; prints its stdout and "rc=N"
mq() {
	local out rc
	out=$(inns timeout 20 "$MTASTS" -q "$1" -c "${2:-$T/mtasts.conf}" 2>>"$T/mq.err")
	rc=$?
	printf '%s\nrc=%d\n' "$out" "$rc"
}
# has_line OUTPUT LINE -> yes / the output
has_line() { printf '%s\n' "$1" | grep -qxF -- "$2" && echo yes || echo "no line [$2] in: $(printf '%s' "$1" | paste -sd'|' -)"; }

if [ "$IMPL" = ref ]; then
	skip_mtasts_only "mtasts -q, mtasts -t, listen forms, config keys, SIGTERM"
else
	out=$(mq enforce.test)
	check CLI "mtasts -q enforce.test exits 0" yes "$(has_line "$out" rc=0)"
	for line in "id: enf1" "mode: enforce" "mx: mail.enforce.test" "mx: *.mx.enforce.test" \
	    "max_age: 86400" "answer: $E_ENF"; do
		check CLI "mtasts -q enforce.test prints '$line'" yes "$(has_line "$out" "$line")"
	done
	check POL-11 "mtasts -q enforce.test: 2 mx lines (duplicate dropped)" 2 "$(printf '%s\n' "$out" | grep -c '^mx: ')"
	check CLI "mtasts -q notxt.test exits 1 (no policy)" yes "$(has_line "$(mq notxt.test)" rc=1)"
	check CLI "mtasts -q none.test exits 1 (mode none applies no policy)" yes "$(has_line "$(mq none.test)" rc=1)"
	check CLI "mtasts -q .enforce.test exits 1" yes "$(has_line "$(mq .enforce.test)" rc=1)"
	out=$(mq cname.test)
	check DNS-11 "mtasts -q cname.test: id from the CNAME target" yes "$(has_line "$out" "id: cnametgt1")"
	check TXT-1 "mtasts -q joined.test: strings joined" yes "$(has_line "$(mq joined.test)" "id: 20240101")"
	check TXT-5 "mtasts -q txtfirst.test: first id wins" yes "$(has_line "$(mq txtfirst.test)" "id: first")"
	check POL-5 "mtasts -q firstwins.test: first mode wins" yes "$(has_line "$(mq firstwins.test)" "mode: enforce")"
	check POL-8 "mtasts -q maxagebig.test: clamped" yes "$(has_line "$(mq maxagebig.test)" "max_age: 31557600")"
	out=$(inns timeout 20 "$MTASTS" -q 2>/dev/null; echo "rc=$?")
	check CLI "mtasts -q without a domain exits 2" yes "$(has_line "$out" rc=2)"
	check CLI "mtasts -q with a missing config file exits 2" yes \
	    "$(has_line "$(mq enforce.test "$T/no-such.conf")" rc=2)"
	printf 'listen = 127.0.0.1:8461\nno_such_key = 1\n' > "$T/bad.conf"
	check CLI "mtasts -q with an unknown config key exits 2" yes "$(has_line "$(mq enforce.test "$T/bad.conf")" rc=2)"
	inns "$MTASTS" -t -c "$T/mtasts.conf" >/dev/null 2>&1
	check CLI "mtasts -t accepts the test config" 0 "$?"
	inns "$MTASTS" -t -c "$T/bad.conf" >/dev/null 2>&1
	check CLI "mtasts -t rejects an unknown key (exit 2)" 2 "$?"

	# config keys: nameserver overrides resolv_conf, resolv_conf, ca_file
	: > "$T/empty-resolv.conf"
	echo "nameserver $DNS_IP" > "$T/resolv2.conf"
	printf 'resolv_conf = %s\nnameserver = 127.0.0.53:53\n' "$T/empty-resolv.conf" > "$T/ns.conf"
	check DNS-1 "nameserver = 127.0.0.53:53 with an empty resolv_conf" yes "$(has_line "$(mq enforce.test "$T/ns.conf")" rc=0)"
	printf 'resolv_conf = %s\n' "$T/resolv2.conf" > "$T/rc.conf"
	check DNS-1 "resolv_conf = another file" yes "$(has_line "$(mq enforce.test "$T/rc.conf")" rc=0)"
	printf 'resolv_conf = %s\n' "$T/empty-resolv.conf" > "$T/nons.conf"
	check DNS-1 "resolv_conf without nameserver: no policy" yes "$(has_line "$(mq enforce.test "$T/nons.conf")" rc=1)"
	printf 'ca_file = %s\n' "$T/pki/other-ca.crt" > "$T/ca.conf"
	check TLS-2 "ca_file = other CA: otherca.test is trusted" yes "$(has_line "$(mq otherca.test "$T/ca.conf")" rc=0)"
	check TLS-2 "ca_file = other CA: enforce.test is not" yes "$(has_line "$(mq enforce.test "$T/ca.conf")" rc=1)"

	# listen forms: [::1]:PORT, unix:PATH, several at once
	cat > "$T/listen.conf" <<-EOF
	listen = 127.0.0.1:8463
	listen = [::1]:8464
	listen = unix:$T/mtasts.sock
	EOF
	ip netns exec "$NS" "$MTASTS" -c "$T/listen.conf" -v 3 >>"$T/mtasts-listen.log" 2>&1 &
	lpid=$!
	PIDS+=("$lpid")
	if wait_port 8463 "$lpid"; then
		check SM-13 "listen = [::1]:8464" "$E_ENF" \
		    "$(out=$(inns timeout 20 postmap -c "$T/postfix" -q enforce.test "socketmap:inet:[::1]:8464:postfix" 2>&1) && echo "OK $out" || echo "ERROR $out")"
		check SM-13 "listen = unix:PATH" "$E_ENF" \
		    "$(out=$(inns timeout 20 postmap -c "$T/postfix" -q enforce.test "socketmap:unix:$T/mtasts.sock:postfix" 2>&1) && echo "OK $out" || echo "ERROR $out")"
	else
		fail "SM-13 second mtasts with three listen lines did not start: $(tail -3 "$T/mtasts-listen.log")"
	fi
	kill "$lpid" 2>/dev/null
	wait "$lpid" 2>/dev/null
fi

# ---------------------------------------------------------------- the daemon itself
if [ "$IMPL" = ref ]; then
	check SM-12 "reference daemon still running after all cases" yes "$(kill -0 "$REF_PID" 2>/dev/null && echo yes || echo no)"
else
	check SM-12 "mtasts still running after all cases" yes "$(kill -0 "$MTASTS_PID" 2>/dev/null && echo yes || echo "no: $(tail -3 "$T/mtasts.log")")"
	check SEC-12 "no sanitizer report in the daemon log" 0 "$(grep -c -E 'Sanitizer|runtime error' "$T/mtasts.log")"
	if [ -n "$MTASTS_PID" ] && kill -0 "$MTASTS_PID" 2>/dev/null; then
		kill -TERM "$MTASTS_PID"
		rc=timeout
		for i in $(seq 1 50); do
			kill -0 "$MTASTS_PID" 2>/dev/null || { wait "$MTASTS_PID"; rc=$?; break; }
			sleep 0.1
		done
		check SEC-12 "SIGTERM: mtasts exits 0 within 5 s" 0 "$rc"
		MTASTS_PID=
	fi
fi

if [ "$FAILS" -ne 0 ]; then
	echo "--- tail of the daemon log"
	tail -n 40 "$T/$([ "$IMPL" = ref ] && echo ref || echo mtasts).log" 2>/dev/null
fi
finish
