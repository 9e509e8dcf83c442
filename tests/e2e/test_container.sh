#!/bin/bash
# tests/e2e/test_container.sh - the container image (Dockerfile).  Builds
# it with podman from a binary made on this machine (--build-arg
# ROOTFS=prebuilt: the Debian build stage would need a registry; its
# commands, make and scripts/container-rootfs.sh, are the ones run here),
# checks the image's configuration, then runs it and its health check:
# with podman when the sandbox lets the OCI runtime start containers,
# otherwise from the image's exported file tree with chroot as the image's
# user, in a network namespace with loopback only.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

cd "$ROOT" || exit 2
IMG=localhost/mtasts-test:$$
CTR=mtasts-test-$$
[ -x "$MTASTS" ] || { fail "setup: no binary $MTASTS (make, or set MTASTS=)"; finish; }
command -v podman > /dev/null || { fail "setup: podman is not installed (scripts/install-deps.sh test)"; finish; }
# the build leaves the prebuilt stage behind as an untagged image: remove
# the untagged images that were not there before
DANGLING_BEFORE=$(podman images -q --filter dangling=true | sort)
cleanup_image() {
	podman rm -f "$CTR" > /dev/null 2>&1
	podman rmi -f "$IMG" > /dev/null 2>&1
	podman images -q --filter dangling=true | sort | comm -13 <(echo "$DANGLING_BEFORE") - |
		xargs -r podman rmi > /dev/null 2>&1
}
# (finish ends with lib.sh's cleanup, which drops any EXIT trap first)
stop_test() { cleanup_image; finish; }

check "CT-file" "build stage is Debian 12" 1 "$(grep -c '^FROM debian:12-slim AS build$' Dockerfile)"
check "CT-file" "the image is FROM scratch" 1 "$(grep -c '^FROM scratch$' Dockerfile)"

check "CT-rootfs" "scripts/container-rootfs.sh" 0 \
	"$(sh scripts/container-rootfs.sh build/container-rootfs "$MTASTS" > "$T/rootfs.out" 2>&1; echo $?)"
podman build --format docker --build-arg ROOTFS=prebuilt -t "$IMG" . > "$T/build.out" 2>&1
rc=$?
check "CT-build" "podman build (prebuilt root file system)" 0 "$rc"
[ $rc -eq 0 ] || { tail -20 "$T/build.out"; stop_test; }

size=$(podman image inspect "$IMG" --format '{{.Size}}')
echo "# image size: $size bytes"
check "CT-image" "image smaller than 1 MB" yes "$([ "$size" -lt 1000000 ] && echo yes || echo "$size bytes")"
check "CT-image" "runs as a non-root UID" 65532:65532 "$(podman image inspect "$IMG" --format '{{.Config.User}}')"
check "CT-image" "entrypoint and command" "[/usr/sbin/mtasts] [-c /etc/mta-sts.conf]" \
	"$(podman image inspect "$IMG" --format '{{.Config.Entrypoint}} {{.Config.Cmd}}')"
hc=$(podman image inspect "$IMG" --format '{{join .Config.Healthcheck.Test " "}}')
check "CT-image" "health check is the -H probe" "CMD /usr/sbin/mtasts -H 127.0.0.1:8461" "$hc"
check "CT-image" "snapshot volume" "map[/var/lib/mtasts:{}]" "$(podman image inspect "$IMG" --format '{{.Config.Volumes}}')"
check "CT-image" "port" "map[8461/tcp:{}]" "$(podman image inspect "$IMG" --format '{{.Config.ExposedPorts}}')"

# the file tree as the image holds it
podman create --name "$CTR" "$IMG" > /dev/null 2>&1
mkdir -p "$T/root"
podman export "$CTR" | tar -xf - -C "$T/root"
check "CT-tree" "image files with owners and modes" \
	"etc/mta-sts.conf 0:0 644|etc/ssl/certs/ca-certificates.crt 0:0 644|usr/sbin/mtasts 0:0 755|var/lib/mtasts 65532:65532 755" \
	"$(cd "$T/root" && find etc usr var -type f -o -type d -name mtasts | sort | xargs stat -c '%n %u:%g %a' | paste -sd'|')"
check "CT-tree" "static binary" "" "$(file "$T/root/usr/sbin/mtasts" | grep -v 'statically linked')"
podman rm -f "$CTR" > /dev/null 2>&1

# run it: podman if the OCI runtime works here
hc_cmd=${hc#CMD }
# (a container that starts and then dies is a failure, not a reason to
# fall back)
if podman run -d --name "$CTR" --network none "$IMG" > "$T/run.out" 2>&1; then
	sleep 2
	check "CT-run" "container still running after 2 s" true \
		"$(podman inspect "$CTR" --format '{{.State.Running}}' 2>&1)"
	# shellcheck disable=SC2086
	check "CT-run" "health check in the running container" 0 \
		"$(podman exec "$CTR" $hc_cmd > /dev/null 2>&1; echo $?)"
	podman stop -t 10 "$CTR" > /dev/null 2>&1
	check "CT-run" "stopped cleanly" 0 "$(podman inspect "$CTR" --format '{{.State.ExitCode}}')"
else
	echo "# podman cannot run containers here: $(grep -m1 '^Error' "$T/run.out")"
	echo "# so: the exported image tree under chroot, as UID 65532, in a network namespace"
	ns_up
	cp /etc/resolv.conf "$T/root/etc/resolv.conf"   # as a container runtime provides it
	ip netns exec "$NS" chroot --userspec=65532:65532 "$T/root" /usr/sbin/mtasts -c /etc/mta-sts.conf \
		> "$T/ct.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_port 8461 "$pid" || fail "CT-run daemon from the image did not start: $(tail -3 "$T/ct.log")"
	# shellcheck disable=SC2086
	check "CT-run" "the image's health check command answers" "0 127.0.0.1:8461: answering" \
		"$(out=$(ip netns exec "$NS" chroot --userspec=65532:65532 "$T/root" $hc_cmd 2>&1); echo "$? $out")"
	kill -TERM "$pid"
	wait "$pid"
	check "CT-run" "stopped cleanly on SIGTERM" 0 "$?"
	check "CT-run" "snapshot written into the volume by UID 65532" 65532 \
		"$(stat -c %u "$T/root/var/lib/mtasts/cache.snap" 2>&1)"
	check "CT-run" "the only warning is the expected non-loopback one" \
		"warning: listening on non-loopback 0.0.0.0:8461" \
		"$(grep 'warning' "$T/ct.log" | sed 's/^[^ ]* //; s/: socketmap.*//')"
fi
stop_test
