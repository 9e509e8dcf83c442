# tests/e2e/cases.sh - the answer cases shared by test_policies.sh (expected
# answers) and test_reference.sh (mtasts against the Python reference).
#
# run_cases calls four functions that each test script defines its own way:
#   pcase ID DESC ZONE KEY EXPECTED [REFTAG]    lookup through postmap
#   kcase ID DESC KEY EXPECTED [REFTAG]         the same in the default zone,
#                                               and the key must cause no DNS query
#   rcase ID DESC N EXPECTED REFTAG CHUNK...    raw socketmap bytes, N replies
#   fcase ID DESC BAD GOOD EXPECTED [REFTAG]    framing error on one of two connections
# EXPECTED is what lib.sh's q prints (OK <value> / NOTFOUND) or, for raw
# cases, the raw reply bytes (<closed> when the daemon hangs up first).
# REFTAG names the documented difference of the Python reference (spec
# section 10, or a [D] item) when the reference is known to answer otherwise.
# Order matters: later cases rely on earlier ones having filled the cache.

REF_DIFFS='REF-1   repeated policy fields: the reference keeps the last value, RFC 8461 3.2 says the first (POL-5)
REF-2   TXT: the reference accepts an empty id and treats v=STSv10 as an STSv1 record (TXT-3, TXT-4)
REF-3   mx values are not validated: text after a space is injected into the Postfix reply (POL-9, SEC-8)
REF-4   max_age over 31557600 is rejected instead of clamped (POL-8, erratum 7282)
REF-5   the body is decoded as ASCII without a charset parameter: a UTF-8 extension value fails the fetch (POL-4)
REF-8   a..b, a 64-octet label or a non-ASCII key raises an exception: connection dropped, no reply (KEY-8, KEY-9)
REF-9   a request over 1024 bytes closes the connection; leading zeros in a netstring length are accepted (NS-2, NS-4)
REF-10  [ipv6:...] and bare IPv6 next-hops are not recognised as literals and go to DNS (KEY-7)
REF-11  match= pattern order is random (a Python set); compared order-insensitively (POL-11)
KEY-4 [D]  the reference strips every trailing dot, so example.com.. is looked up
KEY-8 [D]  the reference sends syntactically impossible names (localhost, pathnames) to DNS
SM-2 [D]   an empty request gets NOTFOUND from the reference, PERM malformed request from mtasts
TLS-3 [D]  the reference (Python ssl) accepts a certificate without SAN via its CN
CACHE-7 [D] the reference does not coalesce concurrent lookups of one domain'

