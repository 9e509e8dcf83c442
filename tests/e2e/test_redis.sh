#!/bin/bash
# tests/e2e/test_redis.sh - the shared cache, end to end, in the test
# namespace: Debian's redis-server and redis-sentinel on loopback, several
# mtasts instances, nginx's access log counting policy fetches, answers
# through real postmap.  Cases (RDS-1..RDS-6):
#   one fetch shared by every instance; TTLs, prefixes and databases;
#   AUTH with a password, with an ACL user, and with a wrong password;
#   Redis down at start and started later; Redis stopped (SIGSTOP) and
#   killed under lookup load; corrupt, forged, 1 MB and wrong-type values;
#   a hostile fake server (garbage, huge lengths, a trickle, hang-ups);
#   a Sentinel failover; a new instance answering with zero fetches.
#
#   sh tests/e2e/test_redis.sh                     ./mtasts (or MTASTS=path)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
EXTRA_FIXTURES=redis_fixtures
. "$(dirname "$0")/lib.sh"

redis_fixtures() {
	local i
	for i in $(seq 1 30); do site "r$i"; done
}

command -v redis-server >/dev/null && command -v redis-sentinel >/dev/null ||
    setup_fail "redis-server and redis-sentinel are needed (scripts/install-deps.sh test)"

world_up

# ---------------------------------------------------------------- helpers

declare -A IPID         # instance name -> pid
declare -A IPORT        # instance name -> port
RPID=()                 # redis servers by port: RPID[port]=pid

# redis_up PORT [ARGS...]: a Redis server on 127.0.0.1:PORT, nothing on disk
redis_up() {
	local port=$1 i; shift
	ip netns exec "$NS" redis-server --port "$port" --bind 127.0.0.1 --save '' \
	    --appendonly no --daemonize no --logfile "$T/redis-$port.log" --dir "$T" "$@" &
	RPID[$port]=$!
	PIDS+=("$!")
	for i in $(seq 1 100); do
		rcli "$port" PING 2>/dev/null | grep -q PONG && return 0
		rcli "$port" PING 2>/dev/null | grep -q NOAUTH && return 0
		sleep 0.05
	done
	setup_fail "redis-server on $port did not start: $(tail -3 "$T/redis-$port.log")"
}
rcli() { local port=$1; shift; inns redis-cli -p "$port" "$@"; }

# inst NAME PORT [KEY = VALUE lines...]: an mtasts instance, its log in $T/NAME.log
inst() {
	local name=$1 port=$2; shift 2
	{
		echo "listen = 127.0.0.1:$port"
		echo "cache_size = 1000"
		echo "cache_grace = 300"
		printf '%s\n' "$@"
	} > "$T/$name.conf"
	ip netns exec "$NS" "$MTASTS" -c "$T/$name.conf" -v 3 >>"$T/$name.log" 2>&1 &
	IPID[$name]=$!
	IPORT[$name]=$port
	PIDS+=("$!")
	wait_port "$port" "$!" || setup_fail "instance $name did not start: $(tail -3 "$T/$name.log")"
}
qi() { qport "${IPORT[$1]}" postfix "$2"; }
# wait_log NAME PATTERN SECONDS [COUNT]: yes, or why not
wait_log() {
	local i n=${4:-1}
	for i in $(seq 1 $(($3 * 10))); do
		[ "$(grep -c -- "$2" "$T/$1.log")" -ge "$n" ] && { echo yes; return; }
		sleep 0.1
	done
	echo "no \"$2\" in $1.log after $3 s: $(tail -2 "$T/$1.log" | tr '\n' ' ')"
}
# wait_key PORT KEY SECONDS [DB]: yes once the key exists
wait_key() {
	local i
	for i in $(seq 1 $(($3 * 10))); do
		[ "$(rcli "$1" -n "${4:-0}" EXISTS "$2")" = 1 ] && { echo yes; return; }
		sleep 0.1
	done
	echo "no key $2 on $1 (db ${4:-0}) after $3 s"
}
allgets() { grep -c '"GET ' "$T/access.log"; }
ok_for() { okmx "$1"; }
in_range() { [ "$1" -ge "$2" ] 2>/dev/null && [ "$1" -le "$3" ] && echo yes || echo "no: $1 not in $2..$3"; }
record() { printf 'mtasts1 %s %s\nversion: STSv1\nmode: enforce\nmx: %s\nmax_age: %s\n' "$@"; }

