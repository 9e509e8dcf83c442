# mtasts - hand-written Makefile.
#   make            static ./mtasts (musl-gcc + Debian's libbearssl.a)
#   make CC=cc      the same daemon linked against glibc, for development
#   make check      unit tests (ASan+UBSan), fuzz regression, end-to-end tests,
#                   and the fuzz gate (fixed seed and run counts: reproducible)
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS each (open-ended;
#                   finds go to build/fuzz/new-NAME, see fuzz/README.md)
#   make bench      speed and memory against the reference (never in check)
#   make cross      static musl builds for router CPUs (make ARCH=NAME for one)

# This machine's own libbearssl.a first: with cross packages installed,
# /usr/lib/*/ also holds aarch64, arm, mips and s390x copies.
BEARSSL_LIB ?= $(firstword $(wildcard /usr/lib/$(shell cc -print-multiarch 2>/dev/null)/libbearssl.a \
	/usr/lib/*/libbearssl.a /usr/lib/libbearssl.a))
WARN   = -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
# No unwind tables: a C daemon never unwinds, and they are 12 KB of .eh_frame
# No RELRO segment in the static musl builds: musl applies PT_GNU_RELRO only
# in its dynamic linker, so in a static binary that page stays writable
# anyway (see /proc/PID/maps) and the segment costs a page of padding.
LDRELRO = -Wl,-z,norelro
CFLAGS ?= -Os -fno-asynchronous-unwind-tables
B      = build

SRCS     = $(filter-out mtasts.c fortify.c, $(wildcard *.c))
HDRS     = $(wildcard *.h)

ifeq ($(origin CC),default)
# The product: musl must not see glibc's /usr/include, so give it a copy
# of the BearSSL headers alone.
CC       = musl-gcc
BINCS    = -I$(B)/bearssl-include
EXTRA    = fortify.c
LDSTATIC = -static
HDRDEP   = $(B)/bearssl-include/bearssl.h
LDSMALL  = $(LDRELRO)
else
BINCS    =
EXTRA    =
LDSTATIC =
HDRDEP   =
endif

all: mtasts

# On a fresh machine: install the build packages, build, run on defaults.
run: deps
	$(MAKE) mtasts
	./mtasts

deps:
	sh scripts/install-deps.sh build

test-deps:
	sh scripts/install-deps.sh test

$(B)/bearssl-include/bearssl.h:
	mkdir -p $(B)/bearssl-include
	cp -r /usr/include/bearssl.h /usr/include/bearssl $(B)/bearssl-include/

mtasts: mtasts.c $(SRCS) $(EXTRA) $(HDRS) $(HDRDEP)
	$(CC) $(CFLAGS) $(WARN) $(BINCS) -ffunction-sections -fdata-sections \
	    $(LDSTATIC) -o $@ mtasts.c $(SRCS) $(EXTRA) $(BEARSSL_LIB) -Wl,--gc-sections $(LDSMALL)
	@size $@ 2>/dev/null | tail -1 || true

# Unit tests: glibc, sanitizers, every library module linked in.
TCC    = cc
TFLAGS = -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined $(WARN) -I.
UNIT_SRCS = $(wildcard tests/unit_*.c)
UNITS     = $(patsubst tests/%.c,$(B)/tests/%,$(UNIT_SRCS))

# tests/unit_X.c tests X.c; DEPS_X names the other modules it needs.
DEPS_tls    = http.c anchors.c x509cache.c
DEPS_x509cache = anchors.c
DEPS_policy = dns.c http.c netstring.c
DEPS_resp   = shared.c
DEPS_conf   = dns.c
DEPS_key    = idn.c
DEPS_dane   = danejob.c lookup.c pool.c conf.c dns.c snapshot.c cache.c key.c idn.c policy.c http.c \
              tls.c anchors.c x509cache.c redis.c resp.c shared.c netstring.c
DEPS_snapshot = cache.c policy.c key.c idn.c dns.c http.c netstring.c
DEPS_lookup = pool.c conf.c dns.c http.c tls.c anchors.c x509cache.c policy.c cache.c danejob.c dane.c redis.c resp.c shared.c netstring.c
DEPS_metrics = cache.c http.c json.c
DEPS_httpd  = metrics.c cache.c http.c json.c
DEPS_server = lookup.c danejob.c dane.c pool.c conf.c key.c idn.c netstring.c dns.c http.c tls.c anchors.c x509cache.c policy.c cache.c redis.c resp.c shared.c
DEPS_control = key.c idn.c json.c policy.c snapshot.c cache.c dns.c http.c
DEPS_controld = control.c server.c lookup.c danejob.c dane.c pool.c conf.c key.c idn.c netstring.c dns.c http.c tls.c anchors.c x509cache.c policy.c cache.c json.c snapshot.c metrics.c httpd.c redis.c resp.c shared.c
$(B)/tests/unit_%: tests/unit_%.c %.c util.c log.c $(HDRS) tests/unit.h
	@mkdir -p $(B)/tests
	$(TCC) $(TFLAGS) -o $@ $< $(sort $*.c $(DEPS_$*) util.c log.c) $(BEARSSL_LIB)

# The daemon under sanitizers, for end-to-end runs
$(B)/mtasts-asan: mtasts.c $(SRCS) $(HDRS)
	@mkdir -p $(B)
	$(TCC) $(TFLAGS) -o $@ mtasts.c $(SRCS) $(BEARSSL_LIB)

# The daemon for valgrind memcheck: glibc, no sanitizers, and a wrapper
# that the e2e tests run as MTASTS (memcheck errors make it exit 99).
$(B)/mtasts-dev: mtasts.c $(SRCS) $(HDRS)
	@mkdir -p $(B)
	$(TCC) -g -O1 $(WARN) -I. -o $@ mtasts.c $(SRCS) $(BEARSSL_LIB)

$(B)/mtasts-valgrind: $(B)/mtasts-dev
	printf '#!/bin/sh\nexec valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$(CURDIR)/$(B)/valgrind.%%p.log $(CURDIR)/$(B)/mtasts-dev "$$@"\n' > $@
	chmod +x $@

units: $(UNITS)

FUZZ_SRCS    = $(wildcard fuzz/fuzz_*.c)
FUZZERS      = $(patsubst fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 60
# fuzz targets link the pure parsers only
FUZZ_LIB = $(filter-out tls.c server.c lookup.c danejob.c controld.c redis.c, $(SRCS))
$(B)/fuzz/%: fuzz/%.c $(FUZZ_LIB) $(HDRS)
	@mkdir -p $(B)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -o $@ $< $(FUZZ_LIB) $(BEARSSL_LIB)

fuzzers: $(FUZZERS)

fuzz: $(FUZZERS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz.sh run

# what make check runs: the corpora, then fixed-seed fixed-count fuzzing
fuzz-gate: $(FUZZERS)
	sh tests/fuzz.sh gate

check: test-deps
	$(MAKE) mtasts units fuzzers $(B)/mtasts-asan $(B)/mtasts-valgrind $(B)/bench/floor cross-check
	sh tests/run.sh

bench: mtasts $(B)/bench/floor
	sh bench/bench.sh

# The public-key floor of a cold lookup, linked like the daemon
$(B)/bench/floor: bench/floor.c $(EXTRA) $(HDRDEP)
	@mkdir -p $(B)/bench
	$(CC) -O2 $(WARN) $(BINCS) $(LDSTATIC) -o $@ bench/floor.c $(EXTRA) $(BEARSSL_LIB)

# ---- cross: static musl + BearSSL builds for router CPUs -----------------
# Debian's cross compilers with musl-dev:ARCH and libbearssl-dev:ARCH
# (scripts/install-deps.sh cross), run under qemu-user-static.
#   make cross          build/cross/ARCH/mtasts for every CROSS_ARCHS (stripped;
#                       mtasts.debug next to it keeps the symbols)
#   make ARCH=mipsel    just that one (both first install what is missing)
#   make cross-check    also the unit tests per ARCH, and the qemu wrappers
#                       that tests/run.sh and tests/cross.sh use
CROSS_ARCHS = mipsel armhf arm64 s390x
# Debian architecture -> GNU triplet, musl triplet, qemu-user name, CPU flags
GNU_mipsel  = mipsel-linux-gnu
GNU_armhf   = arm-linux-gnueabihf
GNU_arm64   = aarch64-linux-gnu
GNU_s390x   = s390x-linux-gnu
MUSL_mipsel = mipsel-linux-musl
MUSL_armhf  = arm-linux-musleabihf
MUSL_arm64  = aarch64-linux-musl
MUSL_s390x  = s390x-linux-musl
QEMU_mipsel = mipsel
QEMU_armhf  = arm
QEMU_arm64  = aarch64
QEMU_s390x  = s390x
# MIPS32r2 little-endian (mipsel_24kc); Debian's armhf default is already
# ARMv7-A (arm_cortex-a7/a9), arm64's is ARMv8-A (cortex-a53)
CPU_mipsel  = -march=mips32r2 $(MIPS16)
# Our code as MIPS16e, as OpenWrt builds its packages (CONFIG_USE_MIPS16):
# a third smaller, which keeps mipsel within the size budget.  BearSSL and
# musl stay MIPS32 as Debian built them; -minterlink-mips16 makes the calls
# between the two safe.  Not PIE: a static binary needs no GOT indirection.
MIPS16      = -mips16 -minterlink-mips16 -fno-pie -no-pie

# ARCH counts only on the command line (some environments export one)
CROSS_ONE = $(if $(filter command line,$(origin ARCH)),$(ARCH))
ifneq ($(CROSS_ONE),)
ifeq ($(GNU_$(ARCH)),)
$(error ARCH=$(ARCH): not one of $(CROSS_ARCHS))
endif
.DEFAULT_GOAL := cross
endif

CROSS_UNITS = $(patsubst tests/%.c,%,$(UNIT_SRCS))

# cross_rules ARCH: the daemon, the unit tests and the qemu wrappers for ARCH
define cross_rules
CC_$1  = $$(GNU_$1)-gcc -specs /usr/lib/$$(MUSL_$1)/musl-gcc.specs $$(CPU_$1)
LIB_$1 = /usr/lib/$$(GNU_$1)/libbearssl.a

$(B)/cross/$1/mtasts: mtasts.c $$(SRCS) fortify.c $$(HDRS) $(B)/bearssl-include/bearssl.h
	@mkdir -p $$(@D)
	$$(CC_$1) -Os -fno-asynchronous-unwind-tables $$(WARN) -I$(B)/bearssl-include -ffunction-sections -fdata-sections \
	    -static -o $$@.debug mtasts.c $$(SRCS) fortify.c $$(LIB_$1) -Wl,--gc-sections $(LDRELRO)
	$$(GNU_$1)-strip -o $$@ $$@.debug
	@wc -c < $$@ | sed 's/$$$$/ bytes stripped ($1)/'

# unit tests: statically linked with musl, no sanitizers (qemu runs them)
$(B)/cross/$1/tests/unit_%: tests/unit_%.c %.c util.c log.c fortify.c $$(HDRS) tests/unit.h \
    $(B)/bearssl-include/bearssl.h
	@mkdir -p $$(@D)
	$$(CC_$1) -g -O1 $$(WARN) -I. -I$(B)/bearssl-include -static -o $$@ \
	    $$< $$(sort $$*.c $$(DEPS_$$*) util.c log.c) fortify.c $$(LIB_$1)

$(B)/cross/$1/tests/so_error: tests/cross/so_error.c
	@mkdir -p $$(@D)
	$$(CC_$1) -O1 $$(WARN) -static -o $$@ tests/cross/so_error.c

# "qemu PROGRAM ARGS" runs a program of this ARCH; mtasts-qemu is the daemon
# as MTASTS for the e2e scripts (exec: signals reach the daemon)
$(B)/cross/$1/qemu:
	@mkdir -p $$(@D)
	printf '#!/bin/sh\nexec qemu-$$(QEMU_$1)-static "$$$$@"\n' > $$@
	chmod +x $$@

$(B)/cross/$1/mtasts-qemu: $(B)/cross/$1/qemu
	printf '#!/bin/sh\nexec $(CURDIR)/$(B)/cross/$1/qemu $(CURDIR)/$(B)/cross/$1/mtasts "$$$$@"\n' > $$@
	chmod +x $$@

cross-check-$1: $(B)/cross/$1/mtasts $(B)/cross/$1/mtasts-qemu $(B)/cross/$1/tests/so_error \
    $$(addprefix $(B)/cross/$1/tests/,$$(CROSS_UNITS))
endef
$(foreach a,$(CROSS_ARCHS),$(eval $(call cross_rules,$a)))

# The x86_64 binary stripped, for the size budget next to the others
$(B)/cross/x86_64/mtasts: mtasts
	@mkdir -p $(@D)
	strip -o $@ mtasts

# installs what is missing first (root), as `make run` does
cross:
	sh scripts/install-deps.sh cross $(CROSS_ONE)
	$(MAKE) $(foreach a,$(or $(CROSS_ONE),$(CROSS_ARCHS)),$(B)/cross/$a/mtasts)

cross-check: $(foreach a,$(CROSS_ARCHS),cross-check-$a) $(B)/cross/x86_64/mtasts

.PHONY: cross cross-check $(foreach a,$(CROSS_ARCHS),cross-check-$a)

clean:
	rm -rf $(B) mtasts

.PHONY: all run deps test-deps check units fuzz fuzz-gate fuzzers bench clean

# ---- install and packages (contrib/, man/) ---------------------------------
#   make install [PREFIX=/usr/local] [DESTDIR=]   binary, manual pages, and
#        /etc/mta-sts.conf unless one exists (never overwritten)
#   make uninstall                                the same files again; the
#        configuration only if it is still the shipped one
#   make ipk [IPK_BIN=...] [IPK_ARCH=mipsel_24kc]  OpenWrt package
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
INSTALL_BIN ?= mtasts

install: $(INSTALL_BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(SYSCONFDIR)
	install -m 0755 $(INSTALL_BIN) $(DESTDIR)$(SBINDIR)/mtasts
	install -m 0644 man/mtasts.8 $(DESTDIR)$(MANDIR)/man8/mtasts.8
	install -m 0644 man/mta-sts.conf.5 $(DESTDIR)$(MANDIR)/man5/mta-sts.conf.5
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/mta-sts.conf ]; then \
	    echo "kept $(DESTDIR)$(SYSCONFDIR)/mta-sts.conf (the shipped one is mta-sts.conf)"; \
	else \
	    echo "install -m 0644 mta-sts.conf $(DESTDIR)$(SYSCONFDIR)/mta-sts.conf"; \
	    install -m 0644 mta-sts.conf $(DESTDIR)$(SYSCONFDIR)/mta-sts.conf; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/mtasts $(DESTDIR)$(MANDIR)/man8/mtasts.8 \
	    $(DESTDIR)$(MANDIR)/man5/mta-sts.conf.5
	@if cmp -s mta-sts.conf $(DESTDIR)$(SYSCONFDIR)/mta-sts.conf; then \
	    echo "rm -f $(DESTDIR)$(SYSCONFDIR)/mta-sts.conf"; \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/mta-sts.conf; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/mta-sts.conf ]; then \
	    echo "kept $(DESTDIR)$(SYSCONFDIR)/mta-sts.conf (changed since installed)"; \
	fi

IPK_ARCH ?= mipsel_24kc
IPK_BIN  ?= $(B)/cross/mipsel/mtasts
IPK_VERSION = $(shell sed -n 's/^\#define MTASTS_VERSION "\(.*\)"/\1/p' mtasts.h)-1
IPK_OUT  ?= $(B)/ipk/mtasts_$(IPK_VERSION)_$(IPK_ARCH).ipk

ipk:
	@[ -f $(IPK_BIN) ] || $(MAKE) ARCH=mipsel
	sh scripts/mkipk.sh $(IPK_BIN) $(IPK_ARCH) $(IPK_OUT)

.PHONY: install uninstall ipk
