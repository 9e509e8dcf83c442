#!/bin/sh
# scripts/container-rootfs.sh OUT BINARY - the file tree of the mtasts
# container image: the static binary (stripped), the CA bundle, the
# default configuration and the snapshot directory owned by the daemon's
# UID.  Used by the Dockerfile's build stage and, with a binary built on
# the host, for an image built without any base image.
set -eu
out=$1 bin=$2
uid=${MTASTS_UID:-65532}
top=$(cd "$(dirname "$0")/.." && pwd)
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

rm -rf "$out"
mkdir -p "$out/usr/sbin" "$out/etc/ssl/certs" "$out/var/lib/mtasts"
cp "$bin" "$out/usr/sbin/mtasts"
strip "$out/usr/sbin/mtasts" 2>/dev/null || true
chmod 755 "$out/usr/sbin/mtasts"
cp "$ca" "$out/etc/ssl/certs/ca-certificates.crt"
cp "$top/contrib/container/mta-sts.conf" "$out/etc/mta-sts.conf"
chmod 644 "$out/etc/ssl/certs/ca-certificates.crt" "$out/etc/mta-sts.conf"
chown "$uid:$uid" "$out/var/lib/mtasts" 2>/dev/null || true
chmod 750 "$out/var/lib/mtasts"
# mtasts -t: the image's configuration must load
"$out/usr/sbin/mtasts" -t -c "$out/etc/mta-sts.conf" > /dev/null
