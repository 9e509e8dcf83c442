#!/bin/bash
# tests/e2e/test_control.sh - the control socket (CTL-1..CTL-7) against real
# lookups: mtasts -d (text and JSON) after a fill, purge then exactly one new
# GET, -p all, -r without a socketmap query, -d FILE on the daemon's own
# snapshot, socket mode and owner, and hostile control clients while
# socketmap queries keep being answered.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
CP="$E2E_DIR/control.py"
SOCK=$T/ctl/control.sock
SNAP=$T/snap/cache.snap

world_up
mkdir -p "$T/ctl" "$T/snap"
{
	echo "listen = 127.0.0.1:$MTASTS_PORT"
	echo "control = unix:$SOCK"
	echo "cache_file = $SNAP"
	echo "cache_grace = 300"
	echo "idle_timeout = 3"
} > "$T/c.conf"
start_mtasts "$T/c.conf" || DAEMON_DOWN="mtasts did not start"
P=$MTASTS_PID

ctl() { "$MTASTS" -c "$T/c.conf" "$@"; }
E_ENF="OK secure match=mail.enforce.test:.mx.enforce.test servername=hostname"
field() { # field DOMAIN NAME: NAME=value of DOMAIN's line in $DUMP
	printf '%s\n' "$DUMP" | awk -v d="$1" -v k="$2" '$1 == d {
		for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }'
}

# ---------------------------------------------------------------- CTL-1
check CTL-1 "control socket mode 0600" 600 "$(stat -c %a "$SOCK")"

# ---------------------------------------------------------------- fill, dump
check PFX-1 "enforce.test" "$E_ENF" "$(q postfix enforce.test)"
check PFX-1 "testing.test" NOTFOUND "$(q postfix testing.test)"
check PFX-1 "none.test" NOTFOUND "$(q postfix none.test)"
check PFX-1 "notfound.test (404)" NOTFOUND "$(q postfix notfound.test)"
check PFX-1 "notxt.test (no TXT)" NOTFOUND "$(q postfix notxt.test)"
DUMP=$(ctl -d); rc=$?
check CTL-7 "mtasts -d exit code" 0 "$rc"
check CTL-3 "-d: one line per cached domain" 5 "$(printf '%s\n' "$DUMP" | grep -c .)"
check CTL-3 "-d enforce.test mode" enforce "$(field enforce.test mode)"
check CTL-3 "-d enforce.test id" enf1 "$(field enforce.test id)"
check CTL-3 "-d enforce.test mx (policy order, deduplicated)" \
    "mail.enforce.test,*.mx.enforce.test" "$(field enforce.test mx)"
f=$(field enforce.test fetched); x=$(field enforce.test expires)
check CTL-3 "-d enforce.test expires = fetched + max_age 86400" 86400 \
    "$(( $(date -d "$x" +%s) - $(date -d "$f" +%s) ))"
now=$(date +%s)
check_true CTL-3 "-d enforce.test fetched within the last minute ($f)" \
    "$(t=$(date -d "$f" +%s); [ $((now - t)) -ge 0 ] && [ $((now - t)) -lt 60 ] && echo yes || echo "no: $f")"
check_true CTL-3 "-d enforce.test checked is set" \
    "$(case $(field enforce.test checked) in 20*Z) echo yes ;; *) echo no ;; esac)"
check CTL-3 "-d enforce.test no failure" "0 -" "$(field enforce.test fails) $(field enforce.test failure)"
check CTL-3 "-d testing.test mode" testing "$(field testing.test mode)"
check CTL-3 "-d none.test mode and mx" "none -" "$(field none.test mode) $(field none.test mx)"
check CTL-3 "-d notfound.test: no policy, one fetch failure and its type" \
    "- 1 sts-policy-fetch-error" \
    "$(field notfound.test mode) $(field notfound.test fails) $(field notfound.test failure)"
check CTL-3 "-d notxt.test: no policy, no failure" "- 0 -" \
    "$(field notxt.test mode) $(field notxt.test fails) $(field notxt.test failure)"

ctl -d -j > "$T/dump.json"; rc=$?
check CTL-7 "mtasts -d -j exit code" 0 "$rc"
check_true CTL-3 "-d -j parses with python3 -m json.tool" \
    "$("$PY" -m json.tool "$T/dump.json" >/dev/null 2>&1 && echo yes || echo "no: $(head -c 200 "$T/dump.json")")"
