#!/bin/bash
# shellcheck disable=SC2016  # the ow scripts expand inside the child shell
# tests/e2e/test_packaging.sh - the files mtasts ships for each platform:
# OpenWrt (UCI rendering against fixtures, procd calls, make ipk), Alpine
# (APKBUILD, OpenRC script), systemd (systemd-analyze verify), manual pages
# (mandoc lint, every configuration key documented), make install and
# uninstall into a DESTDIR, the postfix-mta-sts-resolver converter.  Needs
# no network and no namespace.  MTASTS=path selects the binary.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

cd "$ROOT" || exit 2
OW=contrib/openwrt/mtasts/files
STUB=tests/openwrt/uci_stub.sh
FIX=tests/openwrt/fixtures
[ -x "$MTASTS" ] || { fail "setup: no binary $MTASTS (make, or set MTASTS=)"; finish; }

# The keys the configuration parser knows, from its tables in conf.c
KEYS=$(sed -n '/^static const struct key \(zone\|global\)_keys/,/^};/p' conf.c |
	sed -n 's/^[[:space:]]*{ "\([a-z_]*\)",.*/\1/p' | sort -u)
check KEYS "keys found in conf.c" yes "$([ "$(echo "$KEYS" | wc -l)" -ge 20 ] && echo yes || echo "only: $KEYS")"

# ------------------------------------------------------------ OpenWrt

# ow SHELL FIXTURE SCRIPT: run SCRIPT in SHELL with the stand-ins and the
# init script loaded, the UCI package "mtasts" read from FIXTURE, the
# daemon binary as $MTASTS and the rendered file in $T/var/etc
ow() {
	mkdir -p "$T/uci"
	cp "$2" "$T/uci/mtasts"
	UCI_DIR="$T/uci" STUB_LOG="$T/procd.log" $1 -c ". $STUB; . $OW/mtasts.init;
		PROG='$MTASTS'; CONF='$T/var/etc/mta-sts.conf'; $3"
}

SHELLS="dash bash"
command -v busybox >/dev/null && SHELLS="$SHELLS busybox_ash"

for sh in $SHELLS; do
	shcmd=${sh/busybox_ash/busybox ash}
	for f in shipped full minimal; do
		src=$FIX/$f
		[ $f = shipped ] && src=$OW/mtasts.config
		out="$T/render-$f-$sh.conf"
		ow "$shcmd" "$src" 'config_load mtasts; mtasts_render' > "$out" 2> "$T/render.err"
		check "OW-render" "$f rendered by $sh as $FIX/$f.conf" "" \
			"$(diff -u "$FIX/$f.conf" "$out" 2>&1; cat "$T/render.err")"
		check "OW-render" "mtasts -t accepts $f rendered by $sh" 0 \
			"$("$MTASTS" -t -c "$out" > "$T/t.out" 2>&1; echo $?)"
	done
done

# a bad value: refused by mtasts -t, the running configuration stays
mkdir -p "$T/var/etc"
cp "$FIX/shipped.conf" "$T/var/etc/mta-sts.conf"
check "OW-bad" "a bad UCI value is refused" "1 kept" \
	"$(ow dash "$FIX/bad" 'config_load mtasts; mtasts_write_conf "$CONF"' 2>"$T/bad.err"; echo "$?" \
	"$(cmp -s "$FIX/shipped.conf" "$T/var/etc/mta-sts.conf" && echo kept || echo replaced)")"
check "OW-bad" "and says why" 1 "$(grep -c 'cache_size: bad value' "$T/bad.err")"

# start_service: what procd is asked to run
: > "$T/procd.log"
rm -f "$T/var/etc/mta-sts.conf"
ow dash "$FIX/full" 'start_service; service_triggers' > "$T/start.out" 2>&1
check "OW-start" "procd instance for the full fixture" \
	"procd_open_instance |procd_set_param command $MTASTS -c $T/var/etc/mta-sts.conf -v 3|procd_set_param respawn 3600 5 0|procd_set_param stdout 1|procd_set_param stderr 1|procd_close_instance|procd_add_reload_trigger mtasts" \
	"$(paste -sd'|' "$T/procd.log")"
check "OW-start" "start_service wrote the rendered file" "" \
	"$(diff "$FIX/full.conf" "$T/var/etc/mta-sts.conf" 2>&1)"
: > "$T/procd.log"
ow dash "$FIX/disabled" 'start_service' > /dev/null 2>&1
check "OW-start" "enabled 0: no instance" "" "$(cat "$T/procd.log")"

# reload_service: SIGHUP when the daemon can take the change, restart when
# a key it reads only at start changed, stop when disabled
for case in "tuned:procd_send_signal mtasts * 1" "moved:restart" "disabled:stop"; do
	f=${case%%:*}
	cp "$FIX/shipped.conf" "$T/var/etc/mta-sts.conf"
	: > "$T/procd.log"
	ow dash "$FIX/$f" 'reload_service' > /dev/null 2>&1
	check "OW-reload" "reload to fixture $f" "${case#*:}" "$(cat "$T/procd.log")"
done

# every parser key can be set from UCI
# shellcheck disable=SC2016
uci_keys=$(sh -c '. "$1"; echo $MTASTS_GLOBAL_KEYS $MTASTS_BOOL_KEYS $MTASTS_LIST_KEYS $MTASTS_ZONE_KEYS $MTASTS_ZONE_BOOL_KEYS' \
	sh "$OW/mtasts.init" | tr ' ' '\n' | sort -u)
check "OW-keys" "the init script renders exactly the keys of conf.c" "" \
	"$(diff <(echo "$KEYS") <(echo "$uci_keys"))"
check "OW-keys" "the full fixture sets every key" "" \
	"$(for k in $KEYS; do grep -q "^$k = " "$FIX/full.conf" || echo "$k"; done)"

# ------------------------------------------------------------ scripts

SCRIPTS="$OW/mtasts.init contrib/alpine/mtasts.initd contrib/alpine/APKBUILD
	contrib/openwrt/ipk/postinst contrib/openwrt/ipk/prerm $STUB
	tests/e2e/test_packaging.sh tests/e2e/test_service.sh tests/e2e/test_container.sh"
for s in $SCRIPTS; do
	n="sh"
	head -1 "$s" 2>/dev/null | grep -q bash && n=bash
	check "SH-n" "$n -n $s" "" "$($n -n "$s" 2>&1 || echo "missing or bad: $s")"
	check "SH-check" "shellcheck $s" "" "$(shellcheck -x "$s" 2>&1 || [ -f "$s" ] || echo "missing: $s")"
done
