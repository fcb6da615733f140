# @file tests/unit/module.mk  one cmocka binary per tests/unit/<dir>/test_*.c
TESTS += $(wildcard tests/unit/*/test_*.c)