check CTL-3 "-d -j: the objects" \
    "enforce.test enforce enf1 2 yes 86400 0 None
none.test none non1 0 yes 86400 0 None
notfound.test None None 0 None None 1 sts-policy-fetch-error
notxt.test None None 0 None None 0 None
testing.test testing tst1 1 yes 86400 0 None" \
    "$("$PY" "$CP" jsoncheck "$T/dump.json" 2>&1)"

# ---------------------------------------------------------------- purge
g0=$(gets enforce)
check CTL-4 "-p enforce.test" "OK purged enforce.test" "$(ctl -p enforce.test)"
check CTL-4 "after the purge: not in the dump" "" "$(ctl -d | awk '$1 == "enforce.test"')"
check PFX-1 "enforce.test after the purge" "$E_ENF" "$(q postfix enforce.test)"
check PFX-1 "enforce.test again (cached)" "$E_ENF" "$(q postfix enforce.test)"
check CTL-4 "purge, two lookups: exactly one new GET" 1 "$(( $(gets enforce) - g0 ))"
check CTL-4 "-p of a domain not cached" "OK nothere.test was not cached" "$(ctl -p nothere.test)"
out=$(ctl -p '[10.0.0.1]' 2>&1); rc=$?
check CTL-7 "-p of an IP literal: error, exit 1" "1 mtasts: ERR not a policy domain" "$rc $out"

g0=$(gets testing)
check CTL-4 "-p all" "OK purged 5 entries" "$(ctl -p all)"
check CTL-4 "after -p all the dump is empty" "" "$(ctl -d)"
check CTL-4 "after -p all the JSON dump is []" "[]" "$(ctl -d -j)"
check PFX-1 "testing.test after -p all" NOTFOUND "$(q postfix testing.test)"
check CTL-4 "-p all, one lookup: exactly one new GET" 1 "$(( $(gets testing) - g0 ))"

# ---------------------------------------------------------------- refresh
q postfix enforce.test >/dev/null
g0=$(gets enforce)
check CTL-5 "-r enforce.test" "OK refreshing enforce.test" "$(ctl -r enforce.test)"
for i in $(seq 1 50); do [ "$(gets enforce)" -gt "$g0" ] && break; sleep 0.1; done
check CTL-5 "-r: one new GET without any socketmap query" 1 "$(( $(gets enforce) - g0 ))"
g0=$(gets nxhost)
check CTL-5 "-r of a domain not cached starts a lookup" "OK refreshing nxhost.test" \
    "$(ctl -r nxhost.test)"

# ---------------------------------------------------------------- commands
check CTL-2 "unknown command" "ERR unknown command
<closed>" "$("$PY" "$CP" cmd "$SOCK" FOO)"
check CTL-2 "bad command, then a good one on the same connection" "ERR missing domain
OK x.test was not cached
<closed>" "$("$PY" "$CP" cmd "$SOCK" "PURGE" "PURGE x.test")"
out=$(ctl -S 2>&1); rc=$?
check CTL-6 "-S: exit 0 and the Prometheus text" "0 yes" \
    "$rc $(printf '%s\n' "$out" | grep -q '^mtasts_build_info{version=' && echo yes || echo no)"
check CTL-6 "-S: the text alone (no status line)" "" "$(printf '%s\n' "$out" | grep -E '^(OK|ERR)')"
out=$("$MTASTS" -c /dev/null -d 2>&1); rc=$?
check CTL-7 "no control socket configured: exit 2" 2 "$rc"
printf 'control = unix:%s\n' "$T/ctl/nothing.sock" > "$T/none.conf"
"$MTASTS" -c "$T/none.conf" -d >/dev/null 2>&1; rc=$?
check CTL-7 "cannot connect: exit 2" 2 "$rc"

# ---------------------------------------------------------------- hostile clients
# the unread rest of the line makes the close a reset: either is fine
check CTL-2 "a 100 KB line: error, then closed" "ERR line too long <closed>" \
    "$("$PY" "$CP" longline "$SOCK" 100000 | sed "s/<reset>/<closed>/")"
check PFX-1 "socketmap answers after the long line" "$E_ENF" "$(q postfix enforce.test)"
# a dump larger than the socket buffers: 4000 cached domains
check CTL-3 "4000 lookups to fill the cache" 4000 \
    "$(inns "$PY" "$CP" fill 127.0.0.1 $MTASTS_PORT bulk 4000)"