# ---------------------------------------------------------------- one fetch shared
redis_up 6379
inst A 8461 "redis = 127.0.0.1:6379"
inst B 8462 "redis = 127.0.0.1:6379" "metrics_listen = 127.0.0.1:9462"
check_true RDS-1 "A connects to Redis" "$(wait_log A 'redis: connected' 5)"
check_true RDS-1 "B connects to Redis" "$(wait_log B 'redis: connected' 5)"
check RDS-1 "A answers r1 (fetched)" "$(ok_for r1)" "$(qi A r1.test)"
check RDS-1 "... one fetch" 1 "$(gets r1)"
check_true RDS-1 "... and the policy is in Redis" "$(wait_key 6379 mtasts:r1.test 3)"
check RDS-1 "... as an mtasts record under its TXT id" "mtasts1" \
    "$(rcli 6379 GETRANGE mtasts:r1.test 0 6)"
check_true RDS-2 "... with a TTL of at most max_age (86400)" \
    "$(in_range "$(rcli 6379 TTL mtasts:r1.test)" 86000 86400)"
check RDS-1 "B answers r1 the same" "$(ok_for r1)" "$(qi B r1.test)"
check RDS-1 "... without a fetch of its own (still one GET)" 1 "$(gets r1)"
check_true RDS-1 "... B says where it came from" \
    "$(grep -q 'r1.test: policy from the shared cache' "$T/B.log" && echo yes || echo no)"
check RDS-1 "B's own second lookup is a local cache hit" "$(ok_for r1)" "$(qi B r1.test)"
check RDS-1 "... and Redis was asked once by B" 1 "$(grep -c 'r1.test: step shared cache' "$T/B.log")"

# the metrics say so too (MET-2 text, parsed strictly)
inns "$PY" "$E2E_DIR/metrics.py" scrape 127.0.0.1 9462 > "$T/b.metrics" 2>&1
mval() { awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }' "$T/b.metrics"; }
check RDS-1 "B's metrics: the shared cache is up" 1 "$(mval mtasts_shared_cache_up)"
check RDS-1 "B's metrics: one shared-cache hit, no other outcome" "1 0 0 0" \
    "$(for r in hit miss ignored failed; do mval "mtasts_shared_cache_lookups_total{result=\"$r\"}"; done | paste -sd' ' -)"
check RDS-1 "B's metrics: no fetch" 0 "$(mval 'mtasts_fetches_total{result="ok"}')"

# ---------------------------------------------------------------- prefixes and databases
inst C 8463 "redis = 127.0.0.1:6379" "redis_prefix = other:" "redis_db = 3"
check_true RDS-2 "C connects (db 3)" "$(wait_log C 'redis: connected' 5)"
check RDS-2 "C answers r2" "$(ok_for r2)" "$(qi C r2.test)"
check_true RDS-2 "... its key has C's prefix in db 3" "$(wait_key 6379 other:r2.test 3 3)"
check RDS-2 "... and nothing in db 0" "0 0" \
    "$(rcli 6379 EXISTS other:r2.test) $(rcli 6379 EXISTS mtasts:r2.test)"
check RDS-2 "A does not see C's record: it fetches r2 itself" "$(ok_for r2)" "$(qi A r2.test)"
check RDS-2 "... two fetches of r2" 2 "$(gets r2)"

# ---------------------------------------------------------------- what Redis holds is not trusted
now=$(date +%s)
rcli 6379 SET mtasts:r3.test "garbage" EX 600 >/dev/null
record "$now" r41 "evil servername=x" 86400 | rcli 6379 -x SET mtasts:r4.test >/dev/null
record "$now" WRONG mail.r5.test 86400 | rcli 6379 -x SET mtasts:r5.test >/dev/null
{ record "$now" r61 mail.r6.test 86400; head -c 1048576 /dev/zero | tr '\0' '#'; } |
    rcli 6379 -x SET mtasts:r6.test >/dev/null
rcli 6379 RPUSH mtasts:r7.test a >/dev/null
record "$((now + 3600))" r91 mail.r9.test 86400 | rcli 6379 -x SET mtasts:r9.test >/dev/null
check_true RDS-3 "a 1 MB value is in Redis" "$(in_range "$(rcli 6379 STRLEN mtasts:r6.test)" 1048576 1049000)"
for n in 3 4 5 6 7 9; do
	check RDS-3 "r$n: bad shared record ignored, answered from a fetch" "$(ok_for r$n)" \
	    "$(qi A r$n.test)"
	check RDS-3 "... one fetch" 1 "$(gets r$n)"
