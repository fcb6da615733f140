/**
 * @file table_int.h  The insides of a table, shared by table.c,
 *                    subscriber.c and binding.c
 */
#ifndef CMRLAB_TABLE_INT_H
#define CMRLAB_TABLE_INT_H

#include <re.h>
#include "core/core.h"


enum {
	BINDINGS_MAX = 16,   /* per subscriber; one more is ENOSPC */
};


struct table {
	struct hash *subh;    /* subscribers by id (holds the reference) */
	struct list subl;     /* subscribers in the order they were added */
	struct hash *resh;    /* resources by id (holds the reference) */
	struct list resl;     /* resources in the order they were added */
	struct table_limits limits;
	enum cmr_mode plain;  /* defaults plain=: MODE_EARLY or MODE_HTTP */
};

struct subscriber {
	struct le he;         /* in table->subh */
	struct le le;         /* in table->subl */
	char *id;
	enum cmr_mode mode;
	enum cmr_mode plain;  /* MODE_AUTO: the table's default */
	char *cmr[2];         /* resource ids, indexed by enum cmr_dir */
	char *password;       /* NULL: no authentication */
	struct list contacts; /* struct contact, static routes */
	struct list rules;    /* struct rule */
	struct binding bindv[BINDINGS_MAX];
	unsigned bindc;
};


/* Points pl at s without its leading and trailing white space
 * (subscriber.c). */
void table_trim(struct pl *pl, const char *s);

#endif
