#!/bin/bash
# tests/e2e/test_explain.sh - the one-line explanations of why a domain has
# no policy (README "Troubleshooting"), each produced by a real misconfigured
# test domain: in `mtasts -q` output, in the daemon's log (once per domain and
# failure, however many lookups), `mtasts -q -j` as JSON, `-v 3` steps.
#
#   sh tests/e2e/test_explain.sh                   ./mtasts (or MTASTS=path)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

HANG_DNS_IP=127.0.0.4      # a DNS server that takes queries and never answers

# fixtures of this test only (EXTRA_FIXTURES, see lib.sh)
explain_fixtures() {
	# TXT-4: an id of 40 characters
	txt longid.xpl '"v=STSv1; id=0123456789012345678901234567890123456789"'
	host longid.xpl $WEB_IP; std_policy longid.xpl; vhost longid.xpl
	# POL-8: max_age on line 3 is not a number
	txt maxagenan.xpl '"v=STSv1; id=xpl1"'; host maxagenan.xpl $WEB_IP; vhost maxagenan.xpl
	policy maxagenan.xpl "version: STSv1" "mode: enforce" "max_age: soon" "mx: mail.maxagenan.xpl.test"
	# POL-9: an IP address as mx on line 2
	txt mxip.xpl '"v=STSv1; id=xpl2"'; host mxip.xpl $WEB_IP; vhost mxip.xpl
	policy mxip.xpl "version: STSv1" "mx: 10.0.0.1" "mode: enforce" "max_age: 86400"
	# POL-2: no version line
	txt nover.xpl '"v=STSv1; id=xpl3"'; host nover.xpl $WEB_IP; vhost nover.xpl
	policy nover.xpl "mode: enforce" "mx: mail.nover.xpl.test" "max_age: 86400"
}
EXTRA_FIXTURES="explain_fixtures"
. "$(dirname "$0")/lib.sh"

# DOMAIN ZONE EXPLANATION: what mtasts says for each failing domain.  The
# first ten are the issue's examples, the others the remaining failure paths.
CASES=$(cat <<'EOF'
notxt.test||no TXT record _mta-sts.notxt.test
twotxt.test||two STSv1 TXT records
longid.xpl.test||TXT id has 40 characters (at most 32)
wrongname.test||TLS: certificate not valid for mta-sts.wrongname.test (BR_ERR_X509_BAD_SERVER_NAME)
redirect.test||HTTP 301 (redirects are not followed)
html.test||Content-Type text/html (must be text/plain)
big.test||body over 64 KiB
maxagenan.xpl.test||policy line 3: max_age not a number
mxip.xpl.test||mx line 2: '10.0.0.1' is an IP address
badtxt.test||TXT id is empty
servfail.test||DNS server 127.0.0.53 answered SERVFAIL
nxhost.test||no address (A or AAAA record) for mta-sts.nxhost.test
refused.test||connection refused by 127.0.0.5 port 443
hang.test|quick|TLS handshake not finished with 127.0.0.3 port 443 after 2 s
untrusted.test||TLS: certificate not issued by a trusted CA (BR_ERR_X509_NOT_TRUSTED)
otherca.test||TLS: certificate not issued by a trusted CA (BR_ERR_X509_NOT_TRUSTED)
expired.test||TLS: certificate expired or not yet valid (BR_ERR_X509_EXPIRED)
nosan.test||TLS: certificate has no DNS name (subjectAltName), so not valid for mta-sts.nosan.test (BR_ERR_X509_BAD_SERVER_NAME)
notfound.test||HTTP 404 (not 200)
bigchunked.test||body over 64 KiB
garbage.test||policy line 1: not a 'name: value' line
nomx.test||policy: no mx line (mode enforce and testing need one)
nomaxage.test||policy: no max_age line
nover.xpl.test||policy: no version line (the first line should be 'version: STSv1')
EOF
)

world_up
# a short cache_grace, so that a second lookup of a failing domain runs
# again (after the backoff's first second) instead of answering from cache
cat > "$T/explain.conf" <<-EOF
	listen = 127.0.0.1:$MTASTS_PORT
	cache_grace = 1
	backoff_max = 1
	[zone quick]
	timeout = 2
	EOF
