#!/bin/sh
# scripts/install-deps.sh build|test|cross [ARCH...] - install the Debian
# packages mtasts needs, only when something is missing (so `make run`,
# `make cross` and `make check` work on a fresh Debian 12 machine).  Needs
# root for apt-get.  test includes cross for every cross architecture.
set -eu
what=${1:-build}
[ $# -eq 0 ] || shift
build_pkgs="make gcc musl-tools libbearssl-dev ca-certificates"
test_pkgs="$build_pkgs clang libclang-rt-14-dev postfix dnsmasq-base nginx-light libnginx-mod-http-echo openssl
	iproute2 python3 procps valgrind postfix-mta-sts-resolver"
# DANE tests (tests/e2e/test_dane.sh): a signed zone (ldns-signzone), served
# by nsd, validated by unbound on loopback
test_pkgs="$test_pkgs unbound nsd ldnsutils"
# packaging tests (tests/e2e/test_packaging.sh, test_container.sh): manual
# page lint, shell checks under busybox ash, unit verification, the image
# build, the converter's YAML reader
test_pkgs="$test_pkgs mandoc shellcheck busybox systemd podman buildah python3-yaml file"
# the shared cache (tests/e2e/test_redis.sh, make bench)
test_pkgs="$test_pkgs redis-server redis-sentinel"
# cross: Debian's cross compiler, musl and BearSSL for ARCH (foreign
# packages, after dpkg --add-architecture), and qemu-user-static to run the
# result.  libbearssl-dev and musl-dev are Multi-Arch: same, so they install
# next to the amd64 ones.
cross_archs="mipsel armhf arm64 s390x"
cross_pkgs() {
	echo qemu-user-static
	for a; do
		case $a in
		mipsel) echo gcc-mipsel-linux-gnu ;;
		armhf) echo gcc-arm-linux-gnueabihf ;;
		arm64) echo gcc-aarch64-linux-gnu ;;
		s390x) echo gcc-s390x-linux-gnu ;;
		*) echo "install-deps.sh: unknown cross architecture $a" >&2; exit 2 ;;
		esac
		echo "musl-dev:$a libbearssl-dev:$a"
	done
}
# the lists split into words on purpose
# shellcheck disable=SC2048,SC2086
case $what in
build) pkgs=$build_pkgs ;;
test) pkgs="$test_pkgs $(cross_pkgs $cross_archs)" ;;
cross) pkgs="$build_pkgs $(cross_pkgs ${*:-$cross_archs})" ;;
*) echo "usage: $0 build|test|cross [ARCH...]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
for p in $missing; do
	case $p in *:*) a=${p#*:} ;; *) continue ;; esac
	dpkg --print-foreign-architectures | grep -qx "$a" || dpkg --add-architecture "$a"
done
# postfix asks debconf questions; answer them so the install never blocks
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
