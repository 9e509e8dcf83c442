#!/bin/bash
# tests/e2e/test_failures.sh - failure reports and refreshing only what is
# used, end to end in the test namespace through real postmap:
#   one failing domain per RFC 8460 result type (HTTP 404, connection
#   refused, no address for the policy host: sts-policy-fetch-error; an
#   expired and a wrong-name certificate: sts-webpki-invalid; no max_age:
#   sts-policy-invalid), each looked up twice: one log line with every
#   RPT-3 field, its fetch counted once under its type (RPT-1..RPT-3);
#   a cached enforce policy whose refresh fails: a warning with the cached
#   state, the policy still answered; a cached mode none one: debug only
#   (CACHE-9); proactive refresh with refresh_unused_after: a domain is
#   refreshed while Postfix asks for it, no longer once it is not asked
#   for, and again after it is (CACHE-16).
#
#   sh tests/e2e/test_failures.sh                  ./mtasts (or MTASTS=path)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

failure_fixtures() {
	site flip                       # enforce: its policy file goes away later
	txt flipnone '"v=STSv1; id=fn1"'; host flipnone $WEB_IP; vhost flipnone
	policy flipnone "version: STSv1" "mode: none" "max_age: 86400"
	site used                       # for refresh_unused_after
}
EXTRA_FIXTURES="failure_fixtures"
. "$(dirname "$0")/lib.sh"

world_up
CTL=$T/ctl.sock
cat > "$T/fail.conf" <<EOF
listen = 127.0.0.1:$MTASTS_PORT
control = unix:$CTL
cache_grace = 1
backoff_max = 1
EOF
start_mtasts "$T/fail.conf" || DAEMON_DOWN="mtasts did not start"

ctl() { inns timeout 10 "$MTASTS" -c "$T/fail.conf" "$@" 2>&1; }
# counter TYPE: mtasts_fetches_total{result=TYPE} from the STATS command
counter() {
	ctl -S | awk -v s="mtasts_fetches_total{result=\"$1\"}" '$1 == s { print $2; f = 1 }
	    END { if (!f) print "none" }'
}
counters() { echo "$(counter ok) $(counter sts-policy-fetch-error) $(counter sts-webpki-invalid) $(counter sts-policy-invalid)"; }
# moved BEFORE AFTER: the four counters' growth, "ok fetch webpki policy"
moved() {
	local a=($1) b=($2) i out=
	for i in 0 1 2 3; do
		case "${a[i]}${b[i]}" in *none*) out+="absent "; continue ;; esac
		out+="$((b[i] - a[i])) "
	done
	echo "${out% }"
}
mlog() { grep -F "mtasts[$MTASTS_PID]" "$T/mtasts.log"; }
# quiet DOMAIN: wait (at most 10 s) until every lookup of DOMAIN has ended
quiet() {
	local i s d
	for i in $(seq 1 100); do
		s=$(mlog | grep -c " $1: lookup started")
		d=$(mlog | grep -c " $1: lookup done in")
		[ "$s" = "$d" ] && return 0
		sleep 0.1
	done
}
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

# ---------------------------------------------------------------- one domain per type
# DOMAIN ID TYPE REASON IP(- = not connected) COUNTERS-MOVED GETS(- = no server)
CASES=$(cat <<EOF
notfound nf1 sts-policy-fetch-error http-status-404 $WEB_IP 0 1 0 0|1
refused r1 sts-policy-fetch-error connect-refused - 0 1 0 0|-
nxhost nx1 sts-policy-fetch-error policy-host-not-resolved - 0 1 0 0|-
expired e1 sts-webpki-invalid BR_ERR_X509_EXPIRED $WEB_IP 0 0 1 0|0
wrongname w1 sts-webpki-invalid BR_ERR_X509_BAD_SERVER_NAME $WEB_IP 0 0 1 0|0
nomaxage nomaxage1 sts-policy-invalid policy:missing-max_age $WEB_IP 0 0 0 1|1
EOF
)
while IFS='|' read -r spec gets_want; do
	read -r m id type reason ip c0 c1 c2 c3 <<< "$spec"
	dom=$m.test
	before=$(counters)
	mark=$(dns_mark)
	check RPT-1 "$dom: first lookup through postmap" NOTFOUND "$(q postfix "$dom")"
	quiet "$dom"
	sleep 2.2                   # past cache_grace and the first backoff
	check RPT-1 "$dom: second lookup" NOTFOUND "$(q postfix "$dom")"
	sleep 0.3
	quiet "$dom"
	txtq=$(dns_since "$mark" | grep -c "^TXT _mta-sts.$dom\$")
	check_true RPT-3 "$dom: looked up twice (2 TXT queries, saw $txtq)" \
	    "$([ "$txtq" -ge 2 ] && echo yes || echo no)"
	line="$dom: no policy: .*; failure: time=$TS domain=$dom id=$id result=$type reason=$reason ip=$ip cached=none\$"
	check RPT-3 "$dom: one log line with every field (time domain id result=$type reason=$reason ip=$ip cached)" 1 \
	    "$(mlog | grep -cE "info: $line")"
	check RPT-3 "$dom: and no other failure line for it" 1 "$(mlog | grep -c "$dom: .*failure: ")"
	check RPT-3 "$dom: fetches_total moved by exactly one, under $type (ok fetch webpki policy)" \
	    "$c0 $c1 $c2 $c3" "$(moved "$before" "$(counters)")"
	[ "$gets_want" = - ] ||
	    check RPT-3 "$dom: the policy host saw $gets_want GET" "$gets_want" "$(gets "$m")"
