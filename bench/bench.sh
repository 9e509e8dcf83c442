#!/bin/sh
# bench/bench.sh - speed and memory of mtasts against the reference daemon
# (mta-sts-daemon, Debian's postfix-mta-sts-resolver) and a ceiling server.
#
# Everything runs in a network namespace of its own with loopback only:
# dnsmasq serves the _mta-sts TXT and mta-sts A records of N domains
# dK.bench.test, nginx serves their policies over HTTPS with a test CA
# made at run time.  /etc/netns/NS/{resolv.conf,ssl} stand in for the
# system files, so every daemon runs on its defaults.  See bench/README.
# shellcheck disable=SC2034,SC2154  # PID_x, PARENT_x, cs0_x are set by eval
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

N=${BENCH_DOMAINS:-1000}
SCALE=${BENCH_SCALE:-1}
SCALE_NS=${BENCH_SCALE_DOMAINS:-10000 100000}
SECS=${BENCH_SECONDS:-5}
REPS=${BENCH_REPS:-3}
REF_SCALE_MAX=${BENCH_REF_SCALE_MAX:-180}
CONNECT_CONNS=${BENCH_CONNECT_CONNS:-16}
KEY=${BENCH_KEY:-ec}
# BENCH_CHAIN: the chains of the per-chain cold fills, as public CAs issue
# them (rsa: RSA-4096 root, RSA-2048 intermediate and leaves; ecdsa: P-384
# root and intermediate, P-256 leaves; p256: a P-256 root signing P-256
# leaves, no intermediate).  BENCH_PHASES=cold runs those fills alone.
CHAINS=${BENCH_CHAIN-rsa ecdsa p256}
PHASES=${BENCH_PHASES:-all}
CHAIN_REPS=${BENCH_CHAIN_REPS:-2}
CERT_NAMES=${BENCH_CERT_NAMES:-10}
HANG=100
TIMEOUT=4
GRACE=3600
MTASTS=${BENCH_MTASTS:-./mtasts}
FLOOR=${BENCH_FLOOR:-build/bench/floor}
REF=/usr/bin/mta-sts-daemon
PY=/usr/bin/python3

OUT=$ROOT/build/bench
NS=mtasts-bench-$$
W=$(mktemp -d /tmp/mtasts-bench.XXXXXX)
RAW=$W/results		# "KEY VALUE" lines, read by report.py
PIDS=$W/pids		# every background process this script started
LOADBIN=$W/load
CEILBIN=$W/ceiling
PORT_ref=8462
PORT_mtasts=8463
PORT_ceiling=8464

case $N in ''|*[!0-9]*) echo "bench: BENCH_DOMAINS must be a number" >&2; exit 2;; esac
case $PHASES in all|cold) ;; *) echo "bench: BENCH_PHASES must be all or cold" >&2; exit 2;; esac
for c in $CHAINS; do
	case $c in rsa|ecdsa|p256) ;; *) echo "bench: BENCH_CHAIN: rsa, ecdsa or p256, not $c" >&2; exit 2;; esac
done
if [ "$N" -lt 1 ] || [ "$N" -gt 100000 ]; then
	echo "bench: BENCH_DOMAINS must be 1..100000" >&2
	exit 2
fi