done
ign() { grep -c "r$1.test: shared cache record ignored: $2" "$T/A.log"; }
check RDS-3 "garbage: logged" 1 "$(ign 3 'not an mtasts record')"
check RDS-3 "an invalid policy: logged" 1 "$(ign 4 'its policy is invalid')"
check RDS-3 "another TXT id: logged" 1 "$(ign 5 'a record of another policy id')"
check RDS-3 "1 MB: logged, read no further than one record's size" 1 "$(ign 6 'record too large')"
check RDS-3 "a list, not a string: logged" 1 \
    "$(grep -c 'r7.test: step shared cache: .*WRONGTYPE' "$T/A.log")"
check RDS-3 "dated in the future: logged" 1 "$(ign 9 'record dated in the future')"
check RDS-3 "... and A stayed connected throughout" 1 "$(grep -c 'redis: connected' "$T/A.log")"
# A record that passes validation is used, whoever wrote it: the trust
# model the README states (only until its TTL or the next refresh).
record "$now" r81 mx.elsewhere.test 3600 | rcli 6379 -x SET mtasts:r8.test >/dev/null
rcli 6379 EXPIRE mtasts:r8.test 3600 >/dev/null
check RDS-3 "a valid record of the published id is answered" \
    "OK secure match=mx.elsewhere.test servername=hostname" "$(qi B r8.test)"
check RDS-3 "... with no fetch" 0 "$(gets r8)"

# ---------------------------------------------------------------- AUTH
redis_up 6380 --requirepass s3cret
rcli 6380 -a s3cret --no-auth-warning ACL SETUSER mt on '>pw2' '~*' '+@all' >/dev/null
printf 's3cret\n' > "$T/pw"; printf 'mt pw2\n' > "$T/acl"; printf 'nope\n' > "$T/bad"
chmod 600 "$T/pw" "$T/acl" "$T/bad"
inst D 8464 "redis = 127.0.0.1:6380" "redis_password_file = $T/pw"
inst E 8465 "redis = 127.0.0.1:6380" "redis_password_file = $T/acl"
inst F 8466 "redis = 127.0.0.1:6380" "redis_password_file = $T/bad"
check_true RDS-2 "D connects with a password" "$(wait_log D 'redis: connected' 5)"
check_true RDS-2 "E connects as an ACL user" "$(wait_log E 'redis: connected' 5)"
check_true RDS-2 "F's wrong password is refused, and logged" "$(wait_log F 'AUTH refused' 5)"
check RDS-2 "D answers r10" "$(ok_for r10)" "$(qi D r10.test)"
check_true RDS-2 "... written with the password" \
    "$(for i in $(seq 1 30); do [ "$(rcli 6380 -a s3cret --no-auth-warning EXISTS mtasts:r10.test)" = 1 ] && { echo yes; break; }; sleep 0.1; done)"
check RDS-2 "E answers r10 from Redis" "$(ok_for r10)" "$(qi E r10.test)"
check RDS-2 "F answers r10 standalone" "$(ok_for r10)" "$(qi F r10.test)"
check RDS-2 "... so two fetches of r10 (D, F)" 2 "$(gets r10)"

# ---------------------------------------------------------------- down at start
inst G 8467 "redis = 127.0.0.1:6381"
check_true RDS-4 "G starts with Redis down, and says so" "$(wait_log G 'answering standalone' 5)"
check RDS-4 "G answers r11 standalone" "$(ok_for r11)" "$(qi G r11.test)"
redis_up 6381
check_true RDS-4 "G connects once Redis is up" "$(wait_log G 'redis: connected' 10)"
check RDS-4 "G answers r12" "$(ok_for r12)" "$(qi G r12.test)"
check_true RDS-4 "... and shares it" "$(wait_key 6381 mtasts:r12.test 3)"

# ---------------------------------------------------------------- stopped, then killed, under load
load() {	# load INSTANCE DOMAIN...: 4 rounds of lookups in parallel; prints the failures
	local i d out=$T/load.$$ in=$1
	shift
	: > "$out"
	for i in 1 2 3 4; do
		for d in "$@"; do
			( got=$(qi "$in" "$d.test"); [ "$got" = "$(ok_for "$d")" ] || echo "$d: $got" >> "$out" ) &
		done
	done 2>/dev/null
	wait
	sort -u "$out" | head -3 | paste -sd' ' -
	rm -f "$out"
}
kill -STOP "${RPID[6379]}"
t1=$(ms); got=$(qi A r1.test); t2=$(ms)
check RDS-5 "Redis stopped: a cached answer is unchanged" "$(ok_for r1)" "$got"
check_true RDS-5 "... and immediate (under 500 ms)" \
    "$([ $((t2 - t1)) -lt 500 ] && echo yes || echo "no: $((t2 - t1)) ms")"
