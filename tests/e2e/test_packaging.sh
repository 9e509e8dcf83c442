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

# The feed's package Makefiles, run through stand-ins for OpenWrt's
# rules.mk and package.mk (tests/openwrt/sdk): mtasts built with this
# machine's compiler against a staging directory holding BearSSL; the
# bearssl package's build and staging steps against a stand-in for
# BearSSL's own Makefile (there is no network to fetch the tarball).
SDK=$ROOT/tests/openwrt/sdk
mkdir -p "$T/ow/staging/usr/lib"
ln -s "/usr/lib/$(uname -m)-linux-gnu/libbearssl.a" "$T/ow/staging/usr/lib/"
make -s -C contrib/openwrt/mtasts TOPDIR="$SDK" BUILD_DIR="$T/ow/build" STAGING_DIR="$T/ow/staging" \
	PKG_INSTALL_ROOT="$T/ow/root" > "$T/ow.out" 2>&1
check "OW-pkg" "package mtasts builds and installs" \
	"etc/config/mtasts 600|etc/init.d/mtasts 755|usr/sbin/mtasts 755" \
	"$(cd "$T/ow/root/pkg" 2>/dev/null && find . -type f -printf '%P %m\n' | sort | paste -sd'|')$(grep -i error "$T/ow.out")"
check "OW-pkg" "the packaged daemon runs" "mtasts" "$("$T/ow/root/pkg/usr/sbin/mtasts" -V 2>&1 | cut -d' ' -f1)"
check "OW-pkg" "conffiles" "/etc/config/mtasts" \
	"$(make -s -C contrib/openwrt/mtasts TOPDIR="$SDK" conffiles 2>&1)"
cp -r "$SDK/fake-bearssl" "$T/ow/bearssl-src"
make -s -C contrib/openwrt/bearssl TOPDIR="$SDK" PKG_BUILD_DIR="$T/ow/bearssl-src" \
	PKG_INSTALL_ROOT="$T/ow/bl" TARGET_CC=mipsel-openwrt-linux-musl-gcc \
	TARGET_AR=mipsel-openwrt-linux-musl-gcc-ar > "$T/ow-bl.out" 2>&1
check "OW-pkg" "bearssl: BearSSL's make with the cross toolchain, lib and dll" \
	"CC=mipsel-openwrt-linux-musl-gcc|AR=mipsel-openwrt-linux-musl-gcc-ar|LDDLL=mipsel-openwrt-linux-musl-gcc|LDDLLFLAGS=-shared -Wl,-soname,libbearssl.so.0 lib dll" \
	"$(cat "$T/ow/bearssl-src/build/flags" 2>&1) $(paste -sd' ' "$T/ow/bearssl-src/build/targets" 2>&1)"
check "OW-pkg" "bearssl: package and staging files" \
	"pkg/usr/lib/libbearssl.so.0|staging/usr/include/bearssl.h|staging/usr/lib/libbearssl.a|staging/usr/lib/libbearssl.so|staging/usr/lib/libbearssl.so.0" \
	"$(cd "$T/ow/bl" 2>/dev/null && find . \( -type f -o -type l \) -printf '%P\n' | sort | paste -sd'|')"

# ------------------------------------------------------------ scripts

SCRIPTS="$OW/mtasts.init contrib/alpine/mtasts.initd contrib/alpine/APKBUILD
	contrib/alpine/mtasts.confd contrib/alpine/mtasts.pre-install scripts/mkipk.sh
	scripts/container-rootfs.sh scripts/install-deps.sh
	contrib/openwrt/ipk/postinst contrib/openwrt/ipk/prerm $STUB
	tests/e2e/test_packaging.sh tests/e2e/test_service.sh tests/e2e/test_container.sh"
for s in $SCRIPTS; do
	n="sh"
	head -1 "$s" 2>/dev/null | grep -q bash && n=bash
	check "SH-n" "$n -n $s" "" "$($n -n "$s" 2>&1 || echo "missing or bad: $s")"
	check "SH-check" "shellcheck $s" "" "$(shellcheck -x "$s" 2>&1 || [ -f "$s" ] || echo "missing: $s")"
done

for p in contrib/mta-sts-resolver-convert tests/e2e/notify_recv.py; do
	check "PY" "python3 compiles $p" "" \
		"$(python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' "$p" 2>&1)"
done

# ------------------------------------------------------------ Alpine / OpenRC