done <<< "$CASES"

check RPT-3 "mtasts -q refused.test prints the failure with no ip" yes \
    "$(inns timeout 30 "$MTASTS" -q refused.test -c "$T/fail.conf" 2>/dev/null |
       grep -Eq "^failure: time=$TS domain=refused.test id=r1 result=sts-policy-fetch-error reason=connect-refused ip=- cached=none\$" && echo yes || echo no)"
check RPT-3 "the control dump shows the type of the last failure" yes \
    "$(ctl -d | grep -q '^expired.test .*failure=sts-webpki-invalid' && echo yes || echo "no: $(ctl -d | grep expired.test)")"

# ---------------------------------------------------------------- CACHE-9
check SETUP "flip.test: a policy cached" "$(okmx flip)" "$(q postfix flip.test)"
check SETUP "flipnone.test: a mode none policy cached" NOTFOUND "$(q postfix flipnone.test)"
rm -f "$T/www/flip/.well-known/mta-sts.txt" "$T/www/flipnone/.well-known/mta-sts.txt"
before=$(counters)
check SETUP "control REFRESH flip.test" "OK refreshing flip.test" "$(ctl -r flip.test)"
check SETUP "control REFRESH flipnone.test" "OK refreshing flipnone.test" "$(ctl -r flipnone.test)"
sleep 0.5; quiet flip.test; quiet flipnone.test
check CACHE-9 "flip.test: the failed refresh is a warning with the cached policy's state" 1 \
    "$(mlog | grep -cE "warning: flip.test: policy refresh failed: HTTP 404 \(not 200\); cached enforce policy \(id flip1\) kept, expires in [0-9]+ s; failure: time=$TS domain=flip.test id=flip1 result=sts-policy-fetch-error reason=http-status-404 ip=$WEB_IP cached=enforce expires=$TS\$")"
check CACHE-9 "... the cached policy still answers" "$(okmx flip)" "$(q postfix flip.test)"
check CACHE-9 "flipnone.test: debug level only (cached mode none)" "1 0" \
    "$(mlog | grep -cE "debug: flipnone.test: HTTP 404 \(not 200\); cached mode none kept; failure: .* cached=none expires=$TS\$") $(mlog | grep -E 'warning|info' | grep -c 'flipnone.test: .*failure')"
check RPT-3 "two failed refreshes: sts-policy-fetch-error +2" "0 2 0 0" "$(moved "$before" "$(counters)")"
stop_mtasts

# ---------------------------------------------------------------- CACHE-16
# policies older than 2 s are refreshed (sweeps every second), but only
# those that a socketmap request asked for within the last 3 s
cat > "$T/used.conf" <<EOF
listen = 127.0.0.1:$MTASTS_PORT
control = unix:$CTL
cache_grace = 300
proactive_fetch = yes
proactive_interval = 2
proactive_grace_ratio = 1
refresh_unused_after = 3
EOF
start_mtasts "$T/used.conf" || DAEMON_DOWN="mtasts did not start"
g0=$(gets used)
for i in $(seq 1 8); do          # asked for every second for 8 s
	r=$(q postfix used.test)
	[ "$r" = "$(okmx used)" ] || break
	sleep 1
done
check CACHE-16 "used.test answered while asked for" "$(okmx used)" "$r"
g1=$(gets used)
check_true CACHE-16 "used.test refreshed while in use ($g0 -> $g1 GETs: at least 3, the first fetch and 2 refreshes)" \
    "$([ $((g1 - g0)) -ge 3 ] && echo yes || echo no)"
sleep 4                          # unused now; a refresh under way ends
g2=$(gets used)
sleep 5
g3=$(gets used)
check CACHE-16 "not asked for: no more fetches over 5 s ($g2 -> $g3 GETs)" "$g2" "$g3"
check_true CACHE-16 "... the sweep says why" \
    "$(mlog | grep -Eq 'debug: used.test: no proactive refresh: not asked for in [0-9]+ s$' && echo yes || echo no)"
check CACHE-16 "... still cached: the next request is answered from the cache" "$(okmx used)" "$(q postfix used.test)"
sleep 2.5
g4=$(gets used)
check_true CACHE-16 "asked for again: refreshed again ($g3 -> $g4 GETs)" \
    "$([ "$g4" -gt "$g3" ] && echo yes || echo no)"
stop_mtasts

finish
