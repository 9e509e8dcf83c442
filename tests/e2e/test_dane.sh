#!/bin/bash
# tests/e2e/test_dane.sh - DANE before MTA-STS (DANE-1..DANE-5) through real
# postmap, against a DNS world of its own instead of lib.sh's dnsmasq:
#   127.0.0.4:53   nsd, authoritative for dane.test (signed with ldns-signzone;
#                  one TLSA RRset tampered after signing: bogus) and
#                  insec.test (not signed)
#   127.0.0.53:53  unbound, validating with dane.test's key as trust anchor;
#                  the TLSA name of hang.dane.test is forwarded to
#   127.0.0.6:53   a UDP listener that never answers
# nginx (lib.sh) serves the MTA-STS policies of the same names.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

BLACKHOLE_IP=127.0.0.6
AUTH_IP=127.0.0.4
H1=$(printf '%064d' 1)          # TLSA 3 1 1 data (SHA2-256: 32 bytes)
HB=$(printf 'b%.0s' $(seq 1 64))   # the RRset that gets tampered

for tool in nsd unbound ldns-keygen ldns-signzone; do
	command -v $tool >/dev/null || PATH=$PATH:/usr/sbin
	command -v $tool >/dev/null || { echo "FAIL setup: $tool missing (scripts/install-deps.sh test)"; echo "0 passed, 1 failed"; exit 1; }
done

# ---------------------------------------------------------------- zones

# an MTA-STS site for NAME (a name under .test): TXT, policy host, policy
sts_rr() { # NAME: the zone lines
	printf '_mta-sts.%s. 300 IN TXT "v=STSv1; id=%s1"\n' "$1" "${1%%.*}"
	printf 'mta-sts.%s. 300 IN A %s\n' "$1" "$WEB_IP"
}
sts_web() { std_policy "$1"; vhost "$1"; }

zones() {
	local D=$T/dns z
	mkdir -p "$D"
	z=$D/dane.test.zone
	{
	cat <<-EOF
	\$ORIGIN dane.test.
	\$TTL 300
	@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300
	@ IN NS ns.dane.test.
	ns IN A $AUTH_IP
	; every MX host has usable TLSA (and an MTA-STS policy exists)
	all IN MX 10 mx1.all
	all IN MX 20 mx2.all
	mx1.all IN A 127.0.0.9
	mx2.all IN A 127.0.0.9
	_25._tcp.mx1.all IN TLSA 3 1 1 $H1
	_25._tcp.mx2.all IN TLSA 2 0 1 $H1
	; one host with TLSA, one without
	some IN MX 10 mx1.some
	some IN MX 20 mx2.some
	mx1.some IN A 127.0.0.9
	mx2.some IN A 127.0.0.9
	_25._tcp.mx1.some IN TLSA 3 1 1 $H1
	; only unusable TLSA (PKIX-TA, PKIX-EE)
	unusable IN MX 10 mx1.unusable
	mx1.unusable IN A 127.0.0.9
	_25._tcp.mx1.unusable IN TLSA 0 0 1 $H1
	_25._tcp.mx1.unusable IN TLSA 1 1 1 $H1
	; the MX host lives in an unsigned zone
	mxout IN MX 10 mx.insec.test.
	; a TLSA RRset whose data is changed after signing
	bogus IN MX 10 mx1.bogus
	mx1.bogus IN A 127.0.0.9
	_25._tcp.mx1.bogus IN TLSA 3 1 1 $HB
	; no MX: the domain is its own host
	implicit IN A 127.0.0.9
	_25._tcp.implicit IN TLSA 3 1 1 $H1
	; DANE, and no MTA-STS at all
	nosts IN MX 10 mx1.nosts
	mx1.nosts IN A 127.0.0.9
	_25._tcp.mx1.nosts IN TLSA 3 1 1 $H1
	; the TLSA query goes to a server that never answers
	hang IN MX 10 mx1.hang
	mx1.hang IN A 127.0.0.9
	_25._tcp.mx1.hang IN TLSA 3 1 1 $H1
	; a null MX (RFC 7505)
	nullmx IN MX 0 .
	; everything with a 5 s TTL: the decision expires soon
	short 5 IN MX 10 mx1.short
	mx1.short 5 IN A 127.0.0.9
	_25._tcp.mx1.short 5 IN TLSA 3 1 1 $H1
	EOF
	for n in all some unusable mxout bogus implicit hang nullmx; do sts_rr $n.dane.test; done
	} > "$z"
	cat > "$D/insec.test.zone" <<-EOF
	\$ORIGIN insec.test.
	\$TTL 300
	@ IN SOA ns.insec.test. hostmaster.insec.test. 1 3600 600 86400 300
	@ IN NS ns.insec.test.
	ns IN A $AUTH_IP
	plain IN MX 10 mx.plain
	mx.plain IN A 127.0.0.9
	_25._tcp.mx.plain IN TLSA 3 1 1 $H1
	mx IN A 127.0.0.9
	_25._tcp.mx IN TLSA 3 1 1 $H1
	$(sts_rr plain.insec.test)
	EOF
	( cd "$D" && ldns-keygen -a ECDSAP256SHA256 -k dane.test > ksk.name ) 2>"$D/err" ||
	    setup_fail "ldns-keygen: $(cat "$D/err")"
	local key
	key=$D/$(cat "$D/ksk.name")
	ldns-signzone -o dane.test "$z" "$key" 2>"$D/err" || setup_fail "ldns-signzone: $(cat "$D/err")"
	grep -q "RRSIG" "$z.signed" || setup_fail "ldns-signzone wrote no signatures"
	# tamper: the signature no longer matches the data
	sed -i "s/$HB/$(printf 'c%.0s' $(seq 1 64))/" "$z.signed"
	grep -q "cccccccc" "$z.signed" || setup_fail "the bogus TLSA RRset was not changed"
	cp "$key.key" "$D/anchor.key"
}