run_cases() {
	local nf='9:NOTFOUND ,' E=$E_ENF
	local long64 big
	long64=$(printf 'a%.0s' $(seq 1 64))
	big=$(printf 'a%.0s' $(seq 1 1992))

	# answers to Postfix (PFX, CACHE-10/11, zones)
	pcase PFX-1 "enforce.test: *.x -> .x, duplicate mx dropped, policy order" postfix enforce.test "$E"
	pcase SM-1 "unknown socketmap name uses the default zone" nosuchzone enforce.test "$E"
	pcase CACHE-11 "testing.test, default zone" postfix testing.test NOTFOUND
	pcase CACHE-11 "testing.test, zone with strict_testing = yes" strict testing.test "$(okmx testing)"
	pcase CACHE-10 "none.test (mode none)" postfix none.test NOTFOUND
	pcase CACHE-10 "none.test, strict zone" strict none.test NOTFOUND
	pcase PFX-5 "zone with require_sni = no" nosni enforce.test \
	    "OK secure match=mail.enforce.test:.mx.enforce.test"

	# key forms of the cached enforce.test: same answer and no DNS traffic
	kcase KEY-3 "Enforce.TEST" Enforce.TEST "$E"
	kcase KEY-5 "[enforce.test]" "[enforce.test]" "$E"
	kcase KEY-5 "[Enforce.Test]:587" "[Enforce.Test]:587" "$E"
	kcase KEY-5 "[enforce.test]:25" "[enforce.test]:25" "$E"
	kcase KEY-6 "enforce.test:25" "enforce.test:25" "$E"
	kcase KEY-4 "enforce.test. (one trailing dot)" "enforce.test." "$E"
	kcase KEY-4 "enforce.test.. (empty label)" "enforce.test.." NOTFOUND "KEY-4 [D]"
	kcase KEY-2 ".enforce.test (parent lookup)" ".enforce.test" NOTFOUND
	kcase KEY-2 ".test (parent lookup)" ".test" NOTFOUND
	kcase KEY-7 "[192.0.2.1]" "[192.0.2.1]" NOTFOUND
	kcase KEY-7 "[192.0.2.1]:25" "[192.0.2.1]:25" NOTFOUND
	kcase KEY-7 "192.0.2.1" "192.0.2.1" NOTFOUND
	kcase KEY-7 "[2001:db8::1]" "[2001:db8::1]" NOTFOUND
	kcase KEY-7 "[ipv6:2001:db8::1]" "[ipv6:2001:db8::1]" NOTFOUND REF-10
	kcase KEY-7 "[IPv6:2001:db8::1]:25" "[IPv6:2001:db8::1]:25" NOTFOUND REF-10
	kcase KEY-7 "2001:db8::1 (bare)" "2001:db8::1" NOTFOUND REF-10
	kcase KEY-8 "localhost (one label)" localhost NOTFOUND "KEY-8 [D]"
	kcase KEY-8 "/var/run/lmtp (pathname)" /var/run/lmtp NOTFOUND "KEY-8 [D]"

	# TXT discovery (TXT-*, DNS-*)
	pcase HTTP-2 "notxt.test: no TXT record" postfix notxt.test NOTFOUND
	pcase TXT-4 "badtxt.test: v=STSv1; id=" postfix badtxt.test NOTFOUND REF-2
	pcase TXT-3 "twotxt.test: two STSv1 records" postfix twotxt.test NOTFOUND
	pcase TXT-3 "sts10.test: v=STSv10 next to v=STSv1" postfix sts10.test "$(okmx sts10)" REF-2
	pcase TXT-3 "spf.test: v=spf1 next to v=STSv1" postfix spf.test "$(okmx spf)"
	pcase TXT-1 "joined.test: one TXT in two strings" postfix joined.test "$(okmx joined)"
	pcase TXT-5 "txtfirst.test: id twice" postfix txtfirst.test "$(okmx txtfirst)"
	pcase DNS-4 "tcptxt.test: 5 kB TXT RRset of 7 RRs (TC=1, TCP)" postfix tcptxt.test "$(okmx tcptxt)"
	pcase TXT-3 "manytxt.test: 12 other TXT RRs next to STSv1 (SEC-4: 64 RRs)" postfix manytxt.test "$(okmx manytxt)"
	pcase DNS-11 "cname.test: _mta-sts is a CNAME" postfix cname.test "$(okmx cname)"
	pcase DNS-7 "servfail.test: DNS server failure (rcode 2)" postfix servfail.test NOTFOUND

	# policy bodies (POL-*)
	pcase POL-3 "garbage.test: HTML as policy" postfix garbage.test NOTFOUND
	pcase POL-10 "nomx.test: enforce without mx" postfix nomx.test NOTFOUND
	pcase POL-8 "nomaxage.test: no max_age" postfix nomaxage.test NOTFOUND
	pcase POL-5 "firstwins.test: mode enforce, later mode none" postfix firstwins.test "$(okmx firstwins)" REF-1
	pcase POL-9 "mxinject.test: mx with ' servername=evil'" postfix mxinject.test NOTFOUND REF-3
	pcase POL-8 "maxagebig.test: max_age 9999999999 (clamped)" postfix maxagebig.test "$(okmx maxagebig)" REF-4
	pcase POL-1 "crlf.test: CRLF, no final newline" postfix crlf.test "$(okmx crlf)"
	pcase POL-4 "utf8ext.test: UTF-8 extension, no charset" postfix utf8ext.test "$(okmx utf8ext)" REF-5
	pcase HTTP-9 "utf8cs.test: text/plain; charset=utf-8" postfix utf8cs.test "$(okmx utf8cs)"

	# HTTP (HTTP-*)
	pcase HTTP-9 "html.test: Content-Type text/html" postfix html.test NOTFOUND
	pcase HTTP-4 "redirect.test: 301 to a valid policy" postfix redirect.test NOTFOUND
	pcase HTTP-4 "notfound.test: 404" postfix notfound.test NOTFOUND
	pcase HTTP-8 "big.test: 75 kB with Content-Length" postfix big.test NOTFOUND
	pcase HTTP-8 "bigchunked.test: 75 kB chunked" postfix bigchunked.test NOTFOUND
	pcase HTTP-7 "chunked.test: valid policy, chunked" postfix chunked.test "$(okmx chunked)"

	# TLS (TLS-*)
	pcase TLS-2 "untrusted.test: self-signed" postfix untrusted.test NOTFOUND
	pcase TLS-2 "otherca.test: signed by an unknown CA" postfix otherca.test NOTFOUND
	pcase TLS-2 "expired.test: expired in 2020" postfix expired.test NOTFOUND
	pcase TLS-2 "wrongname.test: certificate for mta-sts.other.test" postfix wrongname.test NOTFOUND
	pcase TLS-3 "nosan.test: CN only, no SAN" postfix nosan.test NOTFOUND "TLS-3 [D]"
	pcase TLS-3 "wildcert.test: SAN *.wildcert.test" postfix wildcert.test "$(okmx wildcert)"

	# connection failures (HTTP-13)
	pcase HTTP-13 "refused.test: connection refused" postfix refused.test NOTFOUND
	pcase HTTP-13 "nxhost.test: policy host NXDOMAIN" postfix nxhost.test NOTFOUND

	# raw socketmap protocol (NS-*, SM-*)
	rcase NS-7 "reply to .enforce.test is exactly 9:NOTFOUND ," 1 "$nf" "" "$(ns 'postfix .enforce.test')"
	rcase SM-6 "three requests on one connection, one at a time" 3 "$nf$nf$nf" "" \
	    "$(ns 'postfix .a.test')" "$(ns 'postfix .b.test')" "$(ns 'postfix .c.test')"
	rcase NS-3 "one request split over two writes" 1 "$(ns "$E")" "" "20:postfix enf" "orce.test,"
	rcase SM-7 "pipeline [uncached slow.test, cached none.test] in one write" 2 \
	    "$(ns "$(okmx slow)")$nf" "" \
	    "$(ns 'postfix slow.test')$(ns 'postfix none.test')"
	rcase SM-2 "empty request 0:, keeps the connection" 2 "22:PERM malformed request,$nf" "SM-2 [D]" \
	    "0:,$(ns 'postfix .x.test')"
	rcase KEY-10 "empty key" 2 "$nf$nf" "" "$(ns 'postfix ')$(ns 'postfix .x.test')"
	rcase KEY-8 "a..b answered, connection kept" 2 "$nf$nf" REF-8 \
	    "$(ns 'postfix a..b')$(ns 'postfix .x.test')"
	rcase KEY-8 "64-octet label answered, connection kept" 2 "$nf$nf" REF-8 \
	    "$(ns "postfix $long64.test")$(ns 'postfix .x.test')"
	rcase KEY-9 "non-ASCII bücher.test answered, connection kept" 2 "$nf$nf" REF-8 \
	    "$(ns 'postfix bücher.test')$(ns 'postfix .x.test')"
	rcase NS-4 "2000-byte request answered NOTFOUND, connection kept" 2 "$nf$nf" REF-9 \
	    "$(ns "postfix $big")$(ns 'postfix .x.test')"
	rcase NS-4 "length 99999999 closes" 1 "<closed>" "" "99999999:"
	rcase NS-2 "leading zero 021: closes" 1 "<closed>" REF-9 "021:postfix .enforce.test,"
	rcase NS-5 "';' instead of ',' closes" 1 "<closed>" "" "21:postfix .enforce.test;"
	rcase NS-6 "':x,' closes" 1 "<closed>" "" ":x,"
	rcase NS-6 "'+5:hello,' closes" 1 "<closed>" "" "+5:hello,"
	rcase NS-6 "' 5:hello,' closes" 1 "<closed>" "" " 5:hello,"
	rcase NS-6 "'x:' closes" 1 "<closed>" "" "x:"
	fcase SM-12 "framing error closes only that connection" \
	    "21:postfix .enforce.test;" "$(ns 'postfix .enforce.test')" "A=<closed> B=$nf|$nf"
}
