#!/bin/bash
# tests/e2e/test_tls_suites.sh - every TLS 1.2 cipher suite, ECDHE curve,
# leaf key type and certificate signature hash that tls.c's tls_engine_init
# offers, each against a policy host that can speak nothing else, and the
# suites and protocol versions it leaves out, which must fail.
#
# Each case is its own policy host mta-sts.NAME.test on its own address
# 127.0.1.N:443, so it is nginx's default (and only) server there and its
# ssl_protocols / ssl_ciphers / ssl_ecdh_curve apply to the whole handshake.
# The daemon fetches with `mtasts -q NAME.test` in the namespace.  nginx logs
# "$ssl_protocol $ssl_cipher $ssl_curve" for every request, and each fetch
# that must work is checked against the suite and curve it was meant to
# negotiate, so no case passes on another suite.
#
# A case that must fail is first shown to work with `openssl s_client`, so it
# fails for the reason it is there for (the daemon does not offer it), not
# because the server is broken; then the daemon must find no policy, nginx
# must have served no request, and its error log must show a failed
# handshake.  What Debian's OpenSSL cannot serve at all is reported as
# "skip" with the reason, and counted neither as passed nor as failed.
#
#   sh tests/e2e/test_tls_suites.sh                 ./mtasts (or MTASTS=path)
#   MTASTS=build/mtasts-asan sh tests/e2e/test_tls_suites.sh
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

SKIPS=0
skip() { SKIPS=$((SKIPS + 1)); echo "skip $*"; }

# ---------------------------------------------------------------- leaves

# leaf_key NAME ALGORITHM-OPTIONS...: a private key $T/pki/NAME.key and a CSR
leaf_key() {
	local P=$T/pki n=$1
	shift
	if ! openssl genpkey "$@" -out "$P/$n.key" 2>>"$P/err" ||
	    ! openssl req -new -key "$P/$n.key" -subj "/CN=csr" -out "$P/$n.csr" \
	    -config "$P/openssl.cnf" 2>>"$P/err"; then
		setup_fail "key $n: $(tail -3 "$P/err")"
	fi
}

# leaf_cert CERT KEY DIGEST EXTENSIONS HOST: CERT.crt for HOST, signed by the
# test CA with DIGEST (sha256, sha384, ...)
leaf_cert() {
	local P=$T/pki
	SAN=DNS:$5 openssl x509 -req -in "$P/$2.csr" -subj "/CN=$5" -CA "$P/ca.crt" -CAkey "$P/ca.key" \
	    -CAserial "$P/ca.srl" -CAcreateserial -days 30 "-$3" \
	    -extfile "$T/suites.cnf" -extensions "$4" -out "$P/$1.crt" 2>>"$P/err" ||
	    setup_fail "cert $1: $(tail -3 "$P/err")"
}

suite_pki() {
	cat > "$T/suites.cnf" <<-EOF
	# an RSA server certificate: RSA key exchange encrypts to its key
	[ rsa_ext ]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature, keyEncipherment
	extendedKeyUsage = serverAuth
	subjectAltName = \$ENV::SAN
	# signing only (ECDSA keys; and an RSA key that must not do RSA key exchange)
	[ sign_ext ]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = serverAuth
	subjectAltName = \$ENV::SAN
	EOF
	leaf_key rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
	leaf_key p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
	leaf_key p384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384
	# RFC 7919 group: without ssl_dhparam nginx offers no DHE at all
	openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$T/pki/dh.pem" 2>>"$T/pki/err" ||
	    setup_fail "dh params: $(tail -3 "$T/pki/err")"
}

# ---------------------------------------------------------------- cases

NCASE=0
C_NAME=() C_IP=() C_EXP=() C_DESC=() C_GATE=() C_WHY=() C_SKIP=()
SUITESERVERS="
    log_format suites '\$server_name \$ssl_protocol \$ssl_cipher \$ssl_curve \"\$request\" \$status';"