sites() {
	local n
	for n in all some unusable mxout bogus implicit hang nullmx; do sts_web $n.dane; done
	sts_web plain.insec
}

dane_dns_up() {
	local D=$T/dns r
	cat > "$D/nsd.conf" <<-EOF
	server:
	    ip-address: $AUTH_IP
	    port: 53
	    username: ""
	    chroot: ""
	    zonesdir: "$D"
	    database: ""
	    pidfile: "$D/nsd.pid"
	    logfile: "$D/nsd.log"
	    zonelistfile: "$D/zone.list"
	    xfrdfile: "$D/xfrd.state"
	    xfrdir: "$D"
	    verbosity: 1
	remote-control:
	    control-enable: no
	zone:
	    name: dane.test
	    zonefile: dane.test.zone.signed
	zone:
	    name: insec.test
	    zonefile: insec.test.zone
	EOF
	ip netns exec "$NS" nsd -d -c "$D/nsd.conf" >"$D/nsd.out" 2>&1 &
	PIDS+=($!)
	ip netns exec "$NS" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    s.recv(4096)
' $BLACKHOLE_IP >"$D/blackhole.out" 2>&1 &
	PIDS+=($!)
	cat > "$D/unbound.conf" <<-EOF
	server:
	    interface: $DNS_IP
	    port: 53
	    username: ""
	    chroot: ""
	    directory: "$D"
	    pidfile: ""
	    use-syslog: no
	    logfile: "$D/unbound.log"
	    verbosity: 1
	    val-log-level: 2
	    num-threads: 1
	    do-ip6: no
	    do-not-query-localhost: no
	    access-control: 127.0.0.0/8 allow
	    module-config: "validator iterator"
	    trust-anchor-file: "$D/anchor.key"
	    qname-minimisation: no
	    harden-dnssec-stripped: yes
	    msg-cache-size: 1m
	    rrset-cache-size: 1m
	    infra-host-ttl: 1
	    so-reuseport: no
	    # unbound answers the RFC 6761 name test. itself unless told not to
	    local-zone: "test." nodefault
	remote-control:
	    control-enable: no
	stub-zone:
	    name: "dane.test"
	    stub-addr: $AUTH_IP@53
	stub-zone:
	    name: "insec.test"
	    stub-addr: $AUTH_IP@53
	forward-zone:
	    name: "_tcp.mx1.hang.dane.test"
	    forward-addr: $BLACKHOLE_IP@53
	EOF
	ip netns exec "$NS" unbound -d -c "$D/unbound.conf" >"$D/unbound.out" 2>&1 &
	UNBOUND_PID=$!
	PIDS+=($!)
	for _ in $(seq 1 50); do
		r=$(inns "$PY" "$TOOLS" dnsq $DNS_IP all.dane.test MX 2>/dev/null)
		[ "$r" = "rcode=0 tc=0 an=2" ] && return 0
		sleep 0.1
	done
	setup_fail "nsd/unbound did not come up ($r): $(tail -n 3 "$D/nsd.out" "$D/unbound.out" "$D/unbound.log")"
}