START=$(date +%s)
say() { printf '[%4ds] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
note() { printf '%s %s\n' "$1" "$2" >>"$RAW"; }

# ---- teardown, also on failure ------------------------------------------
alive() {	# alive PID...: is any of them running (not a zombie)?
	for p in "$@"; do
		if [ -d "/proc/$p" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null; then
			return 0
		fi
	done
	return 1
}
cleanup() {
	set +e
	# shellcheck disable=SC2046
	set -- $(cat "$PIDS" 2>/dev/null) $(ip netns pids "$NS" 2>/dev/null)
	if [ $# -gt 0 ]; then
		kill "$@" 2>/dev/null
		i=0
		while [ $i -lt 30 ] && alive "$@"; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$@" 2>/dev/null
	fi
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "/etc/netns/$NS"
	if [ -d "$W" ]; then
		mkdir -p "$OUT/logs"
		cp "$W"/*.log "$W"/*.conf "$W"/*.yml "$OUT/logs/" 2>/dev/null
		cp "$RAW" "$OUT/raw.txt" 2>/dev/null
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- tools ---------------------------------------------------------------
need() {	# need COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
missing=
need ip iproute2
need taskset util-linux
need cc gcc
need strip binutils
need openssl openssl
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing="$missing ca-certificates"
need nginx nginx
need dnsmasq dnsmasq-base
need "$REF" postfix-mta-sts-resolver
need "$PY" python3
if [ -x "$PY" ] && ! "$PY" -c 'import uvloop' 2>/dev/null; then
	missing="$missing python3-uvloop"	# recommended by the reference
fi
if [ -n "$missing" ]; then
	say "bench: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086  # one word per package
	apt-get install -y $missing >"$W/apt.log" 2>&1 ||
	    { apt-get update >>"$W/apt.log" 2>&1 && apt-get install -y $missing >>"$W/apt.log" 2>&1; } ||
	    { say "bench: apt-get install$missing failed"; exit 1; }
fi

mkdir -p "$OUT"
: >"$RAW"
: >"$PIDS"
cc -O2 -Wall -Wextra -o "$LOADBIN" bench/load.c
cc -O2 -Wall -Wextra -o "$CEILBIN" bench/ceiling.c

# CPUs: the daemon under test alone on one, the load generator on another,
# nginx and dnsmasq with the load generator (idle while hits are measured).
NCPU=$(nproc)
if [ "$NCPU" -ge 3 ]; then
	DCPU=$((NCPU - 1)); LCPU=$((NCPU - 2)); ICPU=0
elif [ "$NCPU" -eq 2 ]; then
	DCPU=1; LCPU=0; ICPU=0
else
	DCPU=; LCPU=; ICPU=
fi
# Command prefixes (words without blanks): run in the namespace, pinned.
# Being plain commands that exec, they keep $! the process's own id.
NSX="ip netns exec $NS"
LOADX="$NSX ${LCPU:+taskset -c $LCPU} $LOADBIN"
INFRA="$NSX ${ICPU:+taskset -c $ICPU}"

field() {	# field JSON KEY -> value of the first "KEY": number
	printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([-0-9.]*\).*/\1/p" | head -1
}

# ---- the namespace --------------------------------------------------------
say "== environment: namespace $NS, $N domains, work dir $W"
note meta.loadavg_before "$(cut -d' ' -f1-3 /proc/loadavg)"
ip netns add "$NS"
$NSX ip link set lo up
$NSX sysctl -qw net.ipv4.ip_local_port_range="1024 65535" || true
$NSX sysctl -qw net.ipv4.tcp_tw_reuse=1 || true
mkdir -p "/etc/netns/$NS/ssl/certs"
echo "nameserver 127.0.0.53" >"/etc/netns/$NS/resolv.conf"
[ -f /etc/ssl/openssl.cnf ] && cp /etc/ssl/openssl.cnf "/etc/netns/$NS/ssl/"

# ---- test CA and certificates ---------------------------------------------
# One server key; certificate c<C>-<G> names the policy hosts of domains
# C*G .. C*G+C-1 (a wildcard would match one label only, and a
# certificate per domain is slow to make for 100000).  C is
# BENCH_CERT_NAMES in every phase: the size of a certificate weighs on
# the client's handshake (with BearSSL, 100 names cost ~2 ms more than 10).
T=$W/tls
mkdir -p "$T"
cat >"$T/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = mtasts bench
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
genkey() {	# genkey FILE: a P-256 key, or RSA-2048 with BENCH_KEY=rsa
	case $KEY in
	rsa)	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null ;;
	*)	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null ;;
	esac
}
genkey "$T/ca.key"
openssl req -x509 -new -config "$T/openssl.cnf" -extensions ca -key "$T/ca.key" \
    -subj "/CN=mtasts bench CA" -days 3 -out "$T/ca.crt"
genkey "$T/server.key"

# gencert.sh C G: make certificate c<C>-<G>; xargs runs it on every CPU
cat >"$T/gencert.sh" <<EOF
set -eu
san=\$(awk -v c="\$1" -v g="\$2" 'BEGIN {
	lo = g * c; if (lo == 0) lo = 1
	for (k = lo; k < (g + 1) * c; k++)
		printf "%sDNS:mta-sts.d%d.bench.test", (k > lo ? "," : ""), k
}')
openssl req -x509 -new -config "$T/openssl.cnf" -extensions leaf \\
    -key "$T/server.key" -CA "$T/ca.crt" -CAkey "$T/ca.key" \\
    -subj "/CN=mtasts bench \$1-\$2" -addext "subjectAltName=\$san" -days 3 \\
    -out "$T/c\$1-\$2.tmp"
mv "$T/c\$1-\$2.tmp" "$T/c\$1-\$2.crt"
EOF
make_certs() {	# make_certs UPTO C [DIR]: the certificates for domains 1..UPTO
	awk -v n="$1" -v c="$2" -v t="${3:-$T}" 'BEGIN {
		for (g = 0; g * c <= n; g++) {
			if ((g + 1) * c <= 1)
				continue	# no domain 0
			f = t "/c" c "-" g ".crt"
			if ((getline line < f) <= 0)
				print c, g
			close(f)
		}
	}' | xargs -r -n 2 -P "$NCPU" sh "${3:-$T}/gencert.sh"
}