# tcase NAME DESC KEY DIGEST EXT PROTOCOLS CIPHERS CURVE EXPECT [GATE REASON]
#   KEY rsa|p256|p384, DIGEST the CA's signature hash, EXT rsa_ext|sign_ext,
#   PROTOCOLS/CIPHERS/CURVE nginx's ssl_protocols/ssl_ciphers/ssl_ecdh_curve
#   (CURVE "auto": nginx's default).
#   EXPECT "PROTOCOL CIPHER CURVE" as nginx logs it for a fetch that must
#   work (CURVE "*": any), or "fail" for one that must not.
#   GATE: for "fail", the s_client options that must get through first;
#   REASON: the fetch error `mtasts -q` must show in its result line
#   (tls.c names BearSSL's error BR_ERR_*, tls-alert-N is an alert
#   received from nginx).
tcase() {
	local name=$1 desc=$2 key=$3 md=$4 ext=$5 proto=$6 ciphers=$7 curve=$8 exp=$9 gate=${10:-} reason=${11:-}
	local ip why=
	NCASE=$((NCASE + 1))
	ip=127.0.1.$NCASE
	C_NAME[NCASE]=$name C_IP[NCASE]=$ip C_EXP[NCASE]=$exp C_DESC[NCASE]=$desc C_GATE[NCASE]=$gate C_WHY[NCASE]=$reason
	# a cipher string this OpenSSL does not know would stop nginx from starting
	if ! openssl ciphers "$ciphers" >/dev/null 2>&1; then
		why="Debian's OpenSSL $(openssl version | cut -d' ' -f2) has no cipher '$ciphers' (openssl ciphers: no cipher match)"
	fi
	C_SKIP[NCASE]=$why
	[ -z "$why" ] || return 0
	ip -n "$NS" addr add "$ip/8" dev lo 2>/dev/null
	# the TXT id: letters and digits only (no '-')
	txt "$name" "\"v=STSv1; id=suite$NCASE\""
	host "$name" "$ip"
	std_policy "$name"
	leaf_cert "$name" "$key" "$md" "$ext" "mta-sts.$name.test"
	SUITESERVERS+="
    server {
        listen $ip:443 ssl;
        server_name mta-sts.$name.test;
        ssl_certificate $T/pki/$name.crt;
        ssl_certificate_key $T/pki/$key.key;
        ssl_protocols $proto;
        ssl_ciphers '$ciphers';
        ssl_ecdh_curve $curve;
        ssl_dhparam $T/pki/dh.pem;
        access_log $T/suites.log suites;
        root $T/www/$name;
    }"
}

# ok: the suite, key and curve tls_engine_init must handle
pos() { # NAME DESC KEY CIPHER [CURVE [DIGEST [EXT]]]
	local curve=${5:-auto} md=${6:-sha256} ext=${7:-}
	[ -n "$ext" ] || { [ "$3" = rsa ] && ext=rsa_ext || ext=sign_ext; }
	tcase "$1" "$2" "$3" "$md" "$ext" TLSv1.2 "$4" "$curve" \
	    "TLSv1.2 $4 $([ "$curve" = auto ] && echo '*' || echo "$curve")"
}
# fail: what the daemon must refuse; s_client must get through with GATE
neg() { # NAME DESC KEY EXT PROTOCOLS CIPHERS CURVE GATE REASON
	tcase "$1" "$2" "$3" sha256 "$4" "$5" "$6" "$7" fail "$8" "$9"
}
# the daemon's fetch errors for them
E_VERSION=BR_ERR_UNSUPPORTED_VERSION   # the server's version
E_NOSHARE=tls-alert-40          # nginx's handshake_failure alert: nothing in common
E_KEYUSAGE=BR_ERR_WRONG_KEY_USAGE