dane_conf() {
	cat > "$T/mtasts.conf" <<-EOF
	# generated by tests/e2e/test_dane.sh
	listen = 127.0.0.1:$MTASTS_PORT
	cache_size = 1000
	cache_grace = 300
	cache_file = $T/cache.snap
	dane = yes

	[zone dsts]
	dane_failure = sts

	[zone nodane]
	dane = no
	EOF
}

within() { local d=$(($3 - $2)); [ "$d" -lt "$1" ] && echo yes || echo "no, took $d ms (limit $1)"; }
sts() { okmx "$1"; }

# ---------------------------------------------------------------- run

ns_up
ip -n "$NS" addr add $BLACKHOLE_IP/8 dev lo 2>/dev/null
pki_up
cp "$T/pki/ca.crt" "/etc/netns/$NS/ssl/certs/ca-certificates.crt"
zones
sites
dane_dns_up
web_up
mkdir -p "$T/postfix"
printf 'compatibility_level = 3.6\ninet_protocols = all\n' > "$T/postfix/main.cf"
dane_conf
start_mtasts || DAEMON_DOWN="mtasts did not start"
echo "# namespace $NS"

# the world is what it claims: signed answers carry AD, bogus ones fail
got=$(inns "$PY" "$TOOLS" dnsq $DNS_IP _25._tcp.mx1.bogus.dane.test TLSA)
check setup "bogus TLSA: unbound answers SERVFAIL" "rcode=2 tc=0 an=0" "$got"

check DANE-4 "every MX host with usable TLSA -> dane-only, though an MTA-STS policy exists" \
    "OK dane-only" "$(q postfix all.dane.test)"
check DANE-4 "one MX host with TLSA, one without -> dane" "OK dane" "$(q postfix some.dane.test)"
check DANE-3 "only unusable TLSA (usage 0 and 1) -> dane" "OK dane" "$(q postfix unusable.dane.test)"
check DANE-3 "unsigned zone with MX and TLSA -> the MTA-STS answer" \
    "$(sts plain.insec)" "$(q postfix plain.insec.test)"
check DANE-3 "signed MX, MX host in an unsigned zone -> the MTA-STS answer" \
    "$(sts mxout.dane)" "$(q postfix mxout.dane.test)"
check DANE-3 "no MX: A and TLSA at the domain itself -> dane-only" \
    "OK dane-only" "$(q postfix implicit.dane.test)"
check DANE-4 "DANE and no _mta-sts TXT -> dane-only" "OK dane-only" "$(q postfix nosts.dane.test)"
check DANE-3 "null MX -> no DANE host, the MTA-STS answer" \
    "$(sts nullmx.dane)" "$(q postfix nullmx.dane.test)"
got=$(q postfix bogus.dane.test)
case $got in
"ERROR rc="*"socketmap server temporary error: dnssec lookup failed: _25._tcp.mx1.bogus.dane.test: "*SERVFAIL*)
	got=temp ;;
esac
check DANE-5 "bogus TLSA, dane_failure = temp -> TEMP dnssec lookup failed (postmap: temporary error)" \
    temp "$got"
check DANE-5 "bogus TLSA, dane_failure = sts -> the MTA-STS answer" \
    "$(sts bogus.dane)" "$(q dsts bogus.dane.test)"
check DANE-1 "dane = no zone: the MTA-STS answer for a dane-only domain" \
    "$(sts all.dane)" "$(q nodane all.dane.test)"
check DANE-1 "dane = no zone: a domain without MTA-STS -> NOTFOUND" NOTFOUND "$(q nodane nosts.dane.test)"

