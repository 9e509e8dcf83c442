#!/bin/bash
# tests/e2e/test_idn.sh - international domain names (KEY-9, KEY-11,
# IDN-1..IDN-3) through real postmap: a U-label key is looked up under its
# A-label (DNS, SNI, Host, certificate), every spelling of the name shares
# one cache entry, invalid UTF-8 and invalid labels are NOTFOUND on a
# connection that stays usable, and mtasts -q shows both forms.
#
#   sh tests/e2e/test_idn.sh                       ./mtasts (or MTASTS=path)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

U_BUECHER=$'b\xc3\xbccher'                 # "bücher" in UTF-8
A_BUECHER=xn--bcher-kva
U_EXAMPLE=$'\xe4\xbe\x8b\xe5\xad\x90'      # "例子" (Chinese "example")
A_EXAMPLE=xn--fsqu00a
U_MUENCHEN=$'m\xc3\xbcnchen'              # "münchen"
A_MUENCHEN=xn--mnchen-3ya

# fixtures of this test only (EXTRA_FIXTURES, see lib.sh): the policy
# hosts' certificates name the A-label, and the mx patterns are A-labels
# (RFC 8461 3.2)
idn_fixtures() {
	txt $A_BUECHER '"v=STSv1; id=idn1"'
	host $A_BUECHER $WEB_IP
	policy $A_BUECHER "version: STSv1" "mode: enforce" "mx: mail.$A_BUECHER.test" \
	    "mx: *.$A_MUENCHEN.test" "max_age: 86400"
	vhost $A_BUECHER
	txt $A_EXAMPLE '"v=STSv1; id=idn2"'
	host $A_EXAMPLE $WEB_IP
	std_policy $A_EXAMPLE
	vhost $A_EXAMPLE
	# a policy that writes an mx pattern as a U-label: invalid (RFC 8461 3.2)
	txt $A_MUENCHEN '"v=STSv1; id=idn3"'
	host $A_MUENCHEN $WEB_IP
	policy $A_MUENCHEN "version: STSv1" "mode: enforce" "mx: mail.$U_MUENCHEN.test" "max_age: 86400"
	vhost $A_MUENCHEN
}
EXTRA_FIXTURES="idn_fixtures"
. "$(dirname "$0")/lib.sh"

world_up
SOCK=$T/ctl.sock
cat > "$T/idn.conf" <<-EOF
	listen = 127.0.0.1:$MTASTS_PORT
	control = unix:$SOCK
	cache_grace = 300
	EOF
start_mtasts "$T/idn.conf" || DAEMON_DOWN="mtasts did not start"
PORT=$MTASTS_PORT
E_B="OK secure match=mail.$A_BUECHER.test:.$A_MUENCHEN.test servername=hostname"
nf='9:NOTFOUND ,'

# qdns ID DESC KEY EXPECTED-ANSWER EXPECTED-DNS: one postmap lookup, and the
# DNS queries it caused (space-separated, "" for none)
qdns() {
	local mark got dns
	mark=$(dns_mark)
	got=$(q postfix "$3")
	dns=$(dns_since "$mark" | paste -sd' ' -)
	check "$1" "$2 -> answer" "$4" "$got"
	check "$1" "$2 -> DNS queries" "$5" "$dns"
}

# ---------------------------------------------------------------- U-label first
qdns IDN-1 "postmap -q $U_BUECHER.test: looked up as $A_BUECHER.test" "$U_BUECHER.test" "$E_B" \
    "TXT _mta-sts.$A_BUECHER.test A mta-sts.$A_BUECHER.test AAAA mta-sts.$A_BUECHER.test"
check KEY-11 "nginx saw SNI and Host mta-sts.$A_BUECHER.test" 1 \
    "$(grep -c "^mta-sts.$A_BUECHER.test sni=mta-sts.$A_BUECHER.test host=mta-sts.$A_BUECHER.test \"GET /.well-known/mta-sts.txt HTTP/1.1\" 200\$" "$T/access.log")"
# every other spelling: the same answer from the same cache entry
for k in "$A_BUECHER.test" "XN--BCHER-KVA.TEST" $'B\xc3\x9cCHER.test' "$U_BUECHER.test." \
    "[$U_BUECHER.test]:25" "$U_BUECHER.test:smtp"; do
	qdns KEY-11 "postmap -q '$k': from the cache" "$k" "$E_B" ""
done
check KEY-11 "one TXT query for _mta-sts.$A_BUECHER.test in all" 1 "$(dns_count "_mta-sts.$A_BUECHER.test")"
check KEY-11 "one policy fetch in all" 1 "$(gets $A_BUECHER)"

# ---------------------------------------------------------------- A-label first
qdns IDN-1 "postmap -q $A_EXAMPLE.test" "$A_EXAMPLE.test" "$(okmx $A_EXAMPLE)" \
    "TXT _mta-sts.$A_EXAMPLE.test A mta-sts.$A_EXAMPLE.test AAAA mta-sts.$A_EXAMPLE.test"
qdns KEY-11 "postmap -q $U_EXAMPLE.test: from the cache" "$U_EXAMPLE.test" "$(okmx $A_EXAMPLE)" ""
# an international name without a policy: looked up as its A-label
qdns IDN-1 "postmap -q m${U_BUECHER#b}.test (no such domain)" "m${U_BUECHER#b}.test" NOTFOUND \
    "TXT _mta-sts.xn--mcher-kva.test"

# mx patterns are A-labels (RFC 8461 3.2): a U-label pattern makes the policy invalid
check IDN-1 "postmap -q $U_MUENCHEN.test: its policy has a U-label mx pattern" NOTFOUND \
    "$(q postfix "$U_MUENCHEN.test")"