# query mode against the DNS server that never answers, timeout 4 s
cat > "$T/hangdns.conf" <<-EOF
	nameserver = $HANG_DNS_IP
	timeout = 4
	EOF
ip netns exec "$NS" "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
s.settimeout(1)
end = time.monotonic() + 600
while time.monotonic() < end:
    try:
        s.recvfrom(4096)      # taken, never answered
    except socket.timeout:
        pass
' $HANG_DNS_IP >"$T/hangdns.out" 2>&1 &
PIDS+=($!)

# mq DOMAIN [ZONE] [CONF] [ARGS...]: mtasts -q in the namespace, stdout only
mq() {
	local d=$1 z=${2:-} c=${3:-$T/explain.conf}
	shift 3 2>/dev/null || shift $#
	if [ -n "$z" ]; then
		inns timeout 30 "$MTASTS" -q "$d" -z "$z" -c "$c" "$@" 2>>"$T/mq.err"
	else
		inns timeout 30 "$MTASTS" -q "$d" -c "$c" "$@" 2>>"$T/mq.err"
	fi
}
# has_prefix TEXT PREFIX: a line of TEXT starts with PREFIX
has_prefix() {
	printf '%s\n' "$1" | awk -v p="$2" 'index($0, p) == 1 { f = 1 } END { exit !f }' &&
	    echo yes || echo "no line [$2...] in: $(printf '%s' "$1" | paste -sd'|' -)"
}

# ---------------------------------------------------------------- query mode
while IFS='|' read -r dom zone exp; do
	out=$(mq "$dom" "$zone")
	check EXPLAIN "mtasts -q $dom: $exp" yes "$(has_prefix "$out" "result: no policy: $exp")"
done <<< "$CASES"

t0=$(ms)
out=$(mq enforce.test "" "$T/hangdns.conf")
t1=$(ms)
check EXPLAIN "mtasts -q with a DNS server that never answers: DNS timeout" yes \
    "$(has_prefix "$out" "result: no policy: DNS timeout at $HANG_DNS_IP after 4 s")"
check EXPLAIN "... after the zone timeout of 4 s" yes \
    "$(d=$((t1 - t0)); [ $d -ge 3900 ] && [ $d -lt 6000 ] && echo yes || echo "no, $d ms")"
check EXPLAIN "mtasts -q wrongname.test keeps the RFC 8460 reason code" yes \
    "$(has_prefix "$(mq wrongname.test)" "result: no policy: TLS: certificate not valid for mta-sts.wrongname.test (BR_ERR_X509_BAD_SERVER_NAME) [sts-webpki-invalid BR_ERR_X509_BAD_SERVER_NAME]")"
check EXPLAIN "mtasts -q notfound.test keeps http-status-404" yes \
    "$(has_prefix "$(mq notfound.test)" "result: no policy: HTTP 404 (not 200) [sts-policy-fetch-error http-status-404]")"
check EXPLAIN "mtasts -q notfound.test: a failure: line with the RPT-3 fields" yes \
    "$(mq notfound.test | grep -Eq "^failure: time=[0-9-]{10}T[0-9:]{8}Z domain=notfound.test id=nf1 result=sts-policy-fetch-error reason=http-status-404 ip=$WEB_IP cached=none\$" && echo yes || echo no)"
check EXPLAIN "mtasts -q nomaxage.test: policy reason code as one word" yes \
    "$(mq nomaxage.test | grep -q "^failure: .* result=sts-policy-invalid reason=policy:missing-max_age ip=" && echo yes || echo no)"
check EXPLAIN "mtasts -q notxt.test: no failure: line (not a fetch)" 0 "$(mq notxt.test | grep -c '^failure:')"

# ---------------------------------------------------------------- -v 3: steps
out=$(mq enforce.test "" "" -v 3)
for s in "TXT query" "A query" "AAAA query" "connect" "TLS handshake" "HTTP response" "parse"; do
	check EXPLAIN "mtasts -q enforce.test -v 3: step '$s' with its duration" yes \
	    "$(printf '%s\n' "$out" | grep -Eq "^step: $s: [0-9]+ ms: " && echo yes ||
	       echo "no: $(printf '%s' "$out" | paste -sd'|' -)")"