A=contrib/alpine/mtasts.initd
check "RC" "OpenRC script runs under supervise-daemon" 1 "$(grep -cx 'supervisor="supervise-daemon"' $A)"
check "RC" "OpenRC script needs net" 1 "$(grep -cxP '\tneed net' $A)"
# reload with stand-ins for OpenRC's helpers: checks the configuration
# with mtasts -t, then asks supervise-daemon for SIGHUP
mkdir -p "$T/rcbin"
printf '#!/bin/sh\necho "supervise-daemon $*" >> "%s"\n' "$T/rc.log" > "$T/rcbin/supervise-daemon"
chmod +x "$T/rcbin/supervise-daemon"
rc_run() { # CONF: run reload() of the OpenRC script against CONF
	: > "$T/rc.log"
	PATH="$T/rcbin:$PATH" MTASTS_CONF=$1 RC_SVCNAME=mtasts dash -c '
		ebegin() { echo "ebegin $*" >> "$RC_LOG"; }
		eend() { echo "eend $*" >> "$RC_LOG"; return "$1"; }
		. "$1"; command=$2; reload' sh "$A" "$MTASTS" >> "$T/rc.log" 2>&1
}
export RC_LOG="$T/rc.log"
rc_run "$FIX/full.conf"
check "RC" "reload sends SIGHUP through supervise-daemon" \
	"ebegin Reloading mtasts|supervise-daemon mtasts --signal HUP|eend 0" "$(paste -sd'|' "$T/rc.log")"
echo "cache_size = lots" > "$T/bad-rc.conf"
rc_run "$T/bad-rc.conf"
check "RC" "reload with a bad configuration sends nothing" 0 "$(grep -c 'supervise-daemon\|ebegin' "$T/rc.log")"
check "RC" "APKBUILD checks the BearSSL tarball's sha256" 1 \
	"$(grep -c '^_bearssl_sha256=6705bba1714961b41a728dfc5debbe348d2966c117649392f8c8139efc83ff14$' contrib/alpine/APKBUILD)"
check "OW" "OpenWrt BearSSL package has the same hash" 1 \
	"$(grep -c '^PKG_HASH:=6705bba1714961b41a728dfc5debbe348d2966c117649392f8c8139efc83ff14$' contrib/openwrt/bearssl/Makefile)"

# ------------------------------------------------------------ manual pages

# (in man/, so that each page finds the other one it refers to)
check "MAN-lint" "mandoc -T lint on both pages" "" \
	"$(cd man && mandoc -T lint mtasts.8 mta-sts.conf.5 2>&1 | grep -v 'outdated mandoc.db')"
for k in $KEYS; do
	check "MAN-keys" "$k in mta-sts.conf.5" 1 \
		"$(grep -c "^\.It Cm $k No = " man/mta-sts.conf.5)"
	check "MAN-keys" "$k in the shipped mta-sts.conf" yes \
		"$(grep -Eq "^#?$k = " mta-sts.conf && echo yes || echo no)"
done
check "MAN-keys" "mta-sts.conf.5 documents no key the parser lacks" "" \
	"$(sed -n 's/^\.It Cm \([a-z_]*\) No = .*/\1/p' man/mta-sts.conf.5 | sort | comm -23 - <(echo "$KEYS"))"
check "MAN-opts" "every option of the usage line is in mtasts.8" "" \
	"$(for o in $("$MTASTS" -h | grep -o ' -[a-zA-Z]' | sort -u); do
		grep -q "^\.It Fl ${o#-}" man/mtasts.8 || echo "$o"; done)"

# ------------------------------------------------------------ systemd

# the unit as installed, pointing at a binary that exists; man pages found
# through MANPATH from a DESTDIR install
make -s install DESTDIR="$T/root" PREFIX=/usr/local INSTALL_BIN="$MTASTS" > /dev/null
mkdir -p "$T/unit"
sed "s|/usr/local/sbin/mtasts|$T/root/usr/local/sbin/mtasts|g" contrib/systemd/mtasts.service \
	> "$T/unit/mtasts.service"
check "SD-verify" "systemd-analyze verify mtasts.service" "0" \
	"$(MANPATH="$T/root/usr/local/share/man:" systemd-analyze verify "$T/unit/mtasts.service" \
	> "$T/verify.out" 2>&1; echo "$?" "$(cat "$T/verify.out")" | sed 's/ *$//')"
