# @file rtp/module.mk  (the RTP streamer arrives with application server mode)
SRCS += $(wildcard rtp/*.c)
