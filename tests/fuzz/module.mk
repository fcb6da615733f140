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

# Extra link flags of one harness, by its name.  fuzz_profile checks every
# path that the profile parser opens (its sandbox).
FUZZ_LDFLAGS_fuzz_profile := -Wl,--wrap=profile_read_all