for want in Type=notify "ExecReload=/bin/kill -HUP \$MAINPID" Restart=on-failure DynamicUser=yes \
	StateDirectory=mtasts NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	PrivateDevices=yes "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" \
	SystemCallFilter=@system-service MemoryDenyWriteExecute=yes CapabilityBoundingSet=; do
	check "SD-unit" "$want" 1 "$(grep -cxF "$want" contrib/systemd/mtasts.service)"
done

# ------------------------------------------------------------ make install

D="$T/dest"
make -s install DESTDIR="$D" PREFIX=/opt/mt INSTALL_BIN="$MTASTS" > "$T/inst.out"
check "INST" "files installed under DESTDIR and PREFIX" \
	"$D/etc/mta-sts.conf 644|$D/opt/mt/sbin/mtasts 755|$D/opt/mt/share/man/man5/mta-sts.conf.5 644|$D/opt/mt/share/man/man8/mtasts.8 644" \
	"$(find "$D" -type f -printf '%p %m\n' | sort | paste -sd'|')"
check "INST" "installed binary runs" "mtasts 0" "$("$D/opt/mt/sbin/mtasts" -V | cut -d' ' -f1) $?"
echo "listen = 127.0.0.1:9999" > "$D/etc/mta-sts.conf"
make -s install DESTDIR="$D" PREFIX=/opt/mt INSTALL_BIN="$MTASTS" > "$T/inst.out"
check "INST" "an existing configuration is never overwritten" "listen = 127.0.0.1:9999" \
	"$(cat "$D/etc/mta-sts.conf")"
make -s uninstall DESTDIR="$D" PREFIX=/opt/mt > "$T/inst.out"
check "INST" "uninstall removes all but the changed configuration" "$D/etc/mta-sts.conf" \
	"$(find "$D" -type f)"
rm "$D/etc/mta-sts.conf"
make -s install DESTDIR="$D" PREFIX=/opt/mt INSTALL_BIN="$MTASTS" > "$T/inst.out"
make -s uninstall DESTDIR="$D" PREFIX=/opt/mt > "$T/inst.out"
check "INST" "uninstall removes an unchanged configuration too" "" "$(find "$D" -type f)"

# ------------------------------------------------------------ make ipk

# the mipsel cross binary when it was built (make ARCH=mipsel), else this
# machine's binary labelled with its own architecture
if [ -x build/cross/mipsel/mtasts ]; then
	ipk_bin=build/cross/mipsel/mtasts ipk_arch=mipsel_24kc
else
	ipk_bin=$MTASTS ipk_arch=x86_64
	echo "# no build/cross/mipsel/mtasts: packaging $MTASTS as $ipk_arch instead"
fi
IPK="$T/mtasts_$ipk_arch.ipk"
make -s ipk IPK_BIN="$ipk_bin" IPK_ARCH="$ipk_arch" IPK_OUT="$IPK" > "$T/ipk.out" 2>&1
check "IPK" "make ipk ($ipk_arch)" yes "$(if [ -s "$IPK" ]; then echo yes; else cat "$T/ipk.out"; fi)"
check "IPK" "outer archive: opkg's three members in order" \
	"./debian-binary ./data.tar.gz ./control.tar.gz" "$(tar -tzf "$IPK" | paste -sd' ')"
check "IPK" "debian-binary" "2.0" "$(tar -xzOf "$IPK" ./debian-binary)"
check "IPK" "control.tar.gz members" "./ ./conffiles ./control ./postinst ./prerm" \
	"$(tar -xzOf "$IPK" ./control.tar.gz | tar -tzf - | paste -sd' ')"
check "IPK" "data.tar.gz files, root-owned, with modes" \
	"-rw------- 0/0 ./etc/config/mtasts|-rwxr-xr-x 0/0 ./etc/init.d/mtasts|-rwxr-xr-x 0/0 ./usr/sbin/mtasts" \
	"$(tar -xzOf "$IPK" ./data.tar.gz | tar -tzvf - --numeric-owner | grep -v '^d' |
	awk '{print $1, $2, $6}' | sort -k3 | paste -sd'|')"
ctl=$(tar -xzOf "$IPK" ./control.tar.gz | tar -xzOf - ./control)
check "IPK" "control: Package, Depends, Architecture" "mtasts|ca-bundle|$ipk_arch" \
	"$(echo "$ctl" | sed -n 's/^\(Package\|Architecture\|Depends\): //p' | paste -sd'|')"
check "IPK" "control: Installed-Size is the data's size" \
	"$(tar -xzOf "$IPK" ./data.tar.gz | tar -xzOf - | wc -c)" \
	"$(echo "$ctl" | sed -n 's/^Installed-Size: //p')"