# a validator that never answers one TLSA query: cached domains are not held up
hangout=$T/hang.answer
( q postfix hang.dane.test > "$hangout" ) &
hpid=$!
sleep 0.5
t1=$(ms)
got=$(q postfix all.dane.test)
t2=$(ms)
check CACHE-3 "cached dane-only domain while a TLSA lookup hangs -> answered" "OK dane-only" "$got"
check_true CACHE-3 "cached domain answered at once while the TLSA lookup hangs" "$(within 400 "$t1" "$t2")"
if kill -0 $hpid 2>/dev/null; then pending=yes; else pending="no, the hang lookup already finished"; fi
check_true DANE-5 "the hanging lookup was still pending when the cached answer came" "$pending"
wait $hpid
got=$(cat "$hangout")
case $got in *"temporary error: dnssec lookup failed: _25._tcp.mx1.hang.dane.test: "*) got=temp ;; esac
check DANE-5 "hanging TLSA lookup -> TEMP within the zone timeout" temp "$got"
# the daemon's own clock: postmap's start-up is not part of it
took=$(sed -n 's/.*hang.dane.test: lookup done in \([0-9]*\) ms.*/\1/p' "$T/mtasts.log" | head -n 1)
check_true DANE-5 "the DANE phase gave up before the 4 s zone timeout" "$(within 4000 0 "${took:-99999}")"

# an expired decision answers at once while a refresh runs in the background
check DANE-5 "5 s TTLs: dane-only" "OK dane-only" "$(q postfix short.dane.test)"
sleep 6
t1=$(ms)
got=$(q postfix short.dane.test)
t2=$(ms)
check CACHE-3 "expired DANE decision: the last one still answers" "OK dane-only" "$got"
check_true CACHE-3 "expired DANE decision: answered at once" "$(within 400 "$t1" "$t2")"
sleep 0.5
check DANE-5 "expired DANE decision: refreshed in the background (a second lookup)" 2 \
    "$(grep -c 'short.dane.test: lookup done' "$T/mtasts.log")"

# query mode shows the decision and each host
out=$(inns "$MTASTS" -c "$T/mtasts.conf" -q some.dane.test 2>/dev/null)
check DANE-4 "-q: the decision" "dane: dane" "$(printf '%s\n' "$out" | grep '^dane: ')"
check DANE-3 "-q: each host, secure or not, TLSA usable or not" \
    "dane host: mx1.some.dane.test: secure, TLSA usable|dane host: mx2.some.dane.test: secure, no TLSA" \
    "$(printf '%s\n' "$out" | grep '^dane host: ' | LC_ALL=C sort | paste -sd'|' -)"
check DANE-4 "-q: the answer" "answer: OK dane" "$(printf '%s\n' "$out" | grep '^answer: ')"
out=$(inns "$MTASTS" -c "$T/mtasts.conf" -q mxout.dane.test 2>/dev/null)
check DANE-3 "-q: MX host in an unsigned zone is insecure" \
    "dane host: mx.insec.test: address insecure" "$(printf '%s\n' "$out" | grep '^dane host: ')"

out=$(inns "$MTASTS" -c "$T/mtasts.conf" -q plain.insec.test 2>/dev/null)
check DANE-3 "-q: why DANE does not apply" "dane: none: MX RRset not authenticated (AD=0)" \
    "$(printf '%s\n' "$out" | grep '^dane: ')"

# DANE-2: a nameserver off loopback means no DANE at all (and a log line)
sed "1a nameserver = 127.0.0.53\nnameserver = 10.9.9.9" "$T/mtasts.conf" > "$T/remote.conf"
out=$(inns "$MTASTS" -c "$T/remote.conf" -q all.dane.test 2>&1)
check DANE-2 "a non-loopback nameserver: DANE treated as insecure, MTA-STS answers" \
    "answer: $(sts all.dane)" "$(printf '%s\n' "$out" | grep '^answer: ')"
case $out in *"not on loopback"*) got=yes ;; *) got="no warning in: $out" ;; esac
check_true DANE-2 "a non-loopback nameserver is logged" "$got"

# the decisions outlive a restart (snapshot "D" records), and answer with
# the validator gone
stop_mtasts
got=$(grep -c ' D nosts.dane.test 3 ' "$T/cache.snap")
check DANE-5 "the snapshot holds the DANE decision of nosts.dane.test" 1 "$got"
kill "$UNBOUND_PID"
wait "$UNBOUND_PID" 2>/dev/null
start_mtasts || DAEMON_DOWN="mtasts did not restart"
check DANE-5 "after a restart, with no resolver: the saved decision answers" \
    "OK dane-only" "$(q postfix nosts.dane.test)"
check DANE-5 "after a restart, a domain never looked up waits and fails: TEMP" \
    temp "$(q postfix fresh.dane.test | sed 's/.*temporary error: dnssec lookup failed: .*/temp/')"

finish