suite_fixtures() {
	suite_pki
	# RSA-2048 leaf: ECDHE_RSA and RSA key exchange
	pos ecdhe-rsa-aes128gcm "RSA leaf, ECDHE-RSA-AES128-GCM-SHA256" rsa ECDHE-RSA-AES128-GCM-SHA256
	pos ecdhe-rsa-aes256gcm "RSA leaf, ECDHE-RSA-AES256-GCM-SHA384" rsa ECDHE-RSA-AES256-GCM-SHA384
	pos ecdhe-rsa-chacha "RSA leaf, ECDHE-RSA-CHACHA20-POLY1305" rsa ECDHE-RSA-CHACHA20-POLY1305
	pos ecdhe-rsa-aes128sha256 "RSA leaf, ECDHE-RSA-AES128-SHA256 (CBC)" rsa ECDHE-RSA-AES128-SHA256
	pos ecdhe-rsa-aes256sha384 "RSA leaf, ECDHE-RSA-AES256-SHA384 (CBC)" rsa ECDHE-RSA-AES256-SHA384
	pos ecdhe-rsa-aes128sha "RSA leaf, ECDHE-RSA-AES128-SHA (CBC, SHA-1 MAC)" rsa ECDHE-RSA-AES128-SHA
	pos ecdhe-rsa-aes256sha "RSA leaf, ECDHE-RSA-AES256-SHA (CBC, SHA-1 MAC)" rsa ECDHE-RSA-AES256-SHA
	pos rsa-aes128gcm "RSA leaf, AES128-GCM-SHA256 (RSA key exchange)" rsa AES128-GCM-SHA256
	pos rsa-aes256gcm "RSA leaf, AES256-GCM-SHA384 (RSA key exchange)" rsa AES256-GCM-SHA384
	pos rsa-aes128sha256 "RSA leaf, AES128-SHA256 (RSA key exchange, CBC)" rsa AES128-SHA256
	pos rsa-aes256sha256 "RSA leaf, AES256-SHA256 (RSA key exchange, CBC)" rsa AES256-SHA256
	pos rsa-aes128sha "RSA leaf, AES128-SHA (RSA key exchange, CBC, SHA-1 MAC)" rsa AES128-SHA
	pos rsa-aes256sha "RSA leaf, AES256-SHA (RSA key exchange, CBC, SHA-1 MAC)" rsa AES256-SHA
	# EC leaves: ECDHE_ECDSA
	local k
	for k in p256 p384; do
		pos ecdsa-$k-aes128gcm "$k leaf, ECDHE-ECDSA-AES128-GCM-SHA256" $k ECDHE-ECDSA-AES128-GCM-SHA256
		pos ecdsa-$k-aes256gcm "$k leaf, ECDHE-ECDSA-AES256-GCM-SHA384" $k ECDHE-ECDSA-AES256-GCM-SHA384
		pos ecdsa-$k-chacha "$k leaf, ECDHE-ECDSA-CHACHA20-POLY1305" $k ECDHE-ECDSA-CHACHA20-POLY1305
		pos ecdsa-$k-aes128sha256 "$k leaf, ECDHE-ECDSA-AES128-SHA256 (CBC)" $k ECDHE-ECDSA-AES128-SHA256
		pos ecdsa-$k-aes256sha384 "$k leaf, ECDHE-ECDSA-AES256-SHA384 (CBC)" $k ECDHE-ECDSA-AES256-SHA384
		pos ecdsa-$k-aes128sha "$k leaf, ECDHE-ECDSA-AES128-SHA (CBC, SHA-1 MAC)" $k ECDHE-ECDSA-AES128-SHA
		pos ecdsa-$k-aes256sha "$k leaf, ECDHE-ECDSA-AES256-SHA (CBC, SHA-1 MAC)" $k ECDHE-ECDSA-AES256-SHA
	done
	# ECDHE groups, one at a time
	pos curve-x25519 "ECDHE group X25519 (ECDHE-RSA-AES128-GCM-SHA256)" rsa ECDHE-RSA-AES128-GCM-SHA256 X25519
	pos curve-p256 "ECDHE group P-256 (ECDHE-RSA-AES128-GCM-SHA256)" rsa ECDHE-RSA-AES128-GCM-SHA256 prime256v1
	pos curve-p384 "ECDHE group P-384 (ECDHE-RSA-AES128-GCM-SHA256)" rsa ECDHE-RSA-AES128-GCM-SHA256 secp384r1
	pos curve-p521 "ECDHE group P-521 (ECDHE-RSA-AES128-GCM-SHA256)" rsa ECDHE-RSA-AES128-GCM-SHA256 secp521r1
	pos curve-p384-ecdsa "ECDHE group P-384 with a P-384 leaf (ECDHE-ECDSA-AES256-GCM-SHA384)" p384 \
	    ECDHE-ECDSA-AES256-GCM-SHA384 secp384r1
	# nginx's default groups and its default, the client's order: X25519,
	# which tls.c moves to the front of BearSSL's list (issue 14), with an
	# RSA and with a P-256 leaf (whose curve must stay in the list, or
	# OpenSSL will not use the certificate); a P-256-only server still
	# gets P-256 at once, since P-256 stays offered
	tcase auto-x25519-rsa "nginx's default groups: X25519 first (RSA leaf)" rsa sha256 rsa_ext \
	    TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 auto "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 X25519"
	tcase auto-x25519-ecdsa "nginx's default groups: X25519 first (P-256 leaf)" p256 sha256 sign_ext \
	    TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256 auto "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256 X25519"
	tcase p256only-ecdsa "P-256-only server (ssl_ecdh_curve prime256v1), P-256 leaf" p256 sha256 sign_ext \
	    TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256 prime256v1 "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256 prime256v1"
	# the CA's signature on the leaf: RSA with SHA-224/384/512
	pos sig-sha224 "RSA leaf signed by the CA with SHA-224" rsa ECDHE-RSA-AES128-GCM-SHA256 auto sha224
	pos sig-sha384 "RSA leaf signed by the CA with SHA-384" rsa ECDHE-RSA-AES128-GCM-SHA256 auto sha384
	pos sig-sha512 "RSA leaf signed by the CA with SHA-512" rsa ECDHE-RSA-AES128-GCM-SHA256 auto sha512
	pos sig-sha512-ecdsa "P-256 leaf signed by the CA with SHA-512" p256 ECDHE-ECDSA-AES128-GCM-SHA256 auto sha512

	# what tls_engine_init leaves out
	neg tls11 "TLS-4 server with TLS 1.1 only" rsa rsa_ext TLSv1.1 'DEFAULT:@SECLEVEL=0' auto \
	    "-tls1_1 -cipher DEFAULT:@SECLEVEL=0" $E_VERSION
	neg tls10 "TLS-4 server with TLS 1.0 only" rsa rsa_ext TLSv1 'DEFAULT:@SECLEVEL=0' auto \
	    "-tls1 -cipher DEFAULT:@SECLEVEL=0" $E_VERSION
	neg 3des "server with 3DES only (DES-CBC3-SHA)" rsa rsa_ext TLSv1.2 'DES-CBC3-SHA:@SECLEVEL=0' auto \
	    "-tls1_2 -cipher DES-CBC3-SHA:@SECLEVEL=0" $E_NOSHARE
	neg ecdhe-rsa-3des "server with ECDHE-RSA-DES-CBC3-SHA only" rsa rsa_ext TLSv1.2 'ECDHE-RSA-DES-CBC3-SHA:@SECLEVEL=0' auto \
	    "-tls1_2 -cipher ECDHE-RSA-DES-CBC3-SHA:@SECLEVEL=0" $E_NOSHARE
	neg ccm8 "server with ECDHE-ECDSA-AES128-CCM8 only" p256 sign_ext TLSv1.2 ECDHE-ECDSA-AES128-CCM8 auto \
	    "-tls1_2 -cipher ECDHE-ECDSA-AES128-CCM8" $E_NOSHARE
	neg ccm "server with ECDHE-ECDSA-AES128-CCM only" p256 sign_ext TLSv1.2 ECDHE-ECDSA-AES128-CCM auto \
	    "-tls1_2 -cipher ECDHE-ECDSA-AES128-CCM" $E_NOSHARE
	neg rsa-ccm "server with AES128-CCM only (RSA key exchange)" rsa rsa_ext TLSv1.2 AES128-CCM auto \
	    "-tls1_2 -cipher AES128-CCM" $E_NOSHARE
	neg dhe "server with DHE-RSA-AES128-GCM-SHA256 only (finite-field DHE)" rsa rsa_ext TLSv1.2 \
	    DHE-RSA-AES128-GCM-SHA256 auto "-tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256" $E_NOSHARE
	neg curve-x448 "ECDHE group X448 only" rsa rsa_ext TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 X448 \
	    "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -groups X448" $E_NOSHARE
	# RSA key exchange encrypts to the server key: a certificate that allows
	# signing only must be refused for it (RFC 5280 4.2.1.3)
	neg rsakx-signonly "RSA key exchange (AES128-GCM-SHA256) with a signing-only RSA leaf" rsa sign_ext \
	    TLSv1.2 AES128-GCM-SHA256 auto "-tls1_2 -cipher AES128-GCM-SHA256" $E_KEYUSAGE
	# the web server's own defaults still work
	site enforce
	NGXSERVERS+=$SUITESERVERS
}