check IDN-1 "... fetched from mta-sts.$A_MUENCHEN.test" 1 "$(gets $A_MUENCHEN)"

# ---------------------------------------------------------------- refused keys
# raw bytes postmap would not send: one netstring each, then a good request
# on the same connection; none of them reaches DNS
rkey() { # rkey ID DESC KEY-BYTES
	local mark got dns
	mark=$(dns_mark)
	got=$(raw "$PORT" 2 "$(ns "postfix $3")$(ns "postfix $A_BUECHER.test")")
	dns=$(dns_since "$mark" | paste -sd' ' -)
	check "$1" "$2 -> NOTFOUND, connection kept" "$nf$(ns "$E_B")" "$got"
	check "$1" "$2 -> no DNS query" "" "$dns"
}
rkey KEY-9 "raw byte 0xff" $'b\xffcher.test'
rkey KEY-9 "overlong 0xc0 0xaf" $'\xc0\xaf.test'
rkey KEY-9 "surrogate U+D800" $'\xed\xa0\x80.test'
rkey KEY-9 "cut sequence at the end" $'example.b\xc3'
rkey IDN-1 "label ending in a hyphen" $'b\xc3\xbc-.test'
rkey IDN-1 "zero width space" $'a\xe2\x80\x8bb.test'
rkey IDN-1 "emoji" $'i\xf0\x9f\x98\x80.test'
rkey IDN-1 "ideographic full stop as a separator" "$U_EXAMPLE"$'\xe3\x80\x82test'
rkey IDN-1 "xn-- label that is no Punycode" "xn--bcher-kva9.test"
rkey IDN-1 "xn-- label decoding to a capital (round trip)" "xn--bcher-2pa.test"
rkey IDN-1 "-- in positions 3-4 of an ASCII label" "ab--cd.test"
check KEY-9 "daemon log: one bad-utf8 line per invalid UTF-8 key" 4 "$(grep -c ': bad-utf8$' "$T/mtasts.log")"
check IDN-1 "daemon log: one bad-idn line per refused label" 6 "$(grep -c ': bad-idn$' "$T/mtasts.log")"
check KEY-11 "the daemon logs no raw UTF-8 name" 0 "$(LC_ALL=C grep -c "$U_BUECHER" "$T/mtasts.log")"
check KEY-11 "the daemon logs the A-label" yes \
    "$(grep -q "$A_BUECHER.test" "$T/mtasts.log" && echo yes || echo no)"

# postmap itself, with a key in UTF-8 that IDNA2008 refuses
check IDN-1 "postmap -q with a non-breaking space" NOTFOUND "$(q postfix $'a\xc2\xa0b.test')"
check IDN-1 "... reached the daemon, which logged it as bad-idn" 1 \
    "$(grep -c 'key "a\\xc2\\xa0b.test": bad-idn$' "$T/mtasts.log")"

# ---------------------------------------------------------------- control socket
ctl() { inns "$MTASTS" -c "$T/idn.conf" "$@"; }
check KEY-11 "mtasts -d lists the A-label" 1 "$(ctl -d | grep -c "^$A_BUECHER.test ")"
check KEY-11 "mtasts -p $U_BUECHER.test purges the A-label entry" "OK purged $A_BUECHER.test" \
    "$(ctl -p "$U_BUECHER.test")"
qdns KEY-11 "after the purge, postmap -q $A_BUECHER.test looks up again" "$A_BUECHER.test" "$E_B" \
    "TXT _mta-sts.$A_BUECHER.test A mta-sts.$A_BUECHER.test AAAA mta-sts.$A_BUECHER.test"
stop_mtasts

# ---------------------------------------------------------------- query mode
out=$(inns timeout 30 "$MTASTS" -q "$U_BUECHER.test" -c "$T/idn.conf" 2>>"$T/mq.err")
check IDN-1 "mtasts -q $U_BUECHER.test: domain is the A-label" 1 "$(printf '%s\n' "$out" | grep -cx "domain: $A_BUECHER.test")"
check IDN-1 "mtasts -q $U_BUECHER.test: unicode is the U-label" 1 "$(printf '%s\n' "$out" | grep -cx "unicode: $U_BUECHER.test")"
check IDN-1 "mtasts -q $U_BUECHER.test: answer" 1 "$(printf '%s\n' "$out" | grep -cxF "answer: $E_B")"
out=$(inns timeout 30 "$MTASTS" -q "$A_EXAMPLE.test" -c "$T/idn.conf" 2>>"$T/mq.err")
check IDN-1 "mtasts -q $A_EXAMPLE.test: unicode is $U_EXAMPLE.test" 1 "$(printf '%s\n' "$out" | grep -cx "unicode: $U_EXAMPLE.test")"
out=$(inns timeout 30 "$MTASTS" -q "$U_MUENCHEN.test" -c "$T/idn.conf" 2>>"$T/mq.err")
check IDN-1 "mtasts -q $U_MUENCHEN.test: the U-label mx pattern is the reason" 1 \
    "$(printf '%s\n' "$out" | grep -c "^result: no policy: mx line 3: .* is not a host name")"
out=$(inns timeout 30 "$MTASTS" -q enforce.test -c "$T/idn.conf" 2>>"$T/mq.err")
check IDN-1 "mtasts -q enforce.test: no unicode line" 0 "$(printf '%s\n' "$out" | grep -c "^unicode:")"
out=$(inns timeout 30 "$MTASTS" -q $'b\xffcher.test' -c "$T/idn.conf" 2>>"$T/mq.err")
check KEY-9 "mtasts -q with invalid UTF-8: not a policy domain (bad-utf8)" 1 \
    "$(printf '%s\n' "$out" | grep -cx "result: not a policy domain (bad-utf8)")"

finish
