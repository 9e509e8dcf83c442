#!/bin/sh
# scripts/mkipk.sh BINARY ARCH OUT - build an OpenWrt .ipk of mtasts.
#
# The layout opkg reads, as OpenWrt's own package builds write it: a
# gzip'd tar holding ./debian-binary ("2.0"), ./data.tar.gz (the files, from
# /) and ./control.tar.gz (control, conffiles, postinst, prerm), all owned
# by root.  ARCH is OpenWrt's package architecture (mipsel_24kc, ...); the
# binary's ELF header must match it, so a package is never labelled with
# the wrong CPU.  Timestamps come from SOURCE_DATE_EPOCH (default: the
# last commit), so the same inputs give the same bytes.
set -eu
bin=$1 arch=$2 out=$3
top=$(cd "$(dirname "$0")/.." && pwd)
ow=$top/contrib/openwrt

# e_machine (ELF offset 18, in the file's byte order) and EI_DATA (offset 5)
elf=$(od -An -tu1 -j5 -N1 "$bin" | tr -d ' ')
if [ "$elf" = 1 ]; then
	mach=$(od -An -tu1 -j18 -N2 "$bin" | awk '{print $1 + 256 * $2}')
else
	mach=$(od -An -tu1 -j18 -N2 "$bin" | awk '{print 256 * $1 + $2}')
fi
case $arch in
mipsel_*) want="8 1" ;;          # EM_MIPS, little-endian
mips_*) want="8 2" ;;            # EM_MIPS, big-endian
arm_*) want="40 1" ;;            # EM_ARM
aarch64_*) want="183 1" ;;       # EM_AARCH64
x86_64) want="62 1" ;;           # EM_X86_64
*) echo "mkipk: unknown architecture $arch" >&2; exit 2 ;;
esac
if [ "$mach $elf" != "$want" ]; then
	echo "mkipk: $bin is ELF machine $mach (byte order $elf), not a $arch binary" >&2
	exit 1
fi

version=$(sed -n 's/^#define MTASTS_VERSION "\(.*\)"/\1/p' "$top/mtasts.h")-1
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/data/usr/sbin" "$tmp/data/etc/init.d" "$tmp/data/etc/config" "$tmp/control"
cp "$bin" "$tmp/data/usr/sbin/mtasts"
${STRIP:-strip} "$tmp/data/usr/sbin/mtasts" 2>/dev/null || true
chmod 755 "$tmp/data/usr/sbin/mtasts"
install -m 0755 "$ow/mtasts/files/mtasts.init" "$tmp/data/etc/init.d/mtasts"
install -m 0600 "$ow/mtasts/files/mtasts.config" "$tmp/data/etc/config/mtasts"

size=$(find "$tmp/data" -type f -exec cat {} + | wc -c)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	"$ow/ipk/control.in" > "$tmp/control/control"
echo /etc/config/mtasts > "$tmp/control/conffiles"
install -m 0755 "$ow/ipk/postinst" "$ow/ipk/prerm" "$tmp/control/"
echo 2.0 > "$tmp/debian-binary"

tgz() {   # DIR OUT: ./-relative tar.gz of DIR, root-owned, reproducible
	(cd "$1" && tar --format=gnu --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime="@$epoch" -cf - .) | gzip -9n > "$2"
}
tgz "$tmp/data" "$tmp/data.tar.gz"
tgz "$tmp/control" "$tmp/control.tar.gz"
mkdir -p "$(dirname "$out")"
(cd "$tmp" && tar --format=gnu --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
	-cf - ./debian-binary ./data.tar.gz ./control.tar.gz) | gzip -9n > "$out"
echo "$out: mtasts $version for $arch, $(wc -c < "$out") bytes"
