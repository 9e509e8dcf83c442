# mtasts - hand-written Makefile.
#   make            static ./mtasts (musl-gcc + Debian's libbearssl.a)
#   make CC=cc      the same daemon linked against glibc, for development
#   make check      unit tests (ASan+UBSan), fuzz regression, end-to-end tests,
#                   and the fuzz gate (fixed seed and run counts: reproducible)
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS each (open-ended;
#                   finds go to build/fuzz/new-NAME, see fuzz/README.md)
#   make bench      speed and memory against the reference (never in check)

BEARSSL_LIB ?= $(firstword $(wildcard /usr/lib/*/libbearssl.a /usr/lib/libbearssl.a))
WARN   = -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS ?= -Os
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
	    $(LDSTATIC) -o $@ mtasts.c $(SRCS) $(EXTRA) $(BEARSSL_LIB) -Wl,--gc-sections
	@size $@ 2>/dev/null | tail -1 || true

# Unit tests: glibc, sanitizers, every library module linked in.
TCC    = cc
TFLAGS = -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined $(WARN) -I.
UNIT_SRCS = $(wildcard tests/unit_*.c)
UNITS     = $(patsubst tests/%.c,$(B)/tests/%,$(UNIT_SRCS))

# tests/unit_X.c tests X.c; DEPS_X names the other modules it needs.
DEPS_tls    = http.c anchors.c
DEPS_policy = dns.c http.c
DEPS_conf   = dns.c
DEPS_snapshot = cache.c policy.c key.c dns.c
DEPS_lookup = pool.c conf.c dns.c http.c tls.c anchors.c policy.c cache.c
DEPS_metrics = cache.c http.c json.c
DEPS_httpd  = metrics.c cache.c http.c json.c
DEPS_server = lookup.c pool.c conf.c key.c netstring.c dns.c http.c tls.c anchors.c policy.c cache.c
DEPS_control = key.c json.c policy.c snapshot.c cache.c dns.c http.c
DEPS_controld = control.c server.c lookup.c pool.c conf.c key.c netstring.c dns.c http.c tls.c anchors.c policy.c cache.c json.c snapshot.c metrics.c httpd.c
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
FUZZ_LIB = $(filter-out tls.c server.c lookup.c controld.c, $(SRCS))
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
	$(MAKE) mtasts units fuzzers $(B)/mtasts-asan $(B)/mtasts-valgrind $(B)/bench/floor
	sh tests/run.sh

bench: mtasts $(B)/bench/floor
	sh bench/bench.sh

# The public-key floor of a cold lookup, linked like the daemon
$(B)/bench/floor: bench/floor.c $(EXTRA) $(HDRDEP)
	@mkdir -p $(B)/bench
	$(CC) -O2 $(WARN) $(BINCS) $(LDSTATIC) -o $@ bench/floor.c $(EXTRA) $(BEARSSL_LIB)

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