# ---------------------------------------------------------------- the world

ns_up
pki_up
cp "$T/pki/ca.crt" "/etc/netns/$NS/ssl/certs/ca-certificates.crt"
suite_fixtures
dns_up
web_up
write_mtasts_conf
: > "$T/suites.log"
[ -x "$MTASTS" ] || setup_fail "mtasts binary $MTASTS does not exist (build it with make, or set MTASTS=)"
echo "# $MTASTS, namespace $NS"

# fixture checks: the certificates are what the case names claim
for d in sha224 sha384 sha512; do
	got=$(openssl x509 -in "$T/pki/sig-$d.crt" -noout -text | grep -m1 -o 'Signature Algorithm: .*')
	[ "$got" = "Signature Algorithm: ${d}WithRSAEncryption" ] || setup_fail "sig-$d.crt: $got"
done
got=$(openssl x509 -in "$T/pki/ecdsa-p384-aes128gcm.crt" -noout -text | grep -m1 -o 'NIST CURVE: .*')
[ "$got" = "NIST CURVE: P-384" ] || setup_fail "p384 leaf: $got"
got=$(openssl x509 -in "$T/pki/rsa-aes128gcm.crt" -noout -text | grep -m1 -o 'Public-Key: (.*)')
[ "$got" = "Public-Key: (2048 bit)" ] || setup_fail "rsa leaf: $got"

