/**
 * @file sipscript.h  The input format of the SIP harness: records of SIP
 *                    messages with sipp-style [placeholders]
 *
 * An input is a sequence of records.  A record begins with a direction
 * line, "@A", "@B" or "@T" alone on its line (then LF or CR LF), at the
 * start of the input or right after an LF; its payload is every byte up
 * to the next direction line, sent as one message:
 *
 *   @A  from the caller's UDP socket to the server
 *   @T  from the caller over TCP (one connection per input)
 *   @B  from the callee's UDP socket (the one every test subscriber is
 *       registered at) to the server
 *
 * Bytes before the first direction line are a record of the caller's, so
 * a bare SIP message (an RFC 4475 torture message) is an input too.
 * Nothing converts line ends: a seed has CR LF where SIP wants them.
 *
 * The placeholders, each replaced in the payload before it is sent
 * ("this side" is the caller for @A and @T, the callee for @B):
 *
 *   [server] [server_ip] [server_port]  the server's UDP/TCP address
 *   [remote_ip] [remote_port]           the same, as sipp says it
 *   [local] [local_ip] [local_port]     this side's socket (TCP for @T)
 *   [caller] [callee]                   the two UDP sockets
 *   [transport]                         UDP or TCP
 *   [media_port]                        a socket that takes RTP (and
 *                                       RTCP on the port above)
 *   [call_id] [call_id2]                Call-IDs new to each input
 *   [tag]                               this side's tag, new to each input
 *   [branch]                            a branch new to this record;
 *   [branch-N]                          the one of the record N back (1-9)
 *   [last_NAME:]                        every NAME header line of the last
 *                                       request this side received
 *                                       ([last_Via:], [last_CSeq:], ...)
 *   [invite_NAME:]                      the same of the last INVITE this
 *                                       side received (a callee's 200
 *                                       after PRACKs came in)
 *   [peer_tag] [peer_uri] [own_uri]     the remote tag, the remote URI and
 *   [peer_call_id]                      our URI and the Call-ID of the
 *                                       last message this side received
 *                                       that carried the peer's tag
 *   [peer_contact]                      the last Contact URI this side
 *                                       received (or sip:[server])
 *   [rseq]                              the last RSeq this side received
 *   [len]                               the length of the body: what
 *                                       follows the first blank line
 *
 * A name that is none of these stays as it is, brackets and all.
 */
#ifndef CMRLAB_TESTS_SIPSCRIPT_H
#define CMRLAB_TESTS_SIPSCRIPT_H

#include <string.h>
#include <re.h>

enum sipscript_dir { SCRIPT_A = 0, SCRIPT_B, SCRIPT_T };

struct sipscript_rec {
	enum sipscript_dir dir;
	struct pl payload;
};

/* What the placeholders of one record become. */
struct sipscript_ctx {
	const struct sa *server;
	const struct sa *local;
	const struct sa *caller, *callee;
	bool tcp;
	uint16_t media_port;
	unsigned long long input;  /* the input's number: ids new to it */
	unsigned rec;              /* the record's number in the input */
	const char *tag;
	const struct sip_msg *req;  /* the last request received */
	const struct sip_msg *inv;  /* the last INVITE received */
	const struct sip_msg *dmsg; /* the last message with the peer's tag */
	const char *contact;
	uint32_t rseq;
};


/* The length of a direction line at p, 0 for none; sets *dir. */
static inline size_t sipscript_dirline(const uint8_t *p, size_t n,
				       enum sipscript_dir *dir)
{
	size_t l;

	if (n < 3 || p[0] != '@')
		return 0;

	if (p[2] == '\n')
		l = 3;
	else if (n >= 4 && p[2] == '\r' && p[3] == '\n')
		l = 4;
	else
		return 0;

	switch (p[1]) {

	case 'A': *dir = SCRIPT_A; return l;
	case 'B': *dir = SCRIPT_B; return l;
	case 'T': *dir = SCRIPT_T; return l;
	default:  return 0;
	}
}


/* The record at *pos; false at the end of the input. */
static inline bool sipscript_next(const uint8_t *data, size_t size,
				  size_t *pos, struct sipscript_rec *rec)
{
	enum sipscript_dir d;
	size_t i = *pos, start;

	if (i >= size)
		return false;

	rec->dir = SCRIPT_A;
	i += sipscript_dirline(data + i, size - i, &rec->dir);

	for (start = i; i < size; i++) {
		if ((i == start || data[i - 1] == '\n') &&
		    sipscript_dirline(data + i, size - i, &d))
			break;
	}

	rec->payload.p = (const char *)data + start;
	rec->payload.l = i - start;
	*pos = i;

	return true;
}


/* Every header line called name of msg, joined by CR LF, none after the
 * last. */
static inline int sipscript_hdrs(struct mbuf *out, const struct sip_msg *msg,
				 const struct pl *name)
{
	bool first = true;
	struct le *le;
	int err = 0;

	for (le = msg ? list_head(&msg->hdrl) : NULL; le; le = le->next) {
		const struct sip_hdr *h = le->data;

		if (pl_casecmp(&h->name, name))
			continue;

		err |= mbuf_printf(out, "%s%r: %r", first ? "" : "\r\n",
				   &h->name, &h->val);
		first = false;
	}

	return err;
}


static inline bool sipscript_is(const struct pl *name, const char *s)
{
	return !pl_strcmp(name, s);
}