done
check EXPLAIN "... HTTP response step says HTTP 200" yes \
    "$(printf '%s\n' "$out" | grep -Eq '^step: HTTP response: [0-9]+ ms: HTTP 200, 110 bytes$' && echo yes || echo no)"
check EXPLAIN "... the answer is still printed" yes \
    "$(printf '%s\n' "$out" | grep -qx "answer: $E_ENF" && echo yes || echo no)"
out=$(mq enforce.test)
check EXPLAIN "without -v 3 no step lines" 0 "$(printf '%s\n' "$out" | grep -c '^step: ')"
out=$(mq wrongname.test "" "" -v 3)
check EXPLAIN "mtasts -q wrongname.test -v 3: the TLS handshake step carries the reason" yes \
    "$(printf '%s\n' "$out" | grep -Eq '^step: TLS handshake: [0-9]+ ms: TLS: certificate not valid' && echo yes ||
       echo "no: $(printf '%s' "$out" | paste -sd'|' -)")"

# ---------------------------------------------------------------- -j: JSON
jcheck() { # jcheck DOMAIN ZONE PYTHON-ASSERTIONS...: parse with json.tool, then check fields
	local dom=$1 zone=$2 out rc
	shift 2
	out=$(mq "$dom" "$zone" "" -j)
	rc=$?
	printf '%s\n' "$out" > "$T/j.json"
	if ! "$PY" -m json.tool "$T/j.json" >/dev/null 2>"$T/j.err"; then
		echo "no: json.tool: $(head -1 "$T/j.err"): $out"
		return
	fi
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || { echo "no: not one line"; return; }
	"$PY" - "$T/j.json" "$rc" "$@" <<-'PYEOF'
	import json, re, sys
	j = json.load(open(sys.argv[1]))
	rc = int(sys.argv[2])
	try:
	    for a in sys.argv[3:]:
	        assert eval(a), a
	    print("yes")
	except AssertionError as e:
	    print("no: %s in %s" % (e, json.dumps(j)))
	PYEOF
}
check EXPLAIN "mtasts -q enforce.test -j: one JSON object with every field" yes "$(jcheck enforce.test "" \
    'rc == 0' \
    'sorted(j) == sorted(["domain", "zone", "id", "mode", "mx", "max_age", "answer", "why", "code", "failure", "steps"])' \
    'j["failure"] is None' \
    'j["domain"] == "enforce.test"' 'j["zone"] == ""' 'j["id"] == "enf1"' 'j["mode"] == "enforce"' \
    'j["mx"] == ["mail.enforce.test", "*.mx.enforce.test"]' 'j["max_age"] == 86400' \
    'j["answer"] == "OK secure match=mail.enforce.test:.mx.enforce.test servername=hostname"' \
    'j["why"] == "policy fetched (id enf1, mode enforce, max_age 86400)"' 'j["code"] == ""' \
    '[s["step"] for s in j["steps"]] == ["TXT query", "A query", "AAAA query", "connect", "TLS handshake", "HTTP response", "parse"]' \
    'all(isinstance(s["ms"], int) and s["ms"] >= 0 and isinstance(s["result"], str) for s in j["steps"])' \
    'j["steps"][5]["result"] == "HTTP 200, 110 bytes"')"
check EXPLAIN "mtasts -q wrongname.test -j: why, code, answer NOTFOUND" yes "$(jcheck wrongname.test "" \
    'rc == 1' 'j["id"] == "w1"' 'j["mode"] is None' 'j["mx"] == []' 'j["max_age"] is None' \
    'j["answer"] == "NOTFOUND "' \
    'j["why"] == "TLS: certificate not valid for mta-sts.wrongname.test (BR_ERR_X509_BAD_SERVER_NAME)"' \
    'j["code"] == "sts-webpki-invalid BR_ERR_X509_BAD_SERVER_NAME"' \
    'j["failure"]["result"] == "sts-webpki-invalid"' \
    'j["failure"]["reason"] == "BR_ERR_X509_BAD_SERVER_NAME"' \
    'j["failure"]["ip"] == "'$WEB_IP'"' \
    're.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", j["failure"]["time"]) is not None' \
    'j["steps"][-1]["step"] == "TLS handshake"')"
check EXPLAIN "mtasts -q refused.test -j: failure without an ip (no connection)" yes "$(jcheck refused.test "" \
    'j["failure"]["result"] == "sts-policy-fetch-error"' 'j["failure"]["reason"] == "connect-refused"' \
    'j["failure"]["ip"] is None')"
