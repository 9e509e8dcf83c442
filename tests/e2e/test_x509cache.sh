#!/bin/bash
# tests/e2e/test_x509cache.sh - intermediates checked once (x509cache.c),
# end to end: the daemon fetches policies from nginx servers that send a
# leaf and an intermediate CA certificate (as public CAs issue them).  The
# first fetch checks the intermediate and remembers it, the next ones check
# only their leaf against it, a chain whose intermediate has the same name
# and key but another issuer is refused and not remembered, and SIGHUP (a
# new CA bundle) forgets what was remembered.  The daemon's debug lines
# say what it did.
#
#   sh tests/e2e/test_x509cache.sh                 ./mtasts (or MTASTS=path)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

# the intermediate, RSA-2048 under the test CA (the shape of Let's
# Encrypt's R10), and the same name and key under the other CA
inter_pki() {
	local P=$T/pki
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$P/inter.key" 2>>"$P/err" &&
	SAN=DNS:unused.invalid openssl req -new -key "$P/inter.key" -subj "/CN=mtasts e2e intermediate" \
	    -out "$P/inter.csr" -config "$P/openssl.cnf" 2>>"$P/err" ||
	    setup_fail "intermediate key: $(tail -3 "$P/err")"
	local ca
	for ca in ca other-ca; do
		SAN=DNS:unused.invalid openssl x509 -req -in "$P/inter.csr" -CA "$P/$ca.crt" -CAkey "$P/$ca.key" \
		    -CAserial "$P/$ca.srl" -CAcreateserial -days 30 -sha256 \
		    -extfile "$P/openssl.cnf" -extensions ca_ext -out "$P/inter-$ca.crt" 2>>"$P/err" ||
		    setup_fail "intermediate under $ca: $(tail -3 "$P/err")"
	done
}

# chained NAME CA: a site whose server sends its leaf (signed by the
# intermediate) and the intermediate that CA issued
chained() {
	local P=$T/pki n=$1
	txt "$n" "\"v=STSv1; id=${n}1\""
	host "$n" $WEB_IP
	std_policy "$n"
	SAN=DNS:mta-sts.$n.test openssl x509 -req -in "$P/leaf.csr" -subj "/CN=mta-sts.$n.test" \
	    -CA "$P/inter-$2.crt" -CAkey "$P/inter.key" -CAserial "$P/inter.srl" -CAcreateserial \
	    -days 30 -sha256 -extfile "$P/openssl.cnf" -extensions leaf_ext -out "$P/$n.leaf" 2>>"$P/err" ||
	    setup_fail "leaf $n: $(tail -3 "$P/err")"
	cat "$P/$n.leaf" "$P/inter-$2.crt" > "$P/$n.crt"
	vhost "$n"
}

# lines of the daemon's log so far that contain TEXT
logged() { grep -c "$1" "$T/mtasts.log"; }
REMEMBERED="intermediate CA certificate checked, remembered"
HIT="leaf checked against a remembered intermediate"

ns_up
pki_up
cp "$T/pki/ca.crt" "/etc/netns/$NS/ssl/certs/ca-certificates.crt"
inter_pki
for s in c1 c2 c3 c4; do chained $s ca; done
chained crossed other-ca
site enforce            # dns_up waits for its TXT record
dns_up
web_up
mkdir -p "$T/postfix"
printf 'compatibility_level = 3.6\ninet_protocols = all\n' > "$T/postfix/main.cf"
write_mtasts_conf
echo "# $MTASTS, namespace $NS"
# fixture check: the servers send two certificates, the leaf signed by
# the intermediate
n=$(inns openssl s_client -connect $WEB_IP:443 -servername mta-sts.c1.test -showcerts </dev/null 2>/dev/null |
    grep -c 'BEGIN CERTIFICATE')
[ "$n" = 2 ] || setup_fail "mta-sts.c1.test sends $n certificates, not 2"
start_mtasts || DAEMON_DOWN="mtasts did not start"

check TLS-2 "first chain: policy" "$(okmx c1)" "$(q postfix c1.test)"
check TLS-2 "first chain: the intermediate is checked and remembered" 1 "$(logged "$REMEMBERED (1 of 16)")"
check TLS-2 "first chain: no leaf checked against the cache" 0 "$(logged "$HIT")"
check TLS-2 "second chain, same intermediate: policy" "$(okmx c2)" "$(q postfix c2.test)"
check TLS-2 "second chain: only its leaf is checked" 1 "$(logged "$HIT")"
check TLS-2 "second chain: nothing new remembered" 1 "$(logged "$REMEMBERED")"
check TLS-2 "same name and key, other issuer: no policy" NOTFOUND "$(q postfix crossed.test)"
check TLS-2 "other issuer: not taken from the cache" 1 "$(logged "$HIT")"
check TLS-2 "other issuer: not remembered" 1 "$(logged "$REMEMBERED")"
check TLS-2 "other issuer: refused as not trusted" 1 \
    "$(grep -c 'crossed.test.*BR_ERR_X509_NOT_TRUSTED' "$T/mtasts.log" | sed 's/^[1-9][0-9]*$/1/')"

# SIGHUP loads the CA bundle again: what the old one vouched for is forgotten
kill -HUP "$MTASTS_PID"
for i in $(seq 1 50); do
	[ "$(logged 'configuration reloaded')" -ge 1 ] && break
	sleep 0.1
done
check TLS-2 "SIGHUP: configuration reloaded" 1 "$(logged 'configuration reloaded')"
check TLS-2 "after SIGHUP: policy" "$(okmx c3)" "$(q postfix c3.test)"
check TLS-2 "after SIGHUP: the intermediate is checked again" 2 "$(logged "$REMEMBERED (1 of 16)")"
check TLS-2 "after SIGHUP: no leaf checked against the old cache" 1 "$(logged "$HIT")"
check TLS-2 "after SIGHUP, next chain: policy" "$(okmx c4)" "$(q postfix c4.test)"
check TLS-2 "after SIGHUP, next chain: only its leaf is checked" 2 "$(logged "$HIT")"
stop_mtasts
check SEC-12 "no sanitizer report in the daemon log" 0 "$(grep -c -E 'Sanitizer|runtime error' "$T/mtasts.log")"
finish
