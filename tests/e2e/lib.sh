# tests/e2e/lib.sh - the end-to-end test world, sourced by tests/e2e/test_*.sh.
#
# Builds, inside a fresh network namespace that only has loopback:
#   127.0.0.53:53   dnsmasq with every fixture's _mta-sts TXT and mta-sts A record,
#                   query log in $T/dns.log
#   127.0.0.1:5300  a SERVFAIL-only DNS stub (servfail.test is forwarded to it)
#   127.0.0.2:443   nginx, one server per policy host, certificates from a test CA
#                   generated now; access log in $T/access.log
#   127.0.0.3:443   a listener that accepts and never answers (hang.test)
#   /etc/netns/$NS/resolv.conf           -> nameserver 127.0.0.53
#   /etc/netns/$NS/ssl/certs/ca-certificates.crt -> the test CA only
# so a daemon started with `ip netns exec $NS` finds DNS and trust anchors at
# their default paths.  Everything is removed again on exit (trap), pass or fail.
#
# Variables a caller may set: MTASTS (binary, default ./mtasts), IMPL (mtasts or
# ref: which daemon test_policies.sh drives), KEEP=1 (keep $T for debugging).

[ -n "$BASH_VERSION" ] || { echo "lib.sh needs bash"; exit 2; }
set -u

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$E2E_DIR/../.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TOOLS="$E2E_DIR/tools.py"
MTASTS=${MTASTS:-$ROOT/mtasts}
case $MTASTS in /*) ;; *) MTASTS=$PWD/$MTASTS ;; esac
IMPL=${IMPL:-mtasts}
MTASTS_PORT=8461
REF_PORT=8462
DNS_IP=127.0.0.53
WEB_IP=127.0.0.2
HANG_IP=127.0.0.3
DEAD_IP=127.0.0.5          # nothing listens here: connection refused

NS=mtasts-e2e-$(basename "$0" .sh)-$$
T=$(mktemp -d /tmp/mtasts-e2e.XXXXXX)
chmod 755 "$T"
PIDS=()
PASS=0
FAILS=0
XFAILS=0
DNS_PID=
MTASTS_PID=
REF_PID=

# ---------------------------------------------------------------- reporting

ok()   { PASS=$((PASS + 1)); echo "ok   $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL $*"; }

# Sort the patterns of a match= attribute, for the reference daemon whose
# pattern order is random (REF-11).  Leaves everything else alone.
norm_order() {
	local s=$1 head rest list tail
	case $s in *match=*) ;; *) printf '%s' "$s"; return ;; esac
	head=${s%%match=*}
	rest=${s#*match=}
	list=${rest%%[ ,]*}
	tail=${rest#"$list"}
	list=$(printf '%s' "$list" | tr ':' '\n' | LC_ALL=C sort | paste -sd: -)
	printf '%s' "${head}match=$list$tail"
}

# check ID DESCRIPTION EXPECTED ACTUAL [REFTAG]
# REFTAG names a documented difference of the reference daemon (spec section
# 10 or a [D] item).  With IMPL=ref a mismatch on such a case is reported as
# XFAIL and not counted as a failure; with mtasts it is an ordinary failure.
DAEMON_DOWN=        # set to a reason when the daemon under test did not start
check() {
	local id=$1 desc=$2 exp=$3 got=$4 tag=${5:-}
	if [ -n "$DAEMON_DOWN" ]; then
		fail "$id $desc: not run, $DAEMON_DOWN"
		return
	fi
	if [ "$IMPL" = ref ]; then
		exp=$(norm_order "$exp")
		got=$(norm_order "$got")
	fi
	if [ "$exp" = "$got" ]; then
		ok "$id $desc"
	elif [ "$IMPL" = ref ] && [ -n "$tag" ]; then
		XFAILS=$((XFAILS + 1)); PASS=$((PASS + 1))
		echo "XFAIL $id $desc: reference gives [$got], documented difference $tag"
	else
		fail "$id $desc: expected [$exp], got [$got]"
	fi
}

# check_true ID DESCRIPTION CONDITION-TEXT [REFTAG]: CONDITION-TEXT is "yes" or why not.
check_true() { check "$1" "$2" yes "$3" "${4:-}"; }

finish() {
	trap - EXIT
	cleanup
	[ "$XFAILS" -eq 0 ] || echo "($XFAILS of the passes are documented reference differences, IMPL=ref)"
	echo "$PASS passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
	exit $?
}

setup_fail() {
	fail "setup: $*"
	for f in dns.log nginx-error.log mtasts.log ref.log; do
		[ -s "$T/$f" ] && { echo "--- tail $f"; tail -n 15 "$T/$f"; }
	done
	finish
}

# ---------------------------------------------------------------- cleanup

cleanup() {
	local p i
	if [ -n "$NS" ] && ip netns list 2>/dev/null | grep -qw "$NS"; then
		for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
		for i in $(seq 1 20); do
			[ -z "$(ip netns pids "$NS" 2>/dev/null)" ] && break
			sleep 0.1
		done
		# whatever still runs in our namespace was started by this test
		for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		for i in $(seq 1 20); do
			[ -z "$(ip netns pids "$NS" 2>/dev/null)" ] && break
			sleep 0.1
		done
		ip netns del "$NS" 2>/dev/null
	fi
	rm -rf "/etc/netns/$NS"
	if [ "${KEEP:-0}" = 1 ]; then
		echo "(kept $T)"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'echo "FAIL interrupted"; exit 1' INT TERM

# Run in the namespace.  Background daemons are started with a literal
# `ip netns exec "$NS" ... &` instead, so that $! is the daemon itself
# (ip netns exec execs), not a subshell running a function.
inns() { ip netns exec "$NS" "$@"; }
ms() { date +%s%3N; }

# ---------------------------------------------------------------- namespace

ns_up() {
	[ "$(id -u)" = 0 ] || setup_fail "must run as root (network namespaces)"
	ip netns add "$NS" || setup_fail "ip netns add $NS"
	ip -n "$NS" link set lo up || setup_fail "lo up"
	local i
	for i in 2 3 4 5 53; do
		ip -n "$NS" addr add 127.0.0.$i/8 dev lo 2>/dev/null
	done
	mkdir -p "/etc/netns/$NS/ssl/certs"
	echo "nameserver $DNS_IP" > "/etc/netns/$NS/resolv.conf"
	if [ -f /etc/ssl/openssl.cnf ]; then
		cp /etc/ssl/openssl.cnf "/etc/netns/$NS/ssl/"
	fi
}

# ---------------------------------------------------------------- PKI

# Everything is generated per run: an RSA CA (the only trust anchor inside
# the namespace), one P-256 key shared by all policy hosts, one certificate
# per host with a SAN, plus the broken ones: self-signed, other CA, expired,
# wrong name, no SAN.
pki_up() {
	local P=$T/pki
	mkdir -p "$P/newcerts"
	: > "$P/index.txt"
	cat > "$P/openssl.cnf" <<-EOF
	[ req ]
	distinguished_name = dn
	prompt = no
	[ dn ]
	CN = unused
	[ ca_ext ]
	basicConstraints = critical, CA:TRUE
	keyUsage = critical, keyCertSign, cRLSign
	subjectKeyIdentifier = hash
	[ leaf_ext ]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = serverAuth
	subjectKeyIdentifier = hash
	subjectAltName = \$ENV::SAN
	[ nosan_ext ]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = serverAuth
	[ ca ]
	default_ca = testca
	[ testca ]
	dir = $P
	database = $P/index.txt
	new_certs_dir = $P/newcerts
	certificate = $P/ca.crt
	private_key = $P/ca.key
	serial = $P/ca.serial
	default_md = sha256
	policy = pol_any
	unique_subject = no
	copy_extensions = none
	[ pol_any ]
	commonName = supplied
	EOF
	export SAN=DNS:unused.invalid OPENSSL_CONF=$P/openssl.cnf
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 30 \
	    -subj "/CN=mtasts e2e test CA" -config "$P/openssl.cnf" -extensions ca_ext 2>"$P/err" &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/other-ca.key" -out "$P/other-ca.crt" -days 30 \
	    -subj "/CN=mtasts e2e other CA" -config "$P/openssl.cnf" -extensions ca_ext 2>>"$P/err" &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/leaf.key" 2>>"$P/err" &&
	openssl req -new -key "$P/leaf.key" -subj "/CN=csr" -out "$P/leaf.csr" -config "$P/openssl.cnf" 2>>"$P/err" ||
	    setup_fail "openssl CA: $(tail -3 "$P/err")"
	echo 1000 > "$P/ca.serial"
	unset OPENSSL_CONF
}

# cert FILE-NAME CN SAN [ca|other-ca|self|nosan]
cert() {
	local P=$T/pki name=$1 cn=$2 san=$3 how=${4:-ca} ext=leaf_ext
	[ "$how" = nosan ] && { ext=nosan_ext; how=ca; }
	if [ "$how" = self ]; then
		SAN=$san openssl req -x509 -key "$P/leaf.key" -subj "/CN=$cn" -days 30 \
		    -config "$P/openssl.cnf" -extensions $ext -out "$P/$name.crt" 2>>"$P/err"
	else
		SAN=$san openssl x509 -req -in "$P/leaf.csr" -subj "/CN=$cn" -CA "$P/$how.crt" -CAkey "$P/$how.key" \
		    -CAserial "$P/$how.srl" -CAcreateserial -days 30 -sha256 \
		    -extfile "$P/openssl.cnf" -extensions $ext -out "$P/$name.crt" 2>>"$P/err"
	fi || setup_fail "cert $name: $(tail -3 "$P/err")"
}

# expired_cert NAME CN: signed by the test CA, valid only in 2020 (openssl 3.0's
# x509 cannot back-date; `openssl ca -startdate/-enddate` can).
expired_cert() {
	local P=$T/pki
	openssl req -new -key "$P/leaf.key" -subj "/CN=$2" -out "$P/$1.csr" -config "$P/openssl.cnf" 2>>"$P/err" &&
	SAN=DNS:$2 openssl ca -batch -config "$P/openssl.cnf" -notext -startdate 20200101000000Z \
	    -enddate 20201231000000Z -extensions leaf_ext -in "$P/$1.csr" -out "$P/$1.crt" >>"$P/err" 2>&1 ||
	    setup_fail "expired cert: $(tail -3 "$P/err")"
}

# ---------------------------------------------------------------- fixture builders

DNSCONF=
NGXSERVERS=

# txt NAME 'RAW' : one TXT RR at _mta-sts.NAME.test; RAW is dnsmasq syntax,
# "a" or "a","b" (two character-strings in one RR).
txt() { DNSCONF+="txt-record=_mta-sts.$1.test,$2"$'\n'; }
# host NAME IP : A record for mta-sts.NAME.test
host() { DNSCONF+="host-record=mta-sts.$1.test,$2"$'\n'; }
# policy NAME LINE... : the file served at mta-sts.NAME.test/.well-known/mta-sts.txt (LF)
policy() {
	local n=$1; shift
	mkdir -p "$T/www/$n/.well-known"
	printf '%s\n' "$@" > "$T/www/$n/.well-known/mta-sts.txt"
}
# policy_raw NAME PRINTF-FORMAT : exact bytes (CRLF, no final newline, UTF-8)
policy_raw() {
	mkdir -p "$T/www/$1/.well-known"
	printf "$2" > "$T/www/$1/.well-known/mta-sts.txt"
}
# std_policy NAME [MODE] : mode enforce/testing, mx mail.NAME.test, max_age 86400
std_policy() {
	policy "$1" "version: STSv1" "mode: ${2:-enforce}" "mx: mail.$1.test" "max_age: 86400"
}
# vhost NAME [CERTNAME] [LOCATION-BODY] : nginx server for mta-sts.NAME.test
vhost() {
	local n=$1 c=${2:-$1} body=${3:-}
	[ -n "$body" ] || body="root $T/www/$n;"
	[ -f "$T/pki/$c.crt" ] || cert "$c" "mta-sts.$n.test" "DNS:mta-sts.$n.test"
	NGXSERVERS+="
    server {
        listen $WEB_IP:443 ssl;
        server_name mta-sts.$n.test;
        ssl_certificate $T/pki/$c.crt;
        ssl_certificate_key $T/pki/leaf.key;
        location / { $body }
    }"
}
# site NAME : the common case, TXT + A + server + enforce policy for mail.NAME.test
site() {
	txt "$1" "\"v=STSv1; id=${1}1\""
	host "$1" $WEB_IP
	std_policy "$1" "${2:-enforce}"
	vhost "$1"
}

# expected answer for a std_policy domain
okmx() { echo "OK secure match=mail.$1.test servername=hostname"; }
E_ENF='OK secure match=mail.enforce.test:.mx.enforce.test servername=hostname'

# ---------------------------------------------------------------- the fixture world

fixtures() {
	local i pad line

	# PFX-1/PFX-2/POL-11: two patterns, one wildcard, one duplicate
	txt enforce '"v=STSv1; id=enf1"'
	host enforce $WEB_IP
	policy enforce "version: STSv1" "mode: enforce" "mx: mail.enforce.test" \
	    "mx: *.mx.enforce.test" "mx: mail.enforce.test" "max_age: 86400"
	vhost enforce
	# CACHE-11: testing; the TXT carries an extension field (TXT-4)
	txt testing '"v=STSv1; id=tst1; ext=yes"'
	host testing $WEB_IP; std_policy testing testing; vhost testing
	# CACHE-10: mode none without mx (POL-10)
	txt none '"v=STSv1; id=non1"'
	host none $WEB_IP
	policy none "version: STSv1" "mode: none" "max_age: 86400"
	vhost none
	# TXT discovery
	host notxt $WEB_IP; std_policy notxt; vhost notxt                 # no TXT record at all
	txt badtxt '"v=STSv1; id="'; host badtxt $WEB_IP; std_policy badtxt; vhost badtxt
	txt twotxt '"v=STSv1; id=a"'; txt twotxt '"v=STSv1; id=b"'
	host twotxt $WEB_IP; std_policy twotxt; vhost twotxt
	txt sts10 '"v=STSv10; id=x"'; txt sts10 '"v=STSv1; id=a"'
	host sts10 $WEB_IP; std_policy sts10; vhost sts10
	txt spf '"v=spf1 -all"'; site spf
	txt joined '"v=STSv1; id=2024","0101"'; host joined $WEB_IP; std_policy joined; vhost joined
	txt txtfirst '"v=STSv1; id=first; id=second"'; host txtfirst $WEB_IP; std_policy txtfirst; vhost txtfirst
	# DNS-4: 6 extra TXT RRs of 4 strings each make the RRset ~5 kB, so any
	# UDP answer is truncated (dnsmasq caps UDP at 1232 anyway; its config
	# lines must stay under 1 kB)
	site tcptxt
	pad=$(printf '%0200d' 0)
	for i in 1 2 3 4 5 6; do txt tcptxt "\"filler-$i=$pad\",\"$pad\",\"$pad\",\"$pad\""; done
	# TXT-3/SEC-4: twelve short unrelated TXT RRs next to the STSv1 one (fits 512 bytes)
	site manytxt
	for i in $(seq 1 12); do txt manytxt "\"verify-$i=0123abcd\""; done
	# DNS-11: _mta-sts CNAME to another name that holds the TXT
	DNSCONF+="txt-record=_mta-sts.cnametarget.test,\"v=STSv1; id=cnametgt1\""$'\n'
	DNSCONF+="cname=_mta-sts.cname.test,_mta-sts.cnametarget.test"$'\n'
	host cname $WEB_IP; std_policy cname; vhost cname
	# DNS-7: SERVFAIL, and a server that never answers (SM-10)
	DNSCONF+="server=/servfail.test/127.0.0.1#5300"$'\n'
	DNSCONF+="server=/dnsdrop.test/127.0.0.1#1"$'\n'

	# policy bodies (POL-*)
	site garbage; policy garbage "<html><body>It works!</body></html>"
	site nomx; policy nomx "version: STSv1" "mode: enforce" "max_age: 86400"
	site nomaxage; policy nomaxage "version: STSv1" "mode: enforce" "mx: mail.nomaxage.test"
	site firstwins
	policy firstwins "version: STSv1" "mode: enforce" "mx: mail.firstwins.test" "max_age: 86400" "mode: none"
	site mxinject
	policy mxinject "version: STSv1" "mode: enforce" "mx: mail.mxinject.test servername=evil" "max_age: 86400"
	site maxagebig
	policy maxagebig "version: STSv1" "mode: enforce" "mx: mail.maxagebig.test" "max_age: 9999999999"
	site crlf
	policy_raw crlf 'version: STSv1\r\nmode: enforce\r\nmx: mail.crlf.test\r\nmax_age: 86400'
	site utf8ext
	policy_raw utf8ext 'version: STSv1\nmode: enforce\nnote: caf\303\251 \342\230\203\nmx: mail.utf8ext.test\nmax_age: 86400\n'
	txt utf8cs '"v=STSv1; id=utf8cs1"'; host utf8cs $WEB_IP
	policy_raw utf8cs 'version: STSv1\nmode: enforce\nnote: caf\303\251 \342\230\203\nmx: mail.utf8cs.test\nmax_age: 86400\n'
	vhost utf8cs utf8cs "root $T/www/utf8cs; charset utf-8;"

	# HTTP (HTTP-*)
	txt html '"v=STSv1; id=html1"'; host html $WEB_IP; std_policy html
	vhost html html "root $T/www/html; default_type text/html;"
	txt redirect '"v=STSv1; id=redir1"'; host redirect $WEB_IP
	vhost redirect redirect "return 301 https://mta-sts.redirtarget.test/.well-known/mta-sts.txt;"
	host redirtarget $WEB_IP; std_policy redirtarget; vhost redirtarget
	txt notfound '"v=STSv1; id=nf1"'; host notfound $WEB_IP
	vhost notfound notfound "return 404;"
	# HTTP-8: 70 KiB with Content-Length, and 70 KiB chunked (SSI drops the length)
	site big
	{ printf 'version: STSv1\nmode: enforce\nmx: mail.big.test\nmax_age: 86400\n'
	  line="padding: $(printf '%0100d' 0)"
	  for i in $(seq 1 700); do printf '%s\n' "$line"; done; } > "$T/www/big/.well-known/mta-sts.txt"
	txt bigchunked '"v=STSv1; id=bigc1"'; host bigchunked $WEB_IP
	mkdir -p "$T/www/bigchunked/.well-known"
	cp "$T/www/big/.well-known/mta-sts.txt" "$T/www/bigchunked/.well-known/mta-sts.txt"
	vhost bigchunked bigchunked "root $T/www/bigchunked; ssi on; ssi_types text/plain;"
	# HTTP-7: a valid policy in chunked coding
	txt chunked '"v=STSv1; id=chunk1"'; host chunked $WEB_IP; std_policy chunked
	vhost chunked chunked "root $T/www/chunked; ssi on; ssi_types text/plain;"
	# SM-7: a policy host that takes a second to answer (chunked, echo module)
	txt slow '"v=STSv1; id=slow1"'; host slow $WEB_IP
	vhost slow slow 'echo_sleep 1; echo "version: STSv1"; echo "mode: enforce"; echo "mx: mail.slow.test"; echo "max_age: 86400";'
	# CACHE-7
	site herd
	# pipelines need a second uncached domain that never appears elsewhere
	site pipe

	# TLS (TLS-*)
	txt untrusted '"v=STSv1; id=u1"'; host untrusted $WEB_IP; std_policy untrusted
	cert untrusted mta-sts.untrusted.test DNS:mta-sts.untrusted.test self; vhost untrusted
	txt otherca '"v=STSv1; id=o1"'; host otherca $WEB_IP; std_policy otherca
	cert otherca mta-sts.otherca.test DNS:mta-sts.otherca.test other-ca; vhost otherca
	txt expired '"v=STSv1; id=e1"'; host expired $WEB_IP; std_policy expired
	expired_cert expired mta-sts.expired.test; vhost expired
	txt wrongname '"v=STSv1; id=w1"'; host wrongname $WEB_IP; std_policy wrongname
	cert wrongname mta-sts.other.test DNS:mta-sts.other.test; vhost wrongname
	txt nosan '"v=STSv1; id=ns1"'; host nosan $WEB_IP; std_policy nosan
	cert nosan mta-sts.nosan.test unused nosan; vhost nosan
	txt wildcert '"v=STSv1; id=wc1"'; host wildcert $WEB_IP; std_policy wildcert
	cert wildcert mta-sts.wildcert.test 'DNS:*.wildcert.test'; vhost wildcert

	# connection-level failures (HTTP-13)
	txt hang '"v=STSv1; id=h1"'; host hang $HANG_IP
	txt refused '"v=STSv1; id=r1"'; host refused $DEAD_IP
	txt nxhost '"v=STSv1; id=nx1"'                       # mta-sts.nxhost.test: NXDOMAIN
}

# ---------------------------------------------------------------- servers

dns_up() {
	cat > "$T/dnsmasq.conf" <<-EOF
	port=53
	listen-address=$DNS_IP
	bind-interfaces
	no-resolv
	no-hosts
	no-poll
	cache-size=0
	local=/test/
	log-queries=extra
	log-facility=$T/dns.log
	$DNSCONF
	EOF
	# -k: foreground, but TCP queries are still served by forked children,
	# which log under their own pid: that is how dns_tcp_queries sees TCP.
	ip netns exec "$NS" dnsmasq -k -C "$T/dnsmasq.conf" -u root -g root >"$T/dnsmasq.out" 2>&1 &
	DNS_PID=$!
	PIDS+=("$DNS_PID")
	ip netns exec "$NS" "$PY" "$TOOLS" servfail 127.0.0.1 5300 >"$T/servfail.out" 2>&1 &
	PIDS+=($!)
	ip netns exec "$NS" "$PY" "$TOOLS" hang $HANG_IP 443 >"$T/hang.out" 2>&1 &
	PIDS+=($!)
	local i r
	for i in $(seq 1 50); do
		r=$(inns "$PY" "$TOOLS" dnsq $DNS_IP _mta-sts.enforce.test TXT 2>/dev/null)
		[ "$r" = "rcode=0 tc=0 an=1" ] && return 0
		kill -0 "$DNS_PID" 2>/dev/null || break
		sleep 0.1
	done
	setup_fail "dnsmasq did not come up ($r): $(tail -3 "$T/dnsmasq.out")"
}

web_up() {
	mkdir -p "$T/nginx-tmp"
	cert default default.invalid DNS:default.invalid
	local echo_mod=/usr/lib/nginx/modules/ngx_http_echo_module.so
	[ -f $echo_mod ] || setup_fail "$echo_mod missing (Debian package libnginx-mod-http-echo)"
	cat > "$T/nginx.conf" <<-EOF
	load_module $echo_mod;
	worker_processes 1;
	error_log $T/nginx-error.log info;
	pid $T/nginx.pid;
	events { worker_connections 512; }
	http {
	    client_body_temp_path $T/nginx-tmp/body;
	    proxy_temp_path $T/nginx-tmp/proxy;
	    fastcgi_temp_path $T/nginx-tmp/fastcgi;
	    uwsgi_temp_path $T/nginx-tmp/uwsgi;
	    scgi_temp_path $T/nginx-tmp/scgi;
	    types { }
	    default_type text/plain;
	    log_format e2e '\$server_name sni=\$ssl_server_name host=\$host "\$request" \$status';
	    access_log $T/access.log e2e;
	    # no SNI, or an unknown name: a certificate for another name (TLS-1)
	    server {
	        listen $WEB_IP:443 ssl default_server;
	        server_name _;
	        ssl_certificate $T/pki/default.crt;
	        ssl_certificate_key $T/pki/leaf.key;
	        return 404;
	    }
	$NGXSERVERS
	}
	EOF
	ip netns exec "$NS" nginx -c "$T/nginx.conf" -g 'daemon off;' >"$T/nginx.out" 2>&1 &
	PIDS+=($!)
	local i
	for i in $(seq 1 50); do
		[ -s "$T/nginx.pid" ] && inns bash -c "exec 3<>/dev/tcp/$WEB_IP/443" 2>/dev/null && return 0
		sleep 0.1
	done
	setup_fail "nginx did not come up: $(tail -5 "$T/nginx.out" "$T/nginx-error.log")"
}

# A fixture that is not what it claims makes every later result meaningless:
# check the important ones directly before any daemon runs.
world_check() {
	local got
	inns cmp -s /etc/ssl/certs/ca-certificates.crt "$T/pki/ca.crt" ||
	    setup_fail "/etc/netns/$NS/ssl is not bind-mounted over /etc/ssl by ip netns exec"
	inns grep -q "^nameserver $DNS_IP\$" /etc/resolv.conf || setup_fail "netns resolv.conf not in place"
	got=$(inns "$PY" "$TOOLS" dnsq $DNS_IP _mta-sts.tcptxt.test TXT)
	case $got in "rcode=0 tc=1 "*) ;; *) setup_fail "tcptxt UDP answer is not truncated: $got" ;; esac
	got=$(inns "$PY" "$TOOLS" dnsq $DNS_IP _mta-sts.tcptxt.test TXT tcp)
	[ "$got" = "rcode=0 tc=0 an=7" ] || setup_fail "tcptxt over TCP: $got"
	got=$(inns "$PY" "$TOOLS" dnsq $DNS_IP _mta-sts.manytxt.test TXT)
	[ "$got" = "rcode=0 tc=0 an=13" ] || setup_fail "manytxt over UDP: $got"
	got=$(inns "$PY" "$TOOLS" dnsq $DNS_IP _mta-sts.servfail.test TXT)
	[ "$got" = "rcode=2 tc=0 an=0" ] || setup_fail "servfail.test: $got"
	got=$(inns "$PY" "$TOOLS" dnsq $DNS_IP _mta-sts.cname.test TXT)
	[ "$got" = "rcode=0 tc=0 an=2" ] || setup_fail "cname.test: $got"
	got=$(inns "$PY" "$TOOLS" fetch mta-sts.enforce.test)
	[ "$got" = "200 text/plain length=110" ] || setup_fail "https enforce: $got"
	got=$(inns "$PY" "$TOOLS" fetch mta-sts.expired.test)
	case $got in *expired*) ;; *) setup_fail "expired.test certificate: $got" ;; esac
	got=$(inns "$PY" "$TOOLS" fetch mta-sts.bigchunked.test)
	[ "$got" = "200 text/plain chunked" ] || setup_fail "bigchunked: $got"
	# the checks above are not part of any test: drop their log lines
	: > "$T/access.log"
}

world_up() {
	ns_up
	pki_up
	cp "$T/pki/ca.crt" "/etc/netns/$NS/ssl/certs/ca-certificates.crt"
	fixtures
	extra_fixtures
	dns_up
	web_up
	mkdir -p "$T/postfix"
	printf 'compatibility_level = 3.6\ninet_protocols = all\n' > "$T/postfix/main.cf"
	world_check
}

# ---------------------------------------------------------------- daemons

wait_port() { # wait_port PORT PID
	local i
	for i in $(seq 1 100); do
		kill -0 "$2" 2>/dev/null || return 1
		inns bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# mtasts configuration used by all tests: default zone plus strict, nosni, quick
write_mtasts_conf() {
	cat > "$T/mtasts.conf" <<-EOF
	# generated by tests/e2e/lib.sh
	listen = 127.0.0.1:$MTASTS_PORT
	cache_size = 1000
	cache_grace = 300
	max_clients = 200

	[zone strict]
	strict_testing = yes

	[zone nosni]
	require_sni = no

	[zone quick]
	timeout = 2
	EOF
}

write_ref_conf() {
	cat > "$T/ref.yml" <<-EOF
	host: 127.0.0.1
	port: $REF_PORT
	reuse_port: true
	cache_grace: 300
	cache:
	  type: internal
	  options:
	    cache_size: 1000
	default_zone:
	  strict_testing: false
	  timeout: 4
	zones:
	  strict:
	    strict_testing: true
	  nosni:
	    require_sni: false
	  quick:
	    timeout: 2
	EOF
}

start_mtasts() { # start_mtasts [CONF]
	local conf=${1:-$T/mtasts.conf}
	if [ ! -x "$MTASTS" ]; then
		fail "setup: mtasts binary $MTASTS does not exist (build it with make, or set MTASTS=)"
		return 1
	fi
	ip netns exec "$NS" "$MTASTS" -c "$conf" -v 3 >>"$T/mtasts.log" 2>&1 &
	MTASTS_PID=$!
	PIDS+=("$MTASTS_PID")
	wait_port $MTASTS_PORT "$MTASTS_PID" && return 0
	fail "setup: mtasts did not start listening on $MTASTS_PORT: $(tail -5 "$T/mtasts.log")"
	return 1
}

stop_mtasts() {
	[ -n "$MTASTS_PID" ] || return 0
	kill "$MTASTS_PID" 2>/dev/null
	local i
	for i in $(seq 1 50); do kill -0 "$MTASTS_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$MTASTS_PID" 2>/dev/null
	wait "$MTASTS_PID" 2>/dev/null
	MTASTS_PID=
}

start_ref() {
	command -v mta-sts-daemon >/dev/null || { fail "setup: mta-sts-daemon not installed"; return 1; }
	ip netns exec "$NS" mta-sts-daemon -c "$T/ref.yml" -v debug >>"$T/ref.log" 2>&1 &
	REF_PID=$!
	PIDS+=("$REF_PID")
	wait_port $REF_PORT "$REF_PID" && return 0
	fail "setup: mta-sts-daemon did not start: $(tail -5 "$T/ref.log")"
	return 1
}

stop_ref() {
	[ -n "$REF_PID" ] || return 0
	kill "$REF_PID" 2>/dev/null
	local i
	for i in $(seq 1 50); do kill -0 "$REF_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$REF_PID" 2>/dev/null
	wait "$REF_PID" 2>/dev/null
	REF_PID=
}

# ---------------------------------------------------------------- queries

# qport PORT NAME KEY: one lookup through real postmap.  Prints
#   OK <value>        postmap found a value
#   NOTFOUND          the daemon said NOTFOUND (postmap prints nothing, exits 1)
#   ERROR ...         anything else (postmap's first warning)
qport() {
	local port=$1 name=$2 key=$3 out rc err
	if [ -n "$DAEMON_DOWN" ]; then echo "ERROR $DAEMON_DOWN"; return; fi
	err=$(mktemp "$T/q.XXXXXX")
	out=$(inns timeout 20 postmap -c "$T/postfix" -q "$key" "socketmap:inet:127.0.0.1:$port:$name" 2>"$err")
	rc=$?
	if [ $rc -eq 0 ] && [ ! -s "$err" ]; then
		echo "OK $out"
	elif [ $rc -eq 1 ] && [ ! -s "$err" ] && [ -z "$out" ]; then
		echo NOTFOUND
	elif [ $rc -eq 124 ]; then
		echo "ERROR postmap timed out"
	else
		echo "ERROR rc=$rc $(head -1 "$err" | sed 's/^postmap: //')"
	fi
	rm -f "$err"
}

# the daemon under test (test_policies.sh): IMPL=mtasts or IMPL=ref
q() {
	if [ "$IMPL" = ref ]; then qport $REF_PORT "$@"; else qport $MTASTS_PORT "$@"; fi
}

# ns PAYLOAD: one netstring around PAYLOAD (byte length)
ns() { local LC_ALL=C; printf '%d:%s,' "${#1}" "$1"; }

# raw PORT N CHUNK...: raw socketmap bytes; prints the raw replies (see tools.py send)
raw() {
	if [ -n "$DAEMON_DOWN" ]; then echo "ERROR $DAEMON_DOWN"; return; fi
	inns "$PY" "$TOOLS" send 127.0.0.1 "$@"
}

# ---------------------------------------------------------------- logs

# DNS query log: mark, do something, then dns_since MARK lists the queries
# dnsmasq saw in between.  A marker query makes sure dnsmasq has logged
# everything that was sent before it.
dns_mark() { wc -l < "$T/dns.log"; }
DNS_SYNC=0
dns_since() {
	local mark=$1 name i
	DNS_SYNC=$((DNS_SYNC + 1))
	name=sync-$DNS_SYNC.marker.test
	sleep 0.2
	inns "$PY" "$TOOLS" dnsq $DNS_IP "$name" A >/dev/null
	for i in $(seq 1 50); do
		grep -q "query\[A\] $name " "$T/dns.log" && break
		sleep 0.1
	done
	tail -n +"$((mark + 1))" "$T/dns.log" | sed "/query\[A\] $name /,\$d" |
	    grep -o 'query\[[A-Z]*\] [^ ]*' | sed 's/query\[\([A-Z]*\)\] /\1 /'
}
# number of DNS queries (any type) for names containing $1
dns_count() { grep -c "query\[[A-Z]*\] [^ ]*$1 " "$T/dns.log"; }
# TCP queries for a name: logged by a forked dnsmasq child (pid != main pid)
dns_tcp_queries() {
	grep "query\[TXT\] $1 " "$T/dns.log" | grep -vc "dnsmasq\[$DNS_PID\]:"
}
# GET requests nginx served for policy host mta-sts.NAME.test
gets() { grep -c "^mta-sts.$1.test .*\"GET " "$T/access.log"; }

# ---------------------------------------------------------------- per-test fixtures
# A test that needs fixtures of its own defines them in functions and names
# them in EXTRA_FIXTURES before world_up; they run right after fixtures(), so
# their txt/host/vhost/cert lines reach dnsmasq and nginx and no other test
# builds them.
EXTRA_FIXTURES=${EXTRA_FIXTURES:-}
extra_fixtures() { local f; for f in $EXTRA_FIXTURES; do "$f"; done; }