# chain_pki CHAIN: $T/CHAIN/ with root.crt (for the bundle), issuer.crt/key
# (what signs the leaves), chain.pem (what nginx sends after the leaf),
# server.key, and gencert.sh like $T/gencert.sh for those
chain_pki() {
	c=$1 D=$T/$1
	mkdir -p "$D"
	case $c in
	rsa)	rk="-algorithm RSA -pkeyopt rsa_keygen_bits:4096"
		ik="-algorithm RSA -pkeyopt rsa_keygen_bits:2048"; md=sha256 ;;
	ecdsa)	rk="-algorithm EC -pkeyopt ec_paramgen_curve:P-384"; ik=$rk; md=sha384 ;;
	p256)	rk="-algorithm EC -pkeyopt ec_paramgen_curve:P-256"; ik=; md=sha256 ;;
	esac
	# shellcheck disable=SC2086  # the key options are words
	openssl genpkey $rk -out "$D/root.key" 2>/dev/null
	openssl req -x509 -new -config "$T/openssl.cnf" -extensions ca -key "$D/root.key" \
	    -subj "/CN=mtasts bench $c root" -days 3 "-$md" -out "$D/root.crt"
	if [ -n "$ik" ]; then
		# shellcheck disable=SC2086
		openssl genpkey $ik -out "$D/issuer.key" 2>/dev/null
		openssl req -new -config "$T/openssl.cnf" -key "$D/issuer.key" \
		    -subj "/CN=mtasts bench $c intermediate" -out "$D/issuer.csr"
		openssl x509 -req -in "$D/issuer.csr" -CA "$D/root.crt" -CAkey "$D/root.key" \
		    -CAcreateserial -days 3 "-$md" -extfile "$T/openssl.cnf" -extensions ca \
		    -out "$D/issuer.crt" 2>/dev/null
		cp "$D/issuer.crt" "$D/chain.pem"
	else
		cp "$D/root.key" "$D/issuer.key"
		cp "$D/root.crt" "$D/issuer.crt"
		: >"$D/chain.pem"
	fi
	case $c in
	rsa)	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/server.key" 2>/dev/null ;;
	*)	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/server.key" 2>/dev/null ;;
	esac
	sed -e "s|$T/server.key|$D/server.key|; s|$T/ca.crt|$D/issuer.crt|; s|$T/ca.key|$D/issuer.key|" \
	    -e "s|-days 3|-days 3 -$md|; s|$T/c|$D/c|g" \
	    -e "s|^mv .*|cat \"$D/chain.pem\" >>\"$D/c\$1-\$2.tmp\" \&\& &|" "$T/gencert.sh" >"$D/gencert.sh"
}

# the system's CA bundle with the test roots last, as a daemon meets it:
# every start loads ~150 anchors, every handshake searches them
for c in $CHAINS; do
	chain_pki "$c"
done
# shellcheck disable=SC2046  # one path per chain
cat /etc/ssl/certs/ca-certificates.crt "$T/ca.crt" $(for c in $CHAINS; do echo "$T/$c/root.crt"; done) \
    >"/etc/netns/$NS/ssl/certs/ca-certificates.crt"
note meta.ca_anchors "$(grep -c 'BEGIN CERTIFICATE' "/etc/netns/$NS/ssl/certs/ca-certificates.crt")"

# ---- nginx -----------------------------------------------------------------
NG=$W/nginx
mkdir -p "$NG/tmp"
cat >"$W/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 8192;
daemon off;
pid $NG/nginx.pid;
error_log $W/nginx.log warn;
events { worker_connections 4096; }
http {
	# one line per request: what each daemon's handshakes negotiated
	log_format handshake '\$ssl_protocol \$ssl_cipher \$ssl_curve';
	access_log $W/handshakes.log handshake;
	server_tokens off;
	default_type text/plain;
	keepalive_timeout 5;
	client_body_temp_path $NG/tmp/body;
	proxy_temp_path $NG/tmp/proxy;
	fastcgi_temp_path $NG/tmp/fastcgi;
	uwsgi_temp_path $NG/tmp/uwsgi;
	scgi_temp_path $NG/tmp/scgi;
	server_names_hash_max_size 262144;
	server_names_hash_bucket_size 128;
	map \$host \$policy_domain {
		"~^mta-sts\.(?<d>.+)\$" \$d;
		default "";
	}
	include $NG/servers.conf;
}
EOF
cat >"$NG/policy.conf" <<EOF
listen 127.0.0.1:443 ssl;
location = /.well-known/mta-sts.txt {
	return 200 "version: STSv1\nmode: enforce\nmx: mx.\$policy_domain\nmax_age: 86400\n";
}
location / {
	return 404;
}
EOF
nginx_servers() {	# nginx_servers UPTO C [DIR]: one server block per certificate
	awk -v n="$1" -v c="$2" -v t="${3:-$T}" -v inc="$NG/policy.conf" 'BEGIN {
		for (g = 0; g * c <= n; g++) {
			if ((g + 1) * c <= 1)
				continue
			lo = g * c; if (lo == 0) lo = 1
			printf "server {\n\tserver_name"
			for (k = lo; k < (g + 1) * c; k++)
				printf " mta-sts.d%d.bench.test", k
			printf ";\n\tssl_certificate %s/c%d-%d.crt;\n\tssl_certificate_key %s/server.key;\n\tinclude %s;\n}\n", t, c, g, t, inc
		}
	}' >"$NG/servers.conf"
}

