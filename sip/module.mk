# @file sip/module.mk
SRCS += $(wildcard sip/*.c)