# mq NAME: mtasts -q NAME.test in the namespace; stdout + "rc=N", stderr in $T/mq.NAME
mq() {
	local out rc
	out=$(inns timeout 20 "$MTASTS" -q "$1.test" -c "$T/mtasts.conf" -v 3 2>"$T/mq.$1")
	rc=$?
	printf '%s\nrc=%d\n' "$out" "$rc"
}
# why NAME: the daemon's last words and nginx's about case NAME, for a FAIL line
why() {
	printf 'mtasts: %s; nginx: %s' "$(grep -v '^$' "$T/mq.$1" | tail -2 | paste -sd'|' -)" \
	    "$(grep -F "server: $2:443" "$T/nginx-error.log" | tail -1 | sed 's/^.*\[[a-z]*\] //')"
}

t0=$(ms)
for i in $(seq 1 $NCASE); do
	name=${C_NAME[i]} ip=${C_IP[i]} exp=${C_EXP[i]} desc=${C_DESC[i]}
	if [ -n "${C_SKIP[i]}" ]; then
		skip "$name: $desc: ${C_SKIP[i]}"
		continue
	fi
	if [ "$exp" != fail ]; then
		out=$(mq "$name")
		rc=${out##*rc=}
		line=$(grep "^mta-sts.$name.test " "$T/suites.log")
		if [ "$rc" != 0 ]; then
			fail "$name: $desc: no policy (rc=$rc): $(why "$name" "$ip")"
		elif ! printf '%s\n' "$out" | grep -qx "id: suite$i"; then
			fail "$name: $desc: wrong policy: $(printf '%s' "$out" | paste -sd'|' -)"
		else
			# nginx: NAME PROTOCOL CIPHER CURVE "REQUEST" STATUS
			read -r -a f <<< "$line"
			read -r -a want <<< "$exp"
			if [ "$(printf '%s\n' "$line" | wc -l)" != 1 ] || [ -z "$line" ]; then
				fail "$name: $desc: nginx logged [$line], expected one request"
			elif [ "${f[1]:-} ${f[2]:-}" != "${want[0]} ${want[1]}" ] ||
			    { [ "${want[2]}" != '*' ] && [ "${f[3]:-}" != "${want[2]}" ]; } ||
			    [ "${f[*]:4}" != '"GET /.well-known/mta-sts.txt HTTP/1.1" 200' ]; then
				fail "$name: $desc: expected [$exp GET 200], nginx logged [$line]"
			else
				ok "$name: $desc: policy fetched over ${f[1]} ${f[2]} ${f[3]}"
			fi
		fi
		continue
	fi
	# must fail: first show that the server serves what it is there for
	# shellcheck disable=SC2086  # C_GATE is a list of options
	gate=$(inns timeout 10 openssl s_client -connect "$ip:443" -servername "mta-sts.$name.test" \
	    ${C_GATE[i]} -brief </dev/null 2>&1)
	proto=$(printf '%s\n' "$gate" | sed -n 's/^Protocol version: //p')
	cipher=$(printf '%s\n' "$gate" | sed -n 's/^Ciphersuite: //p')
	if [ -z "$proto" ]; then
		skip "$name: $desc: Debian's nginx/OpenSSL does not serve it either (openssl s_client ${C_GATE[i]}: $(printf '%s\n' "$gate" | grep -m1 -i 'error\|alert' | sed 's/^[0-9A-F]*:error:[0-9A-F]*://'))"
		continue
	fi
	mark=$(wc -l < "$T/nginx-error.log")
	out=$(mq "$name")
	rc=${out##*rc=}
	sleep 0.1
	hs=$(tail -n +"$((mark + 1))" "$T/nginx-error.log" | grep -F "server: $ip:443" |
	    grep -m1 -E 'handshak|SSL_do_handshake|no shared cipher|alert' | sed 's/^.*\[[a-z]*\] [0-9#]*: \*[0-9]* //')
	if [ "$rc" != 1 ]; then
		fail "$name: $desc (s_client got $proto $cipher): expected no policy (rc=1), got rc=$rc: $(printf '%s' "$out" | paste -sd'|' -)"
	elif ! printf '%s\n' "$out" | grep -q "^result: no policy: .* \[sts-policy-fetch-error ${C_WHY[i]}\]\$"; then
		fail "$name: $desc: no policy, but not for ${C_WHY[i]}: $(why "$name" "$ip")"
	elif grep -q "^mta-sts.$name.test " "$T/suites.log"; then
		fail "$name: $desc: nginx served a request: $(grep "^mta-sts.$name.test " "$T/suites.log")"
	elif [ -z "$hs" ]; then
		fail "$name: $desc: no policy, but nginx logged no failed handshake: $(why "$name" "$ip")"
	else
		ok "$name: $desc (s_client gets $proto $cipher): no policy, ${C_WHY[i]}; nginx: $hs"
	fi
done
t1=$(ms)

out=$(mq enforce)
check BASE "enforce.test on nginx's default TLS settings (P-256 leaf)" rc=0 "$(printf '%s\n' "$out" | tail -1)"
check SEC-12 "no sanitizer report from mtasts -q" 0 "$(cat "$T"/mq.* | grep -c -E 'Sanitizer|runtime error')"
echo "# $NCASE cases in $((t1 - t0)) ms, $SKIPS skipped"
if [ "$FAILS" -ne 0 ]; then
	echo "--- nginx access log (suites)"; cat "$T/suites.log"
	echo "--- tail of nginx error log"; tail -n 20 "$T/nginx-error.log"
fi
finish