/* Writes the value of placeholder name; ENOENT when there is none. */
static inline int sipscript_value(struct mbuf *out, const struct pl *name,
				  const struct sipscript_ctx *c, size_t len)
{
	const struct sip_msg *d = c->dmsg;
	const struct sip_taddr *peer = NULL, *own = NULL;
	struct pl hdr;

	if (d) {
		peer = d->req ? &d->from : &d->to;
		own = d->req ? &d->to : &d->from;
	}

	if (sipscript_is(name, "server"))
		return mbuf_printf(out, "%J", c->server);
	if (sipscript_is(name, "server_ip") ||
	    sipscript_is(name, "remote_ip"))
		return mbuf_printf(out, "%j", c->server);
	if (sipscript_is(name, "server_port") ||
	    sipscript_is(name, "remote_port"))
		return mbuf_printf(out, "%u", sa_port(c->server));
	if (sipscript_is(name, "local"))
		return mbuf_printf(out, "%J", c->local);
	if (sipscript_is(name, "local_ip"))
		return mbuf_printf(out, "%j", c->local);
	if (sipscript_is(name, "local_port"))
		return mbuf_printf(out, "%u", sa_port(c->local));
	if (sipscript_is(name, "caller"))
		return mbuf_printf(out, "%J", c->caller);
	if (sipscript_is(name, "callee"))
		return mbuf_printf(out, "%J", c->callee);
	if (sipscript_is(name, "transport"))
		return mbuf_printf(out, "%s", c->tcp ? "TCP" : "UDP");
	if (sipscript_is(name, "media_port"))
		return mbuf_printf(out, "%u", c->media_port);
	if (sipscript_is(name, "call_id"))
		return mbuf_printf(out, "fz%llu-1", c->input);
	if (sipscript_is(name, "call_id2"))
		return mbuf_printf(out, "fz%llu-2", c->input);
	if (sipscript_is(name, "tag"))
		return mbuf_printf(out, "%s", c->tag);
	if (sipscript_is(name, "branch"))
		return mbuf_printf(out, "z9hG4bK-fz%llu-r%u", c->input,
				   c->rec);
	if (name->l == 8 && !memcmp(name->p, "branch-", 7) &&
	    name->p[7] >= '1' && name->p[7] <= '9') {
		unsigned back = (unsigned)(name->p[7] - '0');

		return mbuf_printf(out, "z9hG4bK-fz%llu-r%u", c->input,
				   back <= c->rec ? c->rec - back : c->rec);
	}
	if (sipscript_is(name, "peer_tag"))
		return peer ? mbuf_write_pl(out, &peer->tag) : 0;
	if (sipscript_is(name, "peer_uri"))
		return peer ? mbuf_write_pl(out, &peer->auri) : 0;
	if (sipscript_is(name, "own_uri"))
		return own ? mbuf_write_pl(out, &own->auri) : 0;
	if (sipscript_is(name, "peer_call_id"))
		return d ? mbuf_write_pl(out, &d->callid) : 0;
	if (sipscript_is(name, "peer_contact")) {
		if (c->contact && c->contact[0])
			return mbuf_printf(out, "%s", c->contact);
		return mbuf_printf(out, "sip:%J", c->server);
	}
	if (sipscript_is(name, "rseq"))
		return mbuf_printf(out, "%u", c->rseq);
	if (sipscript_is(name, "len"))
		return mbuf_printf(out, "%zu", len);

	if (name->l > 6 && !memcmp(name->p, "last_", 5) &&
	    name->p[name->l - 1] == ':') {
		hdr.p = name->p + 5;
		hdr.l = name->l - 6;
		return sipscript_hdrs(out, c->req, &hdr);
	}
	if (name->l > 8 && !memcmp(name->p, "invite_", 7) &&
	    name->p[name->l - 1] == ':') {
		hdr.p = name->p + 7;
		hdr.l = name->l - 8;
		return sipscript_hdrs(out, c->inv, &hdr);
	}

	return ENOENT;
}


static inline bool sipscript_namec(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		(ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		ch == ':' || ch == '.';
}


static inline int sipscript_pass(struct mbuf *out, const struct pl *in,
				 const struct sipscript_ctx *c, size_t len)
{
	size_t i = 0, j;
	int err = 0;

	while (i < in->l && !err) {
		const char *p = in->p + i;
		const char *lb = memchr(p, '[', in->l - i);
		struct pl name;

		if (!lb) {
			err = mbuf_write_mem(out, (const uint8_t *)p,
					     in->l - i);
			break;
		}

		err = mbuf_write_mem(out, (const uint8_t *)p,
				     (size_t)(lb - p));
		i += (size_t)(lb - p);

		for (j = i + 1; j < in->l && j - i <= 40 &&
			     sipscript_namec(in->p[j]); j++)
			;

		name.p = in->p + i + 1;
		name.l = j - i - 1;
		if (!err && j < in->l && in->p[j] == ']' && name.l) {
			size_t at = out->pos;

			err = sipscript_value(out, &name, c, len);
			if (err == ENOENT) {
				out->pos = out->end = at;
				err = 0;
			}
			else {
				i = j + 1;
				continue;
			}
		}

		if (!err)
			err = mbuf_write_u8(out, '[');
		++i;
	}

	return err;
}


/* The record's payload with its placeholders replaced, into out (which
 * it rewinds first). */
static inline int sipscript_expand(struct mbuf *out, const struct pl *in,
				   const struct sipscript_ctx *c)
{
	const uint8_t *sep;
	size_t len = 0;
	int err;

	mbuf_rewind(out);
	err = sipscript_pass(out, in, c, 0);
	if (err)
		return err;

	sep = out->end >= 4 ? memmem(out->buf, out->end, "\r\n\r\n", 4) :
		NULL;
	if (!sep || !memmem(in->p, in->l, "[len]", 5))
		return 0;

	len = out->end - (size_t)(sep + 4 - out->buf);

	mbuf_rewind(out);

	return sipscript_pass(out, in, c, len);
}

#endif
