/**
 * @file cmd.h  cmrlab's subcommands beyond serve (cmrlab.c)
 */
#ifndef CMRLAB_CMD_CMD_H
#define CMRLAB_CMD_CMD_H

#include "sip/ua.h"
#include "http/fetch.h"

int cmd_call(int argc, char *argv[]);
int cmd_demo(int argc, char *argv[]);
int cmd_conform(int argc, char *argv[]);
/* The CMR Client's downloads on http/fetch.c (cmrc_fetch_h). */
int cmd_fetch(void **hp, const char *url, bool capture, cmrc_dl_h *dh,
	      void *arg);

#endif