n=$(ctl -d | grep -c '^bulk')
check CTL-3 "a big dump streams every entry" 4000 "$n"
check CTL-3 "a big JSON dump parses" 4000 \
    "$(ctl -d -j | "$PY" -c 'import json,sys; print(sum(1 for o in json.load(sys.stdin) if o["domain"].startswith("bulk")))')"
"$PY" "$CP" stall "$SOCK" 5 > "$T/stall.out" &
SP=$!
sleep 1
t0=$(ms)
check PFX-1 "socketmap answers while a client stalls a dump" "$E_ENF" "$(q postfix enforce.test)"
check_true SEC-6 "that answer took under 1 s" "$([ $(( $(ms) - t0 )) -lt 1000 ] && echo yes || echo no)"
check CTL-2 "-d works while a client stalls a dump" 4000 "$(ctl -d | grep -c '^bulk')"
wait $SP
check CTL-2 "the stalled dump was closed after idle_timeout" closed "$(cat "$T/stall.out")"
"$PY" "$CP" idle "$SOCK" 20 4 > "$T/idle.out" &
SP=$!
sleep 1
check PFX-1 "socketmap answers with 20 idle control connections" "$E_ENF" "$(q postfix enforce.test)"
check CTL-4 "-p works with 20 idle control connections" "OK purged enforce.test" \
    "$(ctl -p enforce.test)"
wait $SP
check CTL-2 "all 20 idle control connections were closed" 20 "$(cat "$T/idle.out")"
check_true CTL-2 "daemon still running" "$(kill -0 "$P" 2>/dev/null && echo yes || echo no)"

# ---------------------------------------------------------------- -d FILE
q postfix enforce.test >/dev/null
q postfix testing.test >/dev/null
LIVE=$(ctl -d | awk '$2 != "mode=-" {print $1, $2, $3, $4, $5, $6}' | sort)
LIVEJ=$(ctl -d -j | "$PY" -c 'import json,sys
for o in sorted(json.load(sys.stdin), key=lambda o: o["domain"]):
    if o["mode"]: print(o["domain"], o["mode"], o["id"], o["mx"], o["fetched"], o["expires"])')
kill -TERM "$P"; wait "$P"; rc=$?
check LIFECYCLE "SIGTERM exit 0" 0 "$rc"
check_true CTL-7 "the snapshot was written" "$([ -s "$SNAP" ] && echo yes || echo no)"
check CTL-1 "the control socket is removed at exit" no "$([ -e "$SOCK" ] && echo yes || echo no)"
check CTL-3 "-d FILE: the same lines as the live dump" "$LIVE" \
    "$("$MTASTS" -d "$SNAP" | awk '{print $1, $2, $3, $4, $5, $6}' | sort)"
check CTL-3 "-d -j FILE: the same objects as the live dump" "$LIVEJ" \
    "$("$MTASTS" -d -j "$SNAP" | "$PY" -c 'import json,sys
for o in sorted(json.load(sys.stdin), key=lambda o: o["domain"]):
    if o["mode"]: print(o["domain"], o["mode"], o["id"], o["mx"], o["fetched"], o["expires"])')"
"$MTASTS" -d "$T/no-such-file" >/dev/null 2>&1; rc=$?
check CTL-7 "-d of a missing file: exit 2" 2 "$rc"
echo "not a snapshot" > "$T/foreign"
"$MTASTS" -d "$T/foreign" >/dev/null 2>&1; rc=$?
check CTL-7 "-d of a file that is no snapshot: exit 2" 2 "$rc"

# ---------------------------------------------------------------- owner
if id nobody >/dev/null 2>&1; then
	mkdir -p "$T/priv"
	{ cat "$T/c.conf"; echo "user = nobody"; } | sed "s|^cache_file.*|cache_file = $T/priv/cache.snap|" > "$T/n.conf"
	start_mtasts "$T/n.conf" || DAEMON_DOWN="mtasts did not start as nobody"
	check CTL-1 "as user nobody: mode 0600, owned by nobody" "600 nobody" "$(stat -c '%a %U' "$SOCK")"
	q postfix enforce.test >/dev/null
	check CTL-1 "root can use it" enforce "$("$MTASTS" -c "$T/n.conf" -d | awk '$1 == "enforce.test" {print substr($2, 6)}')"
	stop_mtasts
fi

finish