# ---- dnsmasq -----------------------------------------------------------------
dns_conf() {	# dns_conf UPTO
	{
		echo "no-resolv"
		echo "no-hosts"
		echo "listen-address=127.0.0.53"
		echo "bind-interfaces"
		echo "local-ttl=300"
		echo "local=/bench.test/"
		echo "address=/bench.test/127.0.0.1"
		awk -v n="$1" -v h="$HANG" 'BEGIN {
			for (k = 1; k <= h; k++) {
				printf "address=/mta-sts.h%d.bench.test/127.0.0.9\n", k
				printf "txt-record=_mta-sts.h%d.bench.test,\"v=STSv1; id=h%d\"\n", k, k
			}
			for (k = 1; k <= n; k++)
				printf "txt-record=_mta-sts.d%d.bench.test,\"v=STSv1; id=b%d\"\n", k, k
		}'
	} >"$W/dnsmasq.conf"
}
DNS_PID=
start_dns() {	# start_dns UPTO: (re)start dnsmasq and wait until it answers
	if [ -n "$DNS_PID" ]; then
		kill "$DNS_PID" 2>/dev/null || true
		wait "$DNS_PID" 2>/dev/null || true
	fi
	dns_conf "$1"
	$INFRA dnsmasq --keep-in-foreground --conf-file="$W/dnsmasq.conf" \
	    --pid-file= --user=root --group=root >>"$W/dnsmasq.log" 2>&1 &
	DNS_PID=$!
	echo "$DNS_PID" >>"$PIDS"
	$NSX "$PY" - "_mta-sts.d$1.bench.test" <<'EOF'
import socket, struct, sys, time
name = sys.argv[1]
q = struct.pack(">HHHHHH", 4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack(">HH", 16, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
end = time.time() + 180
while time.time() < end:
    try:
        s.sendto(q, ("127.0.0.53", 53))
        r = s.recv(512)
        if r[:2] == q[:2] and struct.unpack(">H", r[6:8])[0] > 0:
            sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("bench: dnsmasq does not answer " + name)
EOF
}

NGINX_PID=
start_web() {	# start_web UPTO [DIR]: certificates, nginx (re)configured, verified
	note "meta.names_per_cert.$1" "$CERT_NAMES"
	make_certs "$1" "$CERT_NAMES" "${2:-}"
	nginx_servers "$1" "$CERT_NAMES" "${2:-}"
	if [ -z "$NGINX_PID" ]; then
		$INFRA nginx -p "$NG" -c "$W/nginx.conf" &
		NGINX_PID=$!
		echo "$NGINX_PID" >>"$PIDS"
	else
		kill -HUP "$NGINX_PID"
	fi
	# the namespace's CA bundle and resolver, as the daemons see them
	$NSX "$PY" - "$1" <<'EOF'
import ssl, sys, time, urllib.request
n = int(sys.argv[1])
end = time.time() + 60
for k in (1, n):
    url = "https://mta-sts.d%d.bench.test/.well-known/mta-sts.txt" % k
    want = "version: STSv1\nmode: enforce\nmx: mx.d%d.bench.test\nmax_age: 86400\n" % k
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2,
                    context=ssl.create_default_context()) as r:
                body = r.read().decode()
                ctype = r.headers.get("Content-Type")
            if body == want and ctype.startswith("text/plain"):
                break
            err = "unexpected policy %r (%s)" % (body, ctype)
        except Exception as e:
            err = str(e)
        if time.time() > end:
            sys.exit("bench: policy fetch %s fails: %s" % (url, err))
        time.sleep(0.2)
EOF
}

start_hang() {	# a policy host that accepts connections and never answers
	$INFRA "$PY" -c '
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.9", 443))
s.listen(1024)
s.settimeout(1)
held = []
end = time.time() + 3600
while time.time() < end:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
' >>"$W/hang.log" 2>&1 &
	echo "$!" >>"$PIDS"
}

say "== certificates, nginx, dnsmasq"
start_dns "$N"
[ "$PHASES" = all ] && start_web "$N"
start_hang

# BENCH_SHELL=COMMAND: run COMMAND in the environment instead ("sh" for
# an interactive shell), then tear down.  BENCH_CA/BENCH_WORK name the
# CA certificate and the work directory for it.
if [ -n "${BENCH_SHELL:-}" ]; then
	BENCH_CA=$T/ca.crt BENCH_WORK=$W ip netns exec "$NS" sh -c "$BENCH_SHELL" || true
	exit 0
fi

# ---- daemons ------------------------------------------------------------------
write_configs() {	# write_configs CACHE_SIZE PORT_REF PORT_MTASTS
	cat >"$W/ref.yml" <<EOF
host: 127.0.0.1
port: $2
reuse_port: true
shutdown_timeout: 1
cache_grace: $GRACE
cache:
  type: internal
  options:
    cache_size: $1
default_zone:
  strict_testing: false
  timeout: $TIMEOUT
EOF
	cat >"$W/mtasts.conf" <<EOF
listen = 127.0.0.1:$3
cache_size = $1
cache_grace = $GRACE
EOF
}

# Expected reply per daemon (%s: the domain).  Both daemons append
# servername=hostname by default (require_sni), the ceiling does too.
EXPECT='OK secure match=mx.%s servername=hostname'

PID_ref=''
PID_mtasts=''
PID_ceiling=''
# start NAME PORT COMMAND...: spawn it through the load generator, which
# times spawn to first reply and stays its parent.  Sets PID_NAME.
start() {
	name=$1 port=$2
	shift 2
	: >"$W/$name.start"
	rm -f "$W/$name.pid"
	$LOADX -S -p "$port" -q 127.0.0.1 -t 30000 ${DCPU:+-A "$DCPU"} -L "$W/$name.log" \
	    -F "$W/$name.pid" -j "startup.$name" -- "$@" >"$W/$name.start" 2>"$W/$name.load.log" &
	echo "$!" >>"$PIDS"
	eval "PARENT_$name=$!"
	i=0
	while [ ! -s "$W/$name.start" ] && [ $i -lt 400 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	js=$(cat "$W/$name.start")
	pid=$(cat "$W/$name.pid" 2>/dev/null || true)
	[ -n "$pid" ] && echo "$pid" >>"$PIDS"
	[ -n "$js" ] || js='{"ok":0}'
	if [ "$(field "$js" ok)" != 1 ]; then
		say "bench: $name did not answer: $js (log: $OUT/logs/$name.log)"
		tail -5 "$W/$name.log" >&2 || true
		note "startup.$name" "$js"
		note warning "$name did not answer at start-up $(first_error "$js"): left out"
		eval "PID_$name="
		return 1
	fi
	note "startup.$name" "$js"
	eval "PID_$name=$pid"
	say "   $name: pid $pid, first reply after $(field "$js" startup_us) us"
}

stop() {	# stop NAME: SIGTERM, SIGKILL after 5 s
	name=$1
	eval "pid=\$PID_$name; parent=\$PARENT_$name"
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	i=0
	while [ -d "/proc/$pid" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$parent" 2>/dev/null || true
	eval "PID_$name="
}

status_kb() {	# status_kb PID FIELD
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}
ctxsw() {	# voluntary + involuntary context switches of all threads
	cat /proc/"$1"/task/*/status 2>/dev/null |
	    awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}
warn_load() {	# warn_load JSON LABEL
	pct=$(field "$1" load_cpu_pct)
	if [ -n "$pct" ] && awk -v p="$pct" 'BEGIN { exit !(p >= 90) }'; then
		say "   WARNING: load generator at $pct% of its CPU in $2: the load generator is the bottleneck there"
		note "warning" "load generator at $pct% of its CPU in $2"
	fi
}
failed_of() { field "$1" failed; }
first_error() { printf '%s\n' "$1" | sed -n 's/.*"first_error":"\(..*\)"}$/(\1)/p'; }

DAEMONS="ref mtasts ceiling"
have_mtasts=1
if [ ! -x "$MTASTS" ]; then
	say "bench: $MTASTS is missing: mtasts is left out"
	note warning "$MTASTS missing: mtasts left out"
	have_mtasts=0
fi

# The public-key floor of a cold lookup: BearSSL's operations timed on
# the daemon's CPU, before the phases and after them (report.py keeps the
# lower figure of each).  See bench/floor.c.
run_floor() {	# run_floor LABEL
	[ -x "$FLOOR" ] || { note warning "$FLOOR missing: no public-key floor"; return 0; }
	say "== public-key floor ($1): BearSSL operations on CPU ${DCPU:-any}"
	note "floor.$1" "$(${DCPU:+taskset -c $DCPU} "$FLOOR" || echo '"failed"')"
}
note meta.key "\"$KEY\""
run_floor before

cmd_of() {	# the command line of a daemon
	case $1 in
	ref)	echo "$REF -c $W/ref.yml" ;;
	mtasts)	echo "$MTASTS -c $W/mtasts.conf" ;;
	ceiling) echo "$CEILBIN -p $PORT_ceiling" ;;
	esac
}

hs_mix() {	# hs_mix FROM: nginx's handshakes from line FROM on, counted
	tail -n "+$1" "$W/handshakes.log" | sort | uniq -c | sort -rn |
	    awk '{ $1 = $1; printf "%s%s", (NR > 1 ? "; " : ""), $0 }'
}

# (k) cold fill per chain: each daemon started afresh (empty caches) fills
# N domains whose certificates the chain's CA issued, while one connection
# asks for a cached domain; ref and mtasts interleaved, CHAIN_REPS rounds
# (report.py keeps each one's round of least CPU).  Before the fill, one
# lookup (of d1) as in (c): it pays for what a daemon does once per CA.
chain_fills() {
	for c in $CHAINS; do
		say "== (k) cold fill, $c chain: $N domains, $CHAIN_REPS rounds"
		start_web "$N" "$T/$c"
		r=1
		while [ "$r" -le "$CHAIN_REPS" ]; do
			for d in ref mtasts; do
				[ "$d" = mtasts ] && [ "$have_mtasts" = 0 ] && continue
				eval "port=\$PORT_$d"
				# shellcheck disable=SC2046
				start "$d" "$port" $(cmd_of "$d") || continue
				eval "pid=\$PID_$d"
				sleep 0.5
				hs0=$(wc -l <"$W/handshakes.log")
				$LOADX -p "$port" -c 1 -o once -r 1:1 -d 0 -t 10000 -e "$EXPECT" >/dev/null 2>&1 || true
				prof=
				if [ -n "${BENCH_PROFILE:-}" ] && [ "$d" = mtasts ] && command -v perf >/dev/null; then
					mkdir -p "$OUT/logs"
					perf record -q -e cpu-clock -g -p "$pid" -o "$OUT/logs/fill.$c.perf" 2>/dev/null &
					prof=$!
					sleep 0.5
				fi
				$LOADX -p "$port" -c 1 -r 1:1 -d 600 -e "$EXPECT" -j "chainhits.$c.$d.$r" \
				    >"$W/chainhits" &
				hits=$!
				js=$($LOADX -p "$port" -c 50 -o once -r "1:$N" -d 600 -t 30000 -P "$pid" \
				    -e "$EXPECT" -j "chain.$c.$d.$r" || true)
				kill -USR1 "$hits" 2>/dev/null || true
				wait "$hits" || true
				if [ -n "$prof" ]; then
					kill -INT "$prof"
					wait "$prof" || true
					# where the CPU went, by symbol, for report.py
					perf report -i "$OUT/logs/fill.$c.perf" --no-children --sort sym \
					    --stdio -g none >"$OUT/logs/fill.$c.txt" 2>/dev/null &&
					    note "profile.$c" "\"$OUT/logs/fill.$c.txt\""
				fi
				note "chainhits.$c.$d.$r" "$(cat "$W/chainhits")"
				note "chain.$c.$d.$r" "$js"
				note "chainhs.$c.$d.$r" "\"$(hs_mix "$((hs0 + 1))")\""
				say "   $d round $r: $(field "$js" elapsed_s) s, CPU $(field "$js" daemon_cpu_s) s, $(failed_of "$js") failed $(first_error "$js")"
				warn_load "$js" "chain.$c.$d"
				stop "$d"
			done
			r=$((r + 1))
		done
	done
}

# phases (a) startup, (b) idle RSS, (c) cold fill, (d) RSS after it
write_configs "$((N + HANG))" "$PORT_ref" "$PORT_mtasts"
if [ "$PHASES" = all ]; then
LIVE=
for d in $DAEMONS; do
	[ "$d" = mtasts ] && [ "$have_mtasts" = 0 ] && continue
	say "== $d: (a) startup, (b) idle RSS$( [ "$d" = ceiling ] || echo ', (c) cold fill of' "$N" 'domains, (d) RSS')"
	eval "port=\$PORT_$d"
	# shellcheck disable=SC2046
	start "$d" "$port" $(cmd_of "$d") || continue
	LIVE="$LIVE $d"
	eval "pid=\$PID_$d"
	sleep 1
	note "idle_rss_kb.$d" "$(status_kb "$pid" VmRSS)"
	[ "$d" = ceiling ] && continue
	hs0=$(wc -l <"$W/handshakes.log")
	prof=
	if [ -n "${BENCH_PROFILE:-}" ] && [ "$d" = mtasts ] && command -v perf >/dev/null; then
		# BENCH_PROFILE=1: sample the daemon during its fill (software
		# clock, works without hardware counters) for perf report -i
		mkdir -p "$OUT/logs"
		perf record -q -e cpu-clock -g -p "$pid" -o "$OUT/logs/fill.perf" 2>/dev/null &
		prof=$!
		sleep 0.5
	fi
	# meanwhile: hits on a cached domain (d1) over one connection, to see
	# whether new domains' handshakes hold up answers from the cache
	$LOADX -p "$port" -c 1 -o once -r 1:1 -d 0 -t 10000 -e "$EXPECT" >/dev/null 2>&1 || true
	$LOADX -p "$port" -c 1 -r 1:1 -d 600 -e "$EXPECT" -j "fillhits.$d" >"$W/fillhits.$d" &
	hits=$!
	js=$($LOADX -p "$port" -c 50 -o once -r "1:$N" -d 600 -t 30000 -P "$pid" -e "$EXPECT" \
	    -j "fill.$d" || true)
	kill -USR1 "$hits" 2>/dev/null || true
	wait "$hits" || true
	note "fillhits.$d" "$(cat "$W/fillhits.$d")"
	[ -n "$prof" ] && { kill -INT "$prof"; wait "$prof" || true; }
	note "fill.$d" "$js"
	note "handshakes.$d" "\"$(tail -n "+$((hs0 + 1))" "$W/handshakes.log" | sort | uniq -c |
	    sort -rn | awk '{ $1 = $1; printf "%s%s", (NR > 1 ? "; " : ""), $0 }')\""
	note "fill_rss_kb.$d" "$(status_kb "$pid" VmRSS)"
	note "fill_hwm_kb.$d" "$(status_kb "$pid" VmHWM)"
	say "   fill: $(field "$js" elapsed_s) s, $(field "$js" ok) ok, $(failed_of "$js") failed $(first_error "$js")"
	warn_load "$js" "fill.$d"
done

# (i) idle wakeups: all daemons at once, 10 s without traffic
say "== (i) idle wakeups over 10 s:$LIVE"
sleep 1
for d in $LIVE; do
	eval "pid=\$PID_$d"
	eval "cs0_$d=$(ctxsw "$pid")"
done
sleep 10
for d in $LIVE; do
	eval "pid=\$PID_$d; cs0=\$cs0_$d"
	note "wakeups_per_s.$d" "$(awk -v a="$cs0" -v b="$(ctxsw "$pid")" 'BEGIN { print (b - a) / 10 }')"
done

# (e) warm hits with 1, 16, 100 connections, (f) a connection per lookup:
# interleaved, REPS rounds, the median is reported
say "== (e) warm hits, (f) connect per lookup: $REPS rounds of ${SECS} s runs"
r=1
while [ "$r" -le "$REPS" ]; do
	for w in c1 c16 c100 connect; do
		for d in $LIVE; do
			eval "pid=\$PID_$d; port=\$PORT_$d"
			case $w in
			c*[0-9]) args="-c ${w#c}" ;;
			connect) args="-C -c $CONNECT_CONNS" ;;
			esac
			# shellcheck disable=SC2086
			js=$($LOADX -p "$port" $args -d "$SECS" -o rand -r "1:$N" -t 10000 -P "$pid" \
			    -e "$EXPECT" -j "$w.$d.$r" || true)
			note "warm.$w.$d.$r" "$js"
			warn_load "$js" "$w.$d"
			[ "$(failed_of "$js")" = 0 ] || say "   $w.$d: $(failed_of "$js") failed requests $(first_error "$js")"
		done
	done
	say "   round $r done"
	r=$((r + 1))
done

for d in $LIVE; do
	eval "pid=\$PID_$d"
	note "warm_hwm_kb.$d" "$(status_kb "$pid" VmHWM)"
done

# (g) hits while 100 policy fetches hang
for d in $LIVE; do
	[ "$d" = ceiling ] && continue
	say "== (g) $d: hits while $HANG policy fetches hang"
	eval "pid=\$PID_$d; port=\$PORT_$d"
	$LOADX -p "$port" -c "$HANG" -o once -k h -r "1:$HANG" -e ANY -d 60 -t 60000 \
	    -j "hangbg.$d" >"$W/hangbg.$d" 2>&1 &
	bg=$!
	sleep 0.3
	js=$($LOADX -p "$port" -c 1 -d "$(awk -v t="$TIMEOUT" 'BEGIN { print t - 1 }')" -o rand \
	    -r "1:$N" -t 10000 -P "$pid" -e "$EXPECT" -j "hang.$d" || true)
	wait "$bg" || true
	note "hang.$d" "$js"
	note "hangbg.$d" "$(cat "$W/hangbg.$d")"
	say "   p99 $(field "$js" p99) us, $(failed_of "$js") failed; hung lookups answered after $(field "$(cat "$W/hangbg.$d")" p50) us (p50)"
done

for d in $LIVE; do
	eval "pid=\$PID_$d"
	note "end_hwm_kb.$d" "$(status_kb "$pid" VmHWM)"
	note "end_rss_kb.$d" "$(status_kb "$pid" VmRSS)"
	stop "$d"
done
fi	# PHASES = all

[ -n "$CHAINS" ] && chain_fills

# (h) scale: RSS and lookup CPU with many cached domains
if [ "$SCALE" != 0 ] && [ "$PHASES" = all ]; then
	# seconds per domain of the reference's largest fill so far
	ref_rate=$(awk -v n="$N" '$1 == "fill.ref" && match($0, /"elapsed_s":[0-9.]+/) {
		print substr($0, RSTART + 12, RLENGTH - 12) / n }' "$RAW")
	for sn in $SCALE_NS; do
		say "== (h) scale: $sn domains"
		start_dns "$sn"
		start_web "$sn"
		write_configs "$((sn + HANG))" "$PORT_ref" "$PORT_mtasts"
		list=
		[ "$have_mtasts" = 1 ] && list=mtasts
		if [ -n "$ref_rate" ] &&
		    awk -v r="$ref_rate" -v s="$sn" -v m="$REF_SCALE_MAX" \
		    'BEGIN { exit !(r * s <= m) }'; then
			list="ref $list"
		else
			say "   reference left out: its fill would take over ${REF_SCALE_MAX} s"
			note "scale_skipped.ref.$sn" "\"estimated fill over ${REF_SCALE_MAX} s\""
		fi
		for d in $list; do
			eval "port=\$PORT_$d"
			# shellcheck disable=SC2046
			start "$d" "$port" $(cmd_of "$d") || continue
			eval "pid=\$PID_$d"
			sleep 1
			note "scale.$sn.idle_rss_kb.$d" "$(status_kb "$pid" VmRSS)"
			js=$($LOADX -p "$port" -c 50 -o once -r "1:$sn" -d 900 -t 30000 -P "$pid" \
			    -e "$EXPECT" -j "scale.$sn.fill.$d" || true)
			note "scale.$sn.fill.$d" "$js"
			if [ "$d" = ref ] && [ "$(field "$js" failed)" = 0 ]; then
				ref_rate=$(awk -v t="$(field "$js" elapsed_s)" -v s="$sn" 'BEGIN { print t / s }')
			fi
			note "scale.$sn.rss_kb.$d" "$(status_kb "$pid" VmRSS)"
			note "scale.$sn.hwm_kb.$d" "$(status_kb "$pid" VmHWM)"
			js2=$($LOADX -p "$port" -c 16 -d "$SECS" -o rand -r "1:$sn" -t 10000 -P "$pid" \
			    -e "$EXPECT" -j "scale.$sn.hits.$d" || true)
			note "scale.$sn.hits.$d" "$js2"
			say "   $d: fill $(field "$js" elapsed_s) s, $(failed_of "$js") failed $(first_error "$js"), RSS $(status_kb "$pid" VmRSS) KiB"
			stop "$d"
		done
	done
fi

# (l) the shared cache: with Redis configured, instance A fills the N
# domains (fetching each and writing it to Redis), then a fresh instance B
# fills them (from Redis: no handshake); then warm hits on B, which never
# touch Redis.  Compared with mtasts' standalone fill (c) and warm (e).
if [ "$have_mtasts" = 1 ] && [ "$PHASES" = all ] && [ "${BENCH_REDIS:-1}" != 0 ] &&
    command -v redis-server >/dev/null; then
	say "== (l) shared cache: two instances and Redis, $N domains"
	# after (h), dnsmasq holds 100000 TXT records in a list it walks per
	# query: back to the N of (c), so DNS does not set the pace
	[ "$SCALE" = 0 ] || start_dns "$N"
	$NSX redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no \
	    --daemonize no --logfile "$W/redis.log" --dir "$W" &
	rpid=$!
	echo "$rpid" >>"$PIDS"
	i=0
	until $NSX redis-cli -p 6379 PING 2>/dev/null | grep -q PONG || [ $i -ge 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	write_configs "$((N + HANG))" "$PORT_ref" "$PORT_mtasts"
	echo "redis = 127.0.0.1:6379" >>"$W/mtasts.conf"
	for k in a b; do
		# shellcheck disable=SC2046
		start mtasts "$PORT_mtasts" $(cmd_of mtasts) || break
		pid=$PID_mtasts
		sleep 1
		hs0=$(wc -l <"$W/handshakes.log")
		js=$($LOADX -p "$PORT_mtasts" -c 50 -o once -r "1:$N" -d 600 -t 30000 -P "$pid" \
		    -e "$EXPECT" -j "shared.fill.$k" || true)
		note "shared.fill.$k" "$js"
		note "shared.handshakes.$k" "$(($(wc -l <"$W/handshakes.log") - hs0))"
		say "   instance $k: fill $(field "$js" elapsed_s) s, $(failed_of "$js") failed $(first_error "$js")"
		if [ "$k" = b ]; then
			js=$($LOADX -p "$PORT_mtasts" -c 16 -d "$SECS" -o rand -r "1:$N" -t 10000 \
			    -P "$pid" -e "$EXPECT" -j shared.c16 || true)
			note shared.c16 "$js"
		fi
		stop mtasts
	done
	note shared.redis_keys "$($NSX redis-cli -p 6379 DBSIZE)"
	note shared.redis_used_bytes "$($NSX redis-cli -p 6379 INFO memory |
	    sed -n 's/^used_memory:\([0-9]*\).*/\1/p')"
	kill "$rpid" 2>/dev/null || true
	wait "$rpid" 2>/dev/null || true
fi

# (j) stripped static binary
if [ "$have_mtasts" = 1 ]; then
	cp "$MTASTS" "$W/mtasts.stripped"
	strip "$W/mtasts.stripped"
	note binary_bytes "$(stat -c %s "$W/mtasts.stripped")"
	note binary_unstripped_bytes "$(stat -c %s "$MTASTS")"
	if readelf -l "$MTASTS" 2>/dev/null | grep -q INTERP; then
		note binary_static false
	else
		note binary_static true
	fi
	note version.mtasts "\"$("$MTASTS" -V 2>&1 | head -1)\""
fi

run_floor after

# ---- machine, versions, report ---------------------------------------------------
note meta.loadavg_after "$(cut -d' ' -f1-3 /proc/loadavg)"
note meta.cpu_model "\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\""
note meta.cores "$NCPU"
note meta.kernel "\"$(uname -r)\""
note meta.cpus "\"daemon ${DCPU:-any}, load generator ${LCPU:-any}, nginx+dnsmasq ${ICPU:-any}\""
note meta.domains "$N"
note meta.chains "\"$CHAINS\""
note meta.chain_reps "$CHAIN_REPS"
note meta.phases "\"$PHASES\""
note meta.seconds "$SECS"
note meta.reps "$REPS"
note meta.connect_conns "$CONNECT_CONNS"
note meta.git_commit "\"$(git rev-parse HEAD 2>/dev/null || echo unknown)\""
note meta.git_dirty "$( [ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && echo false || echo true)"
note version.mta-sts-daemon "\"$(dpkg-query -W -f='${Version}' postfix-mta-sts-resolver 2>/dev/null)\""
note version.nginx "\"$(nginx -v 2>&1 | sed 's/^nginx version: //')\""
note version.dnsmasq "\"$(dnsmasq --version | head -1 | sed 's/  Copyright.*//')\""
note version.openssl "\"$(openssl version)\""
note version.python "\"$("$PY" -c 'import platform; print(platform.python_version())')\""
note version.ref_event_loop "\"$(grep -q 'uvloop enabled' "$W/ref.log" 2>/dev/null && echo uvloop || echo asyncio)\""

"$PY" bench/report.py "$RAW" "$OUT/result.json" | tee "$OUT/table.txt"
say "results: $OUT/result.json, table: $OUT/table.txt, logs: $OUT/logs/"
