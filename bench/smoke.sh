#!/bin/sh
# bench/smoke.sh - prove the benchmark tools work, in a few seconds:
# build the load generator and the ceiling server, run the ceiling on a
# loopback port and the load generator against it, check the replies.
# Needs no namespace, nginx or DNS; asserts nothing about speed.
# Ends with "N passed, M failed".
# shellcheck disable=SC2016,SC2034  # check conditions are single-quoted
# strings, evaluated later: the variables they read look unused
set -eu
cd "$(dirname "$0")/.."
out=build/bench/smoke
mkdir -p "$out"
CC=${CC_BENCH:-cc}
pass=0
fail=0
cpid=

cleanup() {
	if [ -n "$cpid" ]; then
		kill "$cpid" 2>/dev/null || true
		wait "$cpid" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

check() {	# check NAME 'SHELL CONDITION'
	name=$1
	if eval "$2"; then
		pass=$((pass + 1))
		echo "ok   $name"
	else
		fail=$((fail + 1))
		echo "FAIL $name"
	fi
}

field() {	# field FILE KEY -> the number after "KEY":
	sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1" | head -1
}

# start_ceiling PORT: start it in the background, set cpid and port
start_ceiling() {
	: >"$out/ceiling.out"
	"$out/ceiling" -p "$1" >"$out/ceiling.out" 2>&1 &
	cpid=$!
	i=0
	port=
	while [ $i -lt 200 ] && [ -z "$port" ]; do
		port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out/ceiling.out")
		[ -n "$port" ] || sleep 0.01
		i=$((i + 1))
	done
	[ -n "$port" ]
}

stop_ceiling() {
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	cpid=
}

check "load.c builds warning-free" \
    '$CC -O2 -Wall -Wextra -Werror -o "$out/load" bench/load.c'
check "ceiling.c builds warning-free" \
    '$CC -O2 -Wall -Wextra -Werror -o "$out/ceiling" bench/ceiling.c'
if [ ! -x "$out/load" ] || [ ! -x "$out/ceiling" ]; then
	echo "$pass passed, $((fail + 1)) failed"
	exit 1
fi
check "ceiling listens on a loopback port" 'start_ceiling 0'

# 1. persistent connections, ~2 s, every reply checked
rc=0
"$out/load" -p "$port" -c 8 -d 2 -r 1:1000 -P "$cpid" -j smoke >"$out/persist.json" || rc=$?
check "persistent run exits 0" '[ "$rc" -eq 0 ]'
check "persistent run got replies" '[ "$(field "$out/persist.json" ok)" -gt 0 ]'
check "persistent run: no failed request" '[ "$(field "$out/persist.json" failed)" = 0 ]'
check "persistent run reports latency and CPU" \
    'grep -q "\"p99\":.*\"load_cpu_pct\":.*\"daemon_cpu_s\":" "$out/persist.json"'

# 2. every key exactly once, 50 connections
rc=0
"$out/load" -p "$port" -c 50 -o once -r 1:500 -d 0 >"$out/once.json" || rc=$?
check "once run: exits 0" '[ "$rc" -eq 0 ]'
check "once run: 500 correct replies" '[ "$(field "$out/once.json" ok)" = 500 ]'

# 3. a new connection per lookup
rc=0
"$out/load" -p "$port" -c 4 -C -d 0.3 >"$out/connect.json" || rc=$?
check "connect-per-lookup run: exits 0, no failure" \
    '[ "$rc" -eq 0 ] && [ "$(field "$out/connect.json" failed)" = 0 ]'
check "connect-per-lookup run: replies" '[ "$(field "$out/connect.json" ok)" -gt 0 ]'

# 4. the checker catches wrong replies
rc=0
"$out/load" -p "$port" -c 2 -n 100 -d 2 -e 'OK secure match=mx.%s' >"$out/wrong.json" || rc=$?
check "wrong replies are counted as failures" \
    '[ "$rc" -eq 1 ] && [ "$(field "$out/wrong.json" wrong)" = 100 ] &&
    [ "$(field "$out/wrong.json" ok)" = 0 ]'

# 5. startup mode: spawn a ceiling on the port just freed, time its first reply
stop_ceiling
"$out/load" -S -p "$port" -t 5000 -F "$out/startup.pid" -- "$out/ceiling" -p "$port" \
    >"$out/startup.json" &
spid=$!
i=0
while [ $i -lt 500 ] && ! grep -q startup_us "$out/startup.json" 2>/dev/null; do
	sleep 0.01
	i=$((i + 1))
done
check "startup mode times the first reply" \
    'grep -q "\"ok\":1,\"startup_us\":" "$out/startup.json"'
dpid=$(cat "$out/startup.pid" 2>/dev/null || echo)
if [ -n "$dpid" ]; then
	kill "$dpid" 2>/dev/null || true
fi
rc=0
wait "$spid" || rc=$?
check "startup mode reaps the command" '[ "$rc" -eq 0 ] && [ ! -d "/proc/$dpid" ]'

# 6. the public-key floor (built by make check like the daemon): every
# operation checked against its counterpart and timed, all figures > 0
floor=${BENCH_FLOOR:-build/bench/floor}
if [ -x "$floor" ]; then
	rc=0
	"$floor" -q >"$out/floor.json" || rc=$?
	check "floor: exits 0 (ECDH sides agree, signatures verify, damaged ones fail)" \
	    '[ "$rc" -eq 0 ]'
	for k in ecdhe_p256_us ecdhe_x25519_us ecdhe_p384_us ecdsa_p256_verify_us rsa2048_verify_us \
	    ecdsa_p384_verify_us rsa4096_verify_us; do
		check "floor: $k is timed" \
		    'awk -v v="$(field "$out/floor.json" "$k")" "BEGIN { exit !(v + 0 > 0) }"'
	done
else
	check "floor is built ($floor)" false
fi

# 7. report.py sorts a perf profile by where the CPU went (BENCH_PROFILE)
cat >"$out/profile.txt" <<'EOT'
# Overhead  Symbol
    40.00%  [.] mul_f256
    10.00%  [.] f255_square
    15.00%  [.] br_x509_minimal_run
     5.00%  [.] t0_parse7E_unsigned
    10.00%  [.] br_sha2small_round
    10.00%  [k] tcp_sendmsg
     4.00%  [.] memcpy
     4.00%  [.] tls_pump
     2.00%  [.] 0x0000000000004000
EOT
check "report.py: a profile by kind (public-key, engines, hashes, kernel, libc, ours)" \
    '[ "$(python3 -c "import sys; sys.path.insert(0, \"bench\"); import report
s = report.profile_shares(\"$out/profile.txt\")
print(\" \".join(\"%s=%.0f\" % (k.split()[0].rstrip(\",\"), v * 100) for k, v in sorted(s.items())))")" = \
    "BearSSL=20 hashes=10 kernel=10 libc=4 mtasts=4 public-key=50 unresolved=2" ]'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
