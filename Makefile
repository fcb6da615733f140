# @file Makefile  cmrlab build: one binary, unit tests, integration tests.
#
# Fragments <dir>/module.mk add their sources to SRCS (the program),
# TESTS (cmocka unit tests, each linked with every object but cmd/) and
# FUZZERS (fuzz harnesses, linked the same way).

PKGS     := libre librem libevent libmicrohttpd libcrypto
BUILD    ?= build
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	    -Wmissing-prototypes -Werror
VERSION  := 0.1.0
DEFS     := -DCMRLAB_VERSION=\"$(VERSION)\" -D_GNU_SOURCE -DHAVE_INTTYPES_H -DHAVE_STDBOOL_H
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN) $(DEFS) $(CFLAGS) $(SAN) -I. $(PKG_CFLAGS) -MMD -MP
LDLIBS     = $(PKG_LIBS) -lm -pthread

SRCS  :=
TESTS :=
include core/module.mk sip/module.mk http/module.mk rtp/module.mk
include tests/unit/module.mk tests/fuzz/module.mk

LIB_OBJS  := $(SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/*.c))
TEST_BINS := $(TESTS:%.c=$(BUILD)/%)

# Benchmarks in C: linked like the unit tests, without cmocka, with
# their helpers (the RTP receiver and the plain sender).
BENCHES    := tests/bench/bench_streams.c
BENCH_BINS := $(BENCHES:%.c=$(BUILD)/%)
BENCH_OBJS := $(BUILD)/tests/bench/rtprx.o $(BUILD)/tests/bench/sendlimit.o

# Fuzz harnesses: with replay.c's main() by default (make test runs them
# over their corpora); make fuzz builds them in build-fuzz/ with clang and
# libFuzzer's main() instead (FUZZ_MAIN empty, FUZZ_LINK=-fsanitize=fuzzer).
FUZZ_BINS    := $(FUZZERS:%.c=$(BUILD)/%)
FUZZ_MAIN    ?= $(BUILD)/tests/fuzz/replay.o
FUZZ_LINK    ?=
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_SAN     := -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize-recover=all

.PHONY: all deps deps-test test test-run unit integration asan check-symbols demo run bench \
	bench-run fuzz fuzz-bins soak clean
all: $(BUILD)/cmrlab

$(BUILD)/cmrlab: $(MAIN_OBJ) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) -lcmocka

# A static pattern rule: it takes precedence over the test rule above.
$(BENCH_BINS): $(BUILD)/%: $(BUILD)/%.o $(BENCH_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(FUZZ_BINS): $(BUILD)/%: $(BUILD)/%.o $(FUZZ_MAIN) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(SAN) $(FUZZ_LINK) -o $@ $^ \
		$(FUZZ_LDFLAGS_$(notdir $@)) $(LDLIBS)

# Every package the build and the tests need, installed non-interactively.
DEB_PKGS := build-essential pkg-config libre-dev librem-dev libevent-dev \
	    libmicrohttpd-dev libssl-dev libcmocka-dev sip-tester curl python3 \
	    binutils iproute2 nftables clang libclang-rt-14-dev
# Best-effort packages for the tests: the real phones of
# tests/integration/test_phones.py, the browser that checks the demo's
# report page (tests/integration/chromium.py) and tshark, which reads the
# demo's capture.  Installed when apt can, in a call of their own whose
# failure does not fail the target (those tests then skip); make demo and
# make run do without them.
EXTRA_PKGS := baresip-core linphone-cli chromium tshark
deps:
	@if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y \
			-qq --no-install-recommends $$missing; \
	fi

deps-test: deps
	@if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	missing=$$(for p in $(EXTRA_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		{ $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
		  && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install \
			-y -qq --no-install-recommends $$missing; } || \
		echo "deps-test: $$missing not installed; the tests that" \
			"need them will skip"; \
	fi

unit: $(TEST_BINS)
	@tests/run-unit $(TEST_BINS)

integration: $(BUILD)/cmrlab
	@python3 tests/integration/run.py --binary $(BUILD)/cmrlab

# Everything, with one closing line of totals; on a fresh machine the
# packages come first (deps is a quick check when they are there).
test: deps-test
	@$(MAKE) --no-print-directory test-run

test-run: $(BUILD)/cmrlab $(TEST_BINS) $(FUZZ_BINS)
	@tests/run-all $(BUILD)

# Sanitizer build in its own tree; runs the same suites.
asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		test

# No extern of ours may share a name with an export of the libraries we
# link: libre would call our function instead of its own.  The
# deliberate overrides are fd_listen and fd_close (core/loop.c) and libre's
# timer functions (core/timers.c).
check-symbols: $(BUILD)/cmrlab
	@tests/check-symbols $(BUILD) $(MAIN_OBJ) $(LIB_OBJS)

run: deps all
	$(BUILD)/cmrlab serve

# Every delivery case, server and clients in one process: ladders and
# verdicts on the terminal, the report and the capture in build/demo.
demo: deps all
	$(BUILD)/cmrlab demo --out $(BUILD)/demo

# Every figure of tests/bench/bench.py against its peer (Kamailio, nginx,
# a plain sender), as tables and one closing JSON line; installs the peers
# first.  BENCH_QUICK=1 for a short smoke run.  Not part of test.
bench:
	@t0=$$(date +%s); $(MAKE) --no-print-directory deps && \
		tests/bench/install-deps && \
		BENCH_T0=$$t0 $(MAKE) --no-print-directory bench-run

bench-run: $(BUILD)/cmrlab $(BENCH_BINS)
	@python3 tests/bench/bench.py --binary $(BUILD)/cmrlab \
		--streams $(BUILD)/tests/bench/bench_streams

# Every harness under libFuzzer for FUZZ_SECONDS seconds each, one after
# the other; fails if one crashed (tests/fuzz/README.md).
fuzz: deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang \
		CFLAGS="-O1 -g -fno-omit-frame-pointer" SAN="$(FUZZ_SAN)" \
		FUZZ_MAIN= FUZZ_LINK=-fsanitize=fuzzer fuzz-bins
	@tests/fuzz/run-fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS) \
		$(FUZZERS:%.c=$(FUZZ_BUILD)/%)

fuzz-bins: $(FUZZ_BINS)

# Calls in every mode for SOAK_SECONDS (not part of test): fails on a
# failed call, memory growth, an fd left open or a call or stream left live.
SOAK_SECONDS ?= 600
soak: all
	@python3 tests/soak/soak.py --binary $(BUILD)/cmrlab \
		--seconds $(SOAK_SECONDS)

clean:
	rm -rf build build-asan $(FUZZ_BUILD)

# Keep test objects: make would delete them as intermediates, and its
# "rm" line would then follow the test summary.
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
