# @file tests/fuzz/module.mk  libFuzzer harnesses, one per parser
#
# Each tests/fuzz/fuzz_NAME.c links with every object but cmd/: with
# replay.c in build/ and build-asan/ (make test replays its corpus and
# its regressions), with libFuzzer in build-fuzz/ (make fuzz).  One
# harness per line.
FUZZERS :=
FUZZERS += tests/fuzz/fuzz_body.c
FUZZERS += tests/fuzz/fuzz_gwsdp.c
FUZZERS += tests/fuzz/fuzz_profile.c
FUZZERS += tests/fuzz/fuzz_wav.c
FUZZERS += tests/fuzz/fuzz_http.c
FUZZERS += tests/fuzz/fuzz_sipmsg.c
FUZZERS += tests/fuzz/fuzz_sip.c
FUZZERS += tests/fuzz/fuzz_fetch.c
FUZZERS += tests/fuzz/fuzz_cmrc.c
FUZZERS += tests/fuzz/fuzz_conform.c

# Extra link flags of one harness, by its name.  fuzz_profile checks every
# path that the profile parser opens (its sandbox).
FUZZ_LDFLAGS_fuzz_profile := -Wl,--wrap=profile_read_all

# libFuzzer options of one harness, by its name (tests/fuzz/run-fuzz).
# fuzz_sip's server keeps libre's transactions from one input to the next
# on purpose: libFuzzer's leak check after every input would re-run each
# one under a full LeakSanitizer scan (LeakSanitizer still runs at exit).
export FUZZ_ARGS_fuzz_sip := -detect_leaks=0 -dict=tests/fuzz/sip.dict
