#!/bin/bash
# tests/e2e/test_reply.sh - the answer to Postfix beyond the ordinary case,
# through real postmap: policies of any mx count up to Postfix's
# 100000-byte reply (PFX-8, POL-11), over it a log line and NOTFOUND; the
# TLSRPT attributes of zone key tlsrpt (PFX-4), byte for byte
# for the RFC 8461 3.2 example; fetch_failure = fail (RPT-4, RPT-5); and a
# large policy that survives a restart through the snapshot (CACHE-13).
#
#   sh tests/e2e/test_reply.sh                     ./mtasts (or MTASTS=path)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

# NAME N: a policy of N mx lines m0.mx.test ..., enforce, max_age 86400
many_policy() {
	local n=$1
	txt "$n" "\"v=STSv1; id=${n}1\""; host "$n" $WEB_IP; vhost "$n"
	mkdir -p "$T/www/$n/.well-known"
	"$PY" -c 'import sys
print("version: STSv1\nmode: enforce")
for i in range(int(sys.argv[1])): print("mx: %s" % (sys.argv[2] % i))
print("max_age: 86400")' "$2" "$3" > "$T/www/$n/.well-known/mta-sts.txt"
}

reply_fixtures() {
	many_policy mx100 100 'mx%d.mx100.test'
	many_policy maxfit $MAXN 'm%d.mx.test'
	many_policy overmax $((MAXN + 1)) 'm%d.mx.test'
	# the RFC 8461 3.2 example, served for example.com itself
	DNSCONF+='txt-record=_mta-sts.example.com,"v=STSv1; id=rfc1"'$'\n'
	DNSCONF+="host-record=mta-sts.example.com,$WEB_IP"$'\n'
	mkdir -p "$T/www/example.com/.well-known"
	printf 'version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n' \
	    > "$T/www/example.com/.well-known/mta-sts.txt"
	cert example.com mta-sts.example.com DNS:mta-sts.example.com
	NGXSERVERS+="
    server {
        listen $WEB_IP:443 ssl;
        server_name mta-sts.example.com;
        ssl_certificate $T/pki/example.com.crt;
        ssl_certificate_key $T/pki/leaf.key;
        location / { root $T/www/example.com; }
    }"
}
EXTRA_FIXTURES="reply_fixtures"
. "$(dirname "$0")/lib.sh"
# MAXN: the most mx patterns m0.mx.test ... a valid policy may have: its
# longest answer (TLSRPT on, a 253-character domain, max_age 31557600,
# a 7-letter mode) must fit 100000 bytes
MAXN=$("$PY" - <<-'EOF'
	def longest(n):
	    p = ["m%d.mx.test" % i for i in range(n)]
	    return len("OK secure match=" + ":".join(p) + " servername=hostname policy_type=sts"
	               + " policy_domain=" + "a" * 253 + "".join(" mx_host_pattern=" + x for x in p)
	               + " { policy_string = version: STSv1 } { policy_string = mode: testing"
	               + "".join(" } { policy_string = mx: " + x for x in p)
	               + " } { policy_string = max_age: 31557600 }")
	n = 1
	while longest(n + 1) <= 100000:
	    n += 1
	print(n)
	EOF
)

conf() {
	cat > "$T/reply.conf" <<-EOF
	listen = 127.0.0.1:$MTASTS_PORT
	cache_size = 1000
	cache_file = $T/cache.snap

	[zone tlsrpt]
	tlsrpt = yes

	[zone fail]
	fetch_failure = fail

	[zone both]
	tlsrpt = yes
	fetch_failure = fail
	EOF
}

