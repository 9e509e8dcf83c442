# mtasts container image: a static binary in an otherwise empty image.
#
#   docker build -t mtasts .
#   docker run -d --name mtasts --restart unless-stopped \
#       -p 127.0.0.1:8461:8461 -v mtasts-cache:/var/lib/mtasts mtasts
#
# Publish the port on loopback only: socketmap has no authentication.
# Postfix on the host then uses socketmap:inet:127.0.0.1:8461:postfix.
# The restart policy matters: while the daemon is down, Postfix defers
# all mail that uses it.
#
# Without network access to a registry, build the image from a binary made
# on the host (no base image is needed then):
#   make && sh scripts/container-rootfs.sh build/container-rootfs ./mtasts
#   podman build --format docker --build-arg ROOTFS=prebuilt -t mtasts .

ARG ROOTFS=build

# ---- build: Debian 12's musl and BearSSL, as on the project's CI --------
FROM debian:12-slim AS build
RUN apt-get update && \
    apt-get install -y --no-install-recommends make gcc musl-tools libbearssl-dev \
        ca-certificates binutils && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean && make mtasts && sh scripts/container-rootfs.sh /rootfs ./mtasts

# ---- prebuilt: the same tree, made on the host --------------------------
FROM scratch AS prebuilt
COPY build/container-rootfs/ /rootfs/

FROM ${ROOTFS} AS rootfs

# ---- the image ----------------------------------------------------------
FROM scratch
COPY --from=rootfs /rootfs/usr/ /usr/
COPY --from=rootfs /rootfs/etc/ /etc/
COPY --from=rootfs --chown=65532:65532 /rootfs/var/lib/mtasts/ /var/lib/mtasts/
USER 65532:65532
EXPOSE 8461
VOLUME /var/lib/mtasts
# A question answered from the key alone: no DNS, no outside network.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/sbin/mtasts", "-H", "127.0.0.1:8461"]
ENTRYPOINT ["/usr/sbin/mtasts"]
CMD ["-c", "/etc/mta-sts.conf"]