check EXPLAIN "mtasts -q notxt.test -j: no id, one step" yes "$(jcheck notxt.test "" \
    'rc == 1' 'j["id"] is None' 'j["why"] == "no TXT record _mta-sts.notxt.test"' \
    '[s["step"] for s in j["steps"]] == ["TXT query"]' 'j["steps"][0]["result"] == "NXDOMAIN"')"
check EXPLAIN "mtasts -q hang.test -z quick -j: zone quick" yes "$(jcheck hang.test quick \
    'j["zone"] == "quick"' 'j["why"] == "TLS handshake not finished with 127.0.0.3 port 443 after 2 s"')"
check EXPLAIN "mtasts -q '[192.0.2.1]' -j: a key that is no domain" yes "$(jcheck '[192.0.2.1]' "" \
    'rc == 1' 'j["answer"] == "NOTFOUND "' 'j["why"] == "not a policy domain"')"

# ---------------------------------------------------------------- the daemon's log
start_mtasts "$T/explain.conf" || DAEMON_DOWN="mtasts did not start"
# mlog_count TEXT: lines of the daemon's log that contain TEXT
mlog_count() { grep -cF -- "$1" "$T/mtasts.log"; }
round() {
	local pids=()
	while IFS='|' read -r dom zone exp; do
		q "${zone:-postfix}" "$dom" > /dev/null &
		pids+=($!)
	done <<< "$CASES"
	wait "${pids[@]}"
}
round
sleep 2.5                        # past cache_grace and the first backoff
round
sleep 3                          # the background rechecks of round 2 (hang.test: 2 s)
while IFS='|' read -r dom zone exp; do
	check EXPLAIN "daemon log: $dom: no policy: $exp" 1 "$(mlog_count "$dom: no policy: $exp")"
done <<< "$CASES"
check EXPLAIN "daemon log: the fetch failures keep their reason code" 1 \
    "$(mlog_count "wrongname.test: no policy: TLS: certificate not valid for mta-sts.wrongname.test (BR_ERR_X509_BAD_SERVER_NAME); failure: time=")"
check EXPLAIN "... with the RPT-3 fields" 1 \
    "$(grep -cE "wrongname.test: no policy: .*; failure: time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z domain=wrongname.test id=w1 result=sts-webpki-invalid reason=BR_ERR_X509_BAD_SERVER_NAME ip=$WEB_IP cached=none\$" "$T/mtasts.log")"
# the TXT failures were looked up twice (two TXT queries) and logged once
for dom in notxt.test twotxt.test longid.xpl.test badtxt.test; do
	check EXPLAIN "daemon: $dom looked up twice (2 TXT queries), logged once" yes \
	    "$(n=$(grep -c "query\[TXT\] _mta-sts.$dom " "$T/dns.log"); [ "$n" -ge 2 ] && echo yes || echo "no, $n TXT queries")"
done
q postfix enforce.test > /dev/null
check EXPLAIN "daemon log: no 'no policy' line for a domain with a policy" 0 "$(mlog_count "enforce.test: no policy")"
stop_mtasts

# the daemon with the DNS server that never answers: two lookups, one line
sed "s/^nameserver.*/&\nlisten = 127.0.0.1:$MTASTS_PORT\ncache_grace = 1\nbackoff_max = 1/" \
    "$T/hangdns.conf" > "$T/hangdnsd.conf"
mark=$(wc -l < "$T/mtasts.log")
start_mtasts "$T/hangdnsd.conf" || DAEMON_DOWN="mtasts did not start"
q postfix enforce.test > /dev/null
sleep 1.5
q postfix enforce.test > /dev/null   # answered from cache, rechecked behind
sleep 5
check EXPLAIN "daemon log: enforce.test: no policy: DNS timeout at $HANG_DNS_IP after 4 s, once" 1 \
    "$(mlog_count "enforce.test: no policy: DNS timeout at $HANG_DNS_IP after 4 s")"
check EXPLAIN "... though it was looked up twice" 2 "$(tail -n +"$((mark + 1))" "$T/mtasts.log" | grep -c 'enforce.test: lookup done in')"
stop_mtasts

finish