# the expected answers, written out by another program than mtasts
ok_many() { # N FORMAT [tlsrpt DOMAIN]
	"$PY" - "$@" <<-'EOF'
	import sys
	n, fmt = int(sys.argv[1]), sys.argv[2]
	p = [fmt % i for i in range(n)]
	s = "OK secure match=" + ":".join(p) + " servername=hostname"
	if len(sys.argv) > 3:
	    s += (" policy_type=sts policy_domain=" + sys.argv[4]
	          + "".join(" mx_host_pattern=" + x for x in p)
	          + " { policy_string = version: STSv1 } { policy_string = mode: enforce }"
	          + "".join(" { policy_string = mx: " + x + " }" for x in p)
	          + " { policy_string = max_age: 86400 }")
	print(s)
	EOF
}
sum() { printf '%s' "$1" | md5sum | cut -c1-32; }
# the same in short: length and checksum, so a mismatch does not print 100 kB
short() { printf '%s %s' "${#1}" "$(sum "$1")"; }

world_up
conf
start_mtasts "$T/reply.conf" || DAEMON_DOWN="mtasts did not start"
echo "# largest valid policy: $MAXN mx of m<i>.mx.test"

# ---------------------------------------------------------------- PFX-8: any size
exp=$(ok_many 100 'mx%d.mx100.test')
got=$(q postfix mx100.test)
check PFX-8 "mx100.test: 100 mx, the whole answer (${#exp} bytes)" "$exp" "$got"
exp=$(ok_many 100 'mx%d.mx100.test' tlsrpt mx100.test)
check PFX-4 "mx100.test, zone tlsrpt: 100 mx_host_pattern and policy_string mx (${#exp} bytes)" \
    "$(short "$exp")" "$(short "$(q tlsrpt mx100.test)")"
exp=$(ok_many $MAXN 'm%d.mx.test' tlsrpt maxfit.test)
got=$(q tlsrpt maxfit.test)
check PFX-8 "maxfit.test: $MAXN mx, TLSRPT answer of ${#exp} bytes (close to 100000) through postmap" \
    "$(short "$exp")" "$(short "$got")"
check_true PFX-8 "maxfit.test: the answer is over 99500 bytes and at most 100000" \
    "$([ "${#got}" -gt 99500 ] && [ "${#got}" -le 100000 ] && echo yes || echo "no, ${#got}")"
exp=$(ok_many $MAXN 'm%d.mx.test')
check PFX-8 "maxfit.test, default zone: the same policy without TLSRPT" \
    "$(short "$exp")" "$(short "$(q postfix maxfit.test)")"
got=$(q tlsrpt overmax.test)
check PFX-8 "overmax.test: one mx more, answer could pass 100000 bytes -> NOTFOUND" \
    NOTFOUND "${got:0:200}"
check_true POL-11 "overmax.test: a log line says why" \
    "$(grep -q 'overmax.test.*answer to Postfix would pass its 100000-byte limit' "$T/mtasts.log" &&
       echo yes || echo "no such line in the log")"
check_true PFX-8 "maxfit.test fetched once for all its lookups" \
    "$([ "$(gets maxfit)" = 1 ] && echo yes || echo "no, $(gets maxfit) GETs")"
# several big answers at once, more clients than big buffers (4): all whole
pids=
for i in 1 2 3 4 5 6; do q tlsrpt maxfit.test > "$T/par.$i" & pids="$pids $!"; done
wait $pids
good=0
for i in 1 2 3 4 5 6; do [ "$(cat "$T/par.$i")" = "$(ok_many $MAXN 'm%d.mx.test' tlsrpt maxfit.test)" ] &&
    good=$((good + 1)); done
check PFX-8 "6 parallel lookups of maxfit.test (4 big buffers): 6 whole answers" 6 "$good"

# ---------------------------------------------------------------- PFX-4: TLSRPT
rfc='OK secure match=mail.example.com:.example.net:backupmx.example.com servername=hostname policy_type=sts policy_domain=example.com mx_host_pattern=mail.example.com mx_host_pattern=*.example.net mx_host_pattern=backupmx.example.com { policy_string = version: STSv1 } { policy_string = mode: enforce } { policy_string = mx: mail.example.com } { policy_string = mx: *.example.net } { policy_string = mx: backupmx.example.com } { policy_string = max_age: 604800 }'
check PFX-4 "example.com, zone tlsrpt: the RFC 8461 3.2 example, exact (457 bytes)" "$rfc" \
    "$(q tlsrpt example.com)"
