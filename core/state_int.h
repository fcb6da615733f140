/**
 * @file state_int.h  The insides of the API's overlay, shared by state.c
 *                    (the overlay) and state_file.c (its files)
 */
#ifndef CMRLAB_STATE_INT_H
#define CMRLAB_STATE_INT_H

#include <re.h>
#include "core/core.h"


struct state {
	char *dir;             /* --state DIR, or NULL: in memory only */
	struct table *t;       /* the subscribers and resources put */
	struct list subdel;    /* struct idnode: subscriber ids deleted */
	struct list resdel;    /* struct idnode: resource ids deleted */
	struct list files;     /* struct idnode: a resource put, its file */
	struct list ownsub;    /* struct idnode: put, not in the profile */
	struct list ownres;    /* struct idnode: put, not in the profile */
	uint64_t gen;          /* the number of the next resource file */
	uint64_t commits;      /* state.json files written */
};

/* One change, as state_commit() writes it with the rest of the state. */
struct state_change {
	enum { CH_SUB_PUT, CH_SUB_DEL, CH_RES_PUT, CH_RES_DEL } kind;
	const char *id;
	const struct subscriber *spec;   /* CH_SUB_PUT */
	const struct resource *res;      /* CH_RES_PUT */
	const char *file;                /* CH_RES_PUT: its file, or NULL */
	bool tomb;                       /* *_DEL: recorded as deleted */
};

/* An id on one of the lists of deleted ids, or a resource's file. */
struct idnode {
	struct le le;
	char *id;
	char *file;        /* resources put: the file in DIR/res/ */
};

struct idnode *state_idfind(const struct list *l, const char *id);
int  state_idadd(struct list *l, const char *id, const char *file);
void state_iddel(struct list *l, const char *id);
const char *state_file_of(const struct state *st, const char *id);

/** Writes DIR/state.json as the state with ch made (nothing without a
 *  folder); 0 when it is in place. */
int  state_commit(struct state *st, const struct state_change *ch);
#define STATE_FILE "state.json"
#define STATE_RES_DIR "res"
/* The largest state.json: state_load() reads no more, so state_commit()
 * writes no more either, or a change answered 2xx would stop the next
 * start. */
#define STATE_MAX ((size_t)16 << 20)

/** Reads a whole regular file of at most max bytes into a mem buffer
 *  (NUL-terminated, *lenp without it). */
int  state_file_read(const char *path, size_t max, uint8_t **bufp,
		     size_t *lenp);
/** "DIR/res" into buf. */
int  state_res_dir(const char *dir, char *buf, size_t sz);
/** Removes DIR/res/FILE; a failure is logged only. */
void state_file_unlink(const struct state *st, const char *file);

#endif