check "IPK" "conffiles" "/etc/config/mtasts" \
	"$(tar -xzOf "$IPK" ./control.tar.gz | tar -xzOf - ./conffiles)"
mkdir -p "$T/ipkroot"
tar -xzOf "$IPK" ./data.tar.gz | tar -xzf - -C "$T/ipkroot"
check "IPK" "packaged init script and UCI config are the contrib/ ones" "" \
	"$(cmp "$T/ipkroot/etc/init.d/mtasts" "$OW/mtasts.init"; cmp "$T/ipkroot/etc/config/mtasts" "$OW/mtasts.config")"
if [ "$ipk_arch" = x86_64 ]; then
	check "IPK" "packaged binary runs -V" 0 "$("$T/ipkroot/usr/sbin/mtasts" -V >/dev/null; echo $?)"
else
	check "IPK" "packaged mipsel binary checks the rendered full fixture (qemu-mipsel-static)" 0 \
		"$(qemu-mipsel-static "$T/ipkroot/usr/sbin/mtasts" -t -c "$FIX/full.conf" >/dev/null 2>&1; echo $?)"
fi
check "IPK" "a binary of another CPU is refused" 1 \
	"$(sh scripts/mkipk.sh "$MTASTS" mipsel_24kc "$T/wrong.ipk" >/dev/null 2>&1; echo $?)"

# ------------------------------------------------------------ converter

CONV=contrib/mta-sts-resolver-convert
EX=/usr/share/doc/postfix-mta-sts-resolver/examples
n=0
for y in "$EX"/mta-sts-daemon.yml.* /etc/mta-sts-daemon.yml; do
	[ -f "$y" ] || continue
	n=$((n + 1))
	b=$(basename "$y")
	out="$T/conv-$b.conf"
	check "CONV" "$b converts" 0 "$(python3 "$CONV" "$y" -o "$out" 2>"$T/conv.err"; echo $?)"
	check "CONV" "mtasts -t accepts the conversion of $b" 0 \
		"$("$MTASTS" -t -c "$out" >/dev/null 2>&1; echo $?)"
	case $b in
	*.internal) want="listen = 127.0.0.1:8461|reuse_port = yes|shutdown_timeout = 20|cache_size = 10000|strict_testing = no|timeout = 4|[zone myzone]|strict_testing = no|timeout = 4|require_sni = yes" ;;
	*unixsock) want="listen = unix:/var/run/mta-sts.sock|socket_mode = 0666|shutdown_timeout = 20|cache_file = /var/lib/mtasts/cache.snap|strict_testing = no|timeout = 4|[zone myzone]|strict_testing = no|timeout = 4|require_sni = yes" ;;
	*.sqlite|*.redis) want="listen = 127.0.0.1:8461|reuse_port = yes|shutdown_timeout = 20|cache_file = /var/lib/mtasts/cache.snap|strict_testing = no|timeout = 4|[zone myzone]|strict_testing = no|timeout = 4|require_sni = yes" ;;
	*) want="listen = 127.0.0.1:8461|cache_file = /var/lib/mtasts/cache.snap" ;;
	esac
	check "CONV" "settings converted from $b" "$want" "$(grep -v '^#' "$out" | grep . | paste -sd'|')"
done
check "CONV" "the example configurations of postfix-mta-sts-resolver were found" yes \
	"$([ "$n" -ge 4 ] && echo yes || echo "only $n in $EX")"
check "CONV" "edge cases as tests/convert/edge.conf" "" \
	"$(python3 "$CONV" tests/convert/edge.yml 2>/dev/null | diff tests/convert/edge.conf - 2>&1)"
check "CONV" "mtasts -t accepts the edge cases" 0 \
	"$(python3 "$CONV" tests/convert/edge.yml -o "$T/edge.conf" 2>/dev/null; "$MTASTS" -t -c "$T/edge.conf" >/dev/null 2>&1; echo $?)"
printf 'host: mail.example.com\n' > "$T/named.yml"
check "CONV" "a host name is refused with a reason" "1 1" \
	"$(python3 "$CONV" "$T/named.yml" 2>"$T/conv.err" >/dev/null; echo "$? $(grep -c 'not an IP address' "$T/conv.err")")"
printf 'default_zone:\n  timeout: 900\n' > "$T/range.yml"
check "CONV" "a value outside mtasts' range is refused" 1 \
	"$(python3 "$CONV" "$T/range.yml" >/dev/null 2>&1; echo $?)"

finish