check PFX-4 "the same on the wire: 457:...," "457:$rfc," \
    "$(raw "$MTASTS_PORT" 1 "$(ns 'tlsrpt example.com')")"
check PFX-4 "example.com, default zone: no TLSRPT attribute" \
    "OK secure match=mail.example.com:.example.net:backupmx.example.com servername=hostname" \
    "$(q postfix example.com)"
check PFX-4 "enforce.test, zone tlsrpt: patterns as published, repeat dropped" \
    "OK secure match=mail.enforce.test:.mx.enforce.test servername=hostname policy_type=sts policy_domain=enforce.test mx_host_pattern=mail.enforce.test mx_host_pattern=*.mx.enforce.test { policy_string = version: STSv1 } { policy_string = mode: enforce } { policy_string = mx: mail.enforce.test } { policy_string = mx: *.mx.enforce.test } { policy_string = max_age: 86400 }" \
    "$(q tlsrpt enforce.test)"
check PFX-7 "testing.test, zone tlsrpt: still NOTFOUND (no report-only level, RPT-6)" NOTFOUND \
    "$(q tlsrpt testing.test)"
check RPT-5 "notxt.test, zone tlsrpt: NOTFOUND, never policy_type=no-policy-found" NOTFOUND \
    "$(q tlsrpt notxt.test)"

# ---------------------------------------------------------------- RPT-4: fetch_failure
fa() { echo "OK secure policy_type=sts policy_domain=$1 policy_failure=$2"; }
check RPT-4 "notfound.test (404), zone fail: sts-policy-fetch-error" \
    "$(fa notfound.test sts-policy-fetch-error)" "$(q fail notfound.test)"
check RPT-4 "nomx.test (invalid policy), zone fail: sts-policy-invalid" \
    "$(fa nomx.test sts-policy-invalid)" "$(q fail nomx.test)"
check RPT-4 "untrusted.test (self-signed), zone fail: sts-webpki-invalid" \
    "$(fa untrusted.test sts-webpki-invalid)" "$(q fail untrusted.test)"
check RPT-4 "overmax.test (answer too big), zone both: sts-policy-invalid" \
    "$(fa overmax.test sts-policy-invalid)" "$(q both overmax.test)"
check CACHE-6 "notfound.test, default zone: fails open, NOTFOUND" NOTFOUND "$(q postfix notfound.test)"
check RPT-5 "notxt.test (no TXT), zone fail: NOTFOUND" NOTFOUND "$(q fail notxt.test)"
check RPT-5 "servfail.test (DNS failure), zone fail: NOTFOUND" NOTFOUND "$(q fail servfail.test)"
check RPT-4 "enforce.test, zone fail: the policy" \
    "OK secure match=mail.enforce.test:.mx.enforce.test servername=hostname" "$(q fail enforce.test)"

# ---------------------------------------------------------------- CACHE-13: restart
before=$(q tlsrpt maxfit.test)
stop_mtasts
check_true CACHE-13 "the snapshot holds maxfit.test" \
    "$(grep -q ' P maxfit.test ' "$T/cache.snap" && echo yes || echo "no maxfit.test record")"
rm -f "$T/www/maxfit/.well-known/mta-sts.txt"     # only the snapshot has it now
start_mtasts "$T/reply.conf" || DAEMON_DOWN="mtasts did not restart"
check PFX-8 "after a restart: maxfit.test answered from the snapshot, the same answer" \
    "$(short "$before")" "$(short "$(q tlsrpt maxfit.test)")"
check CACHE-13 "after a restart: no new fetch of maxfit.test" 1 "$(gets maxfit)"
check_true CACHE-13 "the snapshot loaded whole, no bad line" \
    "$(grep -q 'policies loaded, [0-9]* expired, 0 bad' "$T/mtasts.log" &&
       ! grep -q damaged "$T/mtasts.log" && echo yes || echo "no: $(grep cache_file "$T/mtasts.log")")"

stop_mtasts
check SEC-12 "no sanitizer report in the daemon log" 0 "$(grep -c -E 'Sanitizer|runtime error' "$T/mtasts.log")"
finish
