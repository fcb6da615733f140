# @file http/module.mk
SRCS += $(wildcard http/*.c)