check RDS-5 "Redis stopped: lookups under load all answered" "" \
    "$(load A r13 r14 r15 r16 r1 r2)"
check_true RDS-5 "... A gave Redis up after redis_timeout" "$(wait_log A 'redis: timed out' 5)"
kill -CONT "${RPID[6379]}"
check_true RDS-5 "A reconnects after SIGCONT" "$(wait_log A 'redis: connected' 15 2)"
kill -9 "${RPID[6379]}"
check RDS-5 "Redis killed: lookups under load all answered" "" "$(load B r17 r18 r19 r1)"
redis_up 6379
check_true RDS-5 "B reconnects to the restarted Redis" "$(wait_log B 'redis: connected' 35 2)"
check RDS-5 "... and shares again" "$(ok_for r20)" "$(qi B r20.test)"
check_true RDS-5 "... r20 is in Redis" "$(wait_key 6379 mtasts:r20.test 3)"

# ---------------------------------------------------------------- a hostile server
ip netns exec "$NS" "$PY" "$E2E_DIR/fakeredis.py" 6390 "$T/fake.log" &
PIDS+=("$!")
sleep 0.3
inst H 8468 "redis = 127.0.0.1:6390"
bad=
for i in 21 22 23 24 25 26; do
	got=$(qi H r$i.test)
	[ "$got" = "$(ok_for r$i)" ] || bad="$bad r$i:$got"
	sleep 1.5
done
check RDS-6 "hostile server: every lookup answered" "" "$bad"
missing=
for m in garbage hugebulk hugearray trickle hangup; do grep -qx $m "$T/fake.log" || missing="$missing $m"; done
check RDS-6 "... it met every hostile mode (none missing)" "" "$missing"
check_true RDS-6 "... garbage and huge lengths: not RESP2" \
    "$([ "$(grep -c 'redis: not a RESP2 reply' "$T/H.log")" -ge 1 ] && echo yes || echo no)"
check_true RDS-6 "... H still runs" "$(kill -0 "${IPID[H]}" 2>/dev/null && echo yes || echo no)"
fds=$(ls "/proc/${IPID[H]}/fd" | wc -l)
check_true RDS-6 "... with few descriptors ($fds)" "$([ "$fds" -lt 40 ] && echo yes || echo no)"
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/${IPID[H]}/status")
check_true RDS-6 "... and a small RSS ($rss KiB)" "$([ "$rss" -lt 16384 ] && echo yes || echo no)"

# ---------------------------------------------------------------- Sentinel failover
redis_up 6382
redis_up 6383 --replicaof 127.0.0.1 6382
cat > "$T/sentinel.conf" <<EOF
port 26379
bind 127.0.0.1
dir $T
sentinel monitor mymaster 127.0.0.1 6382 1
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 4000
EOF
ip netns exec "$NS" redis-sentinel "$T/sentinel.conf" --logfile "$T/sentinel.log" &
PIDS+=("$!")
sleep 1
inst S 8469 "redis_sentinel = 127.0.0.1:26379" "redis_master = mymaster"
check_true RDS-6 "S finds the master through the sentinel" "$(wait_log S 'redis: connected' 10)"
check RDS-6 "S answers r27" "$(ok_for r27)" "$(qi S r27.test)"
check_true RDS-6 "... written to the master" "$(wait_key 6382 mtasts:r27.test 3)"
kill -9 "${RPID[6382]}"
check_true RDS-6 "the sentinel promotes the replica" \
    "$(for i in $(seq 1 300); do rcli 26379 SENTINEL get-master-addr-by-name mymaster | grep -qx 6383 && { echo yes; break; }; sleep 0.1; done)"
check_true RDS-6 "S follows the failover" "$(wait_log S 'redis: connected' 40 2)"
check RDS-6 "S answers r28" "$(ok_for r28)" "$(qi S r28.test)"
check_true RDS-6 "... written to the new master" "$(wait_key 6383 mtasts:r28.test 3)"

# ---------------------------------------------------------------- a new instance starts warm
before=$(allgets)
inst J 8470 "redis = 127.0.0.1:6379"
check_true RDS-1 "J connects" "$(wait_log J 'redis: connected' 5)"
# what B shared after Redis came back, and a record A wrote again since
check RDS-1 "new instance J answers r20" "$(ok_for r20)" "$(qi J r20.test)"
check RDS-1 "... with zero fetches" "$before" "$(allgets)"

for n in A B C D E F G H S J; do
	kill -0 "${IPID[$n]}" 2>/dev/null || fail "instance $n died: $(tail -3 "$T/$n.log")"
done
finish
