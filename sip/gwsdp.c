/**
 * @file gwsdp.c  Gateway mode's media: our SDP answer to the caller's
 *                offer, the stream to its address, and the callee's SDP
 *                re-offered as the next version of ours
 *
 * The answer points at the RTP streamer and names only the first offered
 * PCMU or PCMA; it is sendonly, since we only play until the callee's SDP
 * replaces ours.  A re-offer keeps our "o=" line and increments its
 * version (RFC 3264 section 8).  The procedure that uses these is in
 * mode_gw.c.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

struct gwmedia {
	struct stream *stream;
	struct sdp_session *sdp;
	struct sdp_media *m;
	struct sa dst;            /* the caller's offered RTP address */
	uint8_t pt;               /* the codec we stream */
	char *o_head;             /* our "o=" up to the sess-version ... */
	char *o_tail;             /* ... and after it, for re-offers */
	uint64_t version;         /* its sess-version */
};


static void destructor(void *arg)
{
	struct gwmedia *g = arg;

	mem_deref(g->stream);
	mem_deref(g->m);
	mem_deref(g->sdp);
	mem_deref(g->o_head);
	mem_deref(g->o_tail);
}


/* An SDP session with one audio line offering only the codec pt (or
 * both, for the first pass), decoding the caller's offer into it. */
static int session_decode(struct sdp_session **sessp, struct sdp_media **mp,
			  const struct sa *laddr, int only_pt,
			  const struct pl *offer)
{
	struct sdp_session *sess = NULL;
	struct sdp_media *m = NULL;
	int err;

	err = sdp_session_alloc(&sess, laddr);
	if (err)
		goto out;

	err = sdp_media_add(&m, sess, "audio", sa_port(laddr), "RTP/AVP");
	if (err)
		goto out;

	if (only_pt != MEDIA_PT_PCMA)
		err |= sdp_format_add(NULL, m, false, "0", "PCMU", MEDIA_SRATE,
				      1, NULL, NULL, NULL, false, NULL);
	if (only_pt != MEDIA_PT_PCMU)
		err |= sdp_format_add(NULL, m, false, "8", "PCMA", MEDIA_SRATE,
				      1, NULL, NULL, NULL, false, NULL);
	if (err)
		goto out;

	/* The offer's last line may lack its CRLF (a lone body, or the
	 * last line of a multipart part). */
	err = body_sdp_decode(sess, offer, true);

 out:
	if (err) {
		mem_deref(m);
		mem_deref(sess);
	}
	else {
		*sessp = sess;
		*mp = m;
	}

	return err;
}


/*
 * Prepares gateway mode for a caller's offer: ENOENT when the offer has no
 * audio line we can stream to (no PCMU/PCMA, port 0, no address), so the
 * caller falls back to another mode and never gets a broken SDP.
 */
int modegw_alloc(struct gwmedia **gp, struct streamer *st,
		 const struct pl *offer)
{
	struct sdp_session *probe = NULL;
	struct sdp_media *pm = NULL;
	const struct sdp_format *fmt;
	struct gwmedia *g;
	struct sa any;
	int err;

	if (!gp || !st || !offer)
		return EINVAL;
	if (!pl_isset(offer))
		return ENOENT;

	/* First pass: which offered codec comes first among ours. */
	sa_set_str(&any, "127.0.0.1", 9);
	err = session_decode(&probe, &pm, &any, -1, offer);
	if (err)
		return err == ENOMEM ? err : ENOENT;

	fmt = sdp_media_rformat(pm, NULL);
	if (!fmt || !sdp_media_rport(pm) ||
	    !sa_isset(sdp_media_raddr(pm), SA_ADDR) ||
	    !(sdp_media_rdir(pm) & SDP_SENDONLY)) {
		mem_deref(pm);
		mem_deref(probe);
		return ENOENT;
	}

	g = mem_zalloc(sizeof(*g), destructor);
	if (!g) {
		err = ENOMEM;
		goto out;
	}

	g->pt = (uint8_t)fmt->pt;

	err = stream_alloc(&g->stream, st);
	if (err)
		goto out;

	/* Second pass: the answer names only the codec we send. */
	err = session_decode(&g->sdp, &g->m, stream_laddr(g->stream), g->pt,
			     offer);
	if (err)
		goto out;

	/* We only send until the callee's SDP replaces ours. */
	sdp_media_set_ldir(g->m, SDP_SENDONLY);
	g->dst = *sdp_media_raddr(g->m);

 out:
	mem_deref(pm);
	mem_deref(probe);
	if (err)
		mem_deref(g);
	else
		*gp = g;

	return err;
}


/* The audio address and first PCMU/PCMA payload type an SDP names; for
 * telling whether an answer moved the media. */
int modegw_peek(const struct pl *sdp, struct sa *addr, int *pt)
{
	struct sdp_session *sess = NULL;
	struct sdp_media *m = NULL;
	const struct sdp_format *fmt;
	struct sa any;
	int err;

	if (!sdp || !addr || !pt)
		return EINVAL;

	sa_set_str(&any, "127.0.0.1", 9);
	err = session_decode(&sess, &m, &any, -1, sdp);
	if (err)
		return err;

	fmt = sdp_media_rformat(m, NULL);
	*addr = *sdp_media_raddr(m);
	*pt = fmt ? fmt->pt : -1;

	mem_deref(m);
	mem_deref(sess);

	return 0;
}


static bool is_eol(char c)
{
	return c == '\r' || c == '\n';
}


/* "o=" of an SDP: the line's text after "o=", up to the line end.  A line
 * ends at a CR or a LF, as libre's sdp_decode() reads it, so that a
 * re-offer replaces the very line the decoder saw as the origin and no
 * line after it (a CR alone ends a line there too). */
static bool origin_find(const struct pl *sdp, struct pl *o)
{
	const char *p = sdp->p, *end = sdp->p + sdp->l;

	while (p < end) {
		const char *le = p;

		while (le < end && !is_eol(*le))
			++le;

		if (le - p >= 2 && p[0] == 'o' && p[1] == '=') {
			o->p = p + 2;
			o->l = (size_t)(le - p - 2);
			return true;
		}

		p = le;
		while (p < end && is_eol(*p))
			++p;
	}

	return false;
}


/* Splits "user id version nettype addrtype addr" at the version. */
static int origin_split(const struct pl *o, struct pl *head, uint64_t *ver,
			struct pl *tail)
{
	struct pl f = *o;
	size_t sp = 0;
	unsigned field = 0;
	const char *vstart = NULL;
	size_t i;

	for (i = 0; i < f.l; i++) {
		if (f.p[i] != ' ')
			continue;
		++field;
		if (field == 2)
			vstart = f.p + i + 1;
		else if (field == 3) {
			sp = i;
			break;
		}
	}

	if (field < 3 || !vstart)
		return EBADMSG;

	head->p = o->p;
	head->l = (size_t)(vstart - o->p);
	tail->p = o->p + sp;
	tail->l = o->l - sp;

	{
		struct pl v;

		v.p = vstart;
		v.l = (size_t)(o->p + sp - vstart);
		if (!v.l || v.l > 19 || !sipsrv_digits(&v, 19))
			return EBADMSG;
		*ver = pl_u64(&v);
	}

	return 0;
}


/* The address our answer names, c= and o=: the stream's own
 * (stream_laddr: the advertised address, the bound one, or for sockets
 * on 0.0.0.0 the first SIP transport's) unless the caller's procedure
 * names the one its INVITE arrived on; before modegw_answer() keeps the
 * o= for the re-offers. */
void modegw_sdp_addr(struct gwmedia *g, const struct sa *ip)
{
	struct sa la;

	if (!g || !ip || !sa_isset(ip, SA_ADDR))
		return;

	sa_cpy(&la, ip);
	sa_set_port(&la, sa_port(stream_laddr(g->stream)));
	sdp_session_set_laddr(g->sdp, &la);
}


int modegw_answer(struct gwmedia *g, struct mbuf **mbp)
{
	struct mbuf *mb = NULL;
	struct pl sdp, o, head, tail;
	uint64_t ver;
	int err;

	if (!g || !mbp)
		return EINVAL;

	err = sdp_encode(&mb, g->sdp, false);
	if (err)
		return err;

	/* Keep our origin for the re-offer of the callee's SDP. */
	pl_set_mbuf(&sdp, mb);
	if (origin_find(&sdp, &o) && !origin_split(&o, &head, &ver, &tail)) {
		g->o_head = mem_deref(g->o_head);
		g->o_tail = mem_deref(g->o_tail);
		err  = pl_strdup(&g->o_head, &head);
		err |= pl_strdup(&g->o_tail, &tail);
		g->version = ver;
	}
	else {
		err = EBADMSG;
	}

	if (err)
		mem_deref(mb);
	else
		*mbp = mb;

	return err;
}


/*
 * The SDP the caller got last: when it has our origin, the next re-offer
 * is one version up from it (RFC 3264 section 8).  A re-offer made but
 * never sent (the caller's leg was busy) so takes no number.
 */
void modegw_version_from(struct gwmedia *g, const struct pl *last)
{
	struct pl o, head, tail;
	uint64_t ver;

	if (!g || !last || !g->o_head || !g->o_tail)
		return;

	if (!origin_find(last, &o) || origin_split(&o, &head, &ver, &tail))
		return;

	if (pl_strcmp(&head, g->o_head) || pl_strcmp(&tail, g->o_tail))
		return;

	g->version = ver;
}


/*
 * The callee's SDP as our next offer to the caller: its media, with our
 * "o=" line one version up (RFC 3264 section 8: a new offer in the same
 * session keeps the origin and increments the version).
 */
int modegw_reoffer(struct gwmedia *g, const struct pl *callee_sdp,
		   struct mbuf **mbp)
{
	struct pl o;
	struct mbuf *mb;
	int err;

	if (!g || !callee_sdp || !mbp || !g->o_head || !g->o_tail)
		return EINVAL;

	if (!origin_find(callee_sdp, &o))
		return EBADMSG;

	mb = mbuf_alloc(callee_sdp->l + 64);
	if (!mb)
		return ENOMEM;

	++g->version;

	err  = mbuf_write_mem(mb, (const uint8_t *)callee_sdp->p,
			      (size_t)(o.p - callee_sdp->p));
	err |= mbuf_printf(mb, "%s%llu%s", g->o_head,
			   (unsigned long long)g->version, g->o_tail);
	err |= mbuf_write_mem(mb, (const uint8_t *)(o.p + o.l),
			      (size_t)(callee_sdp->p + callee_sdp->l -
				       (o.p + o.l)));
	if (err) {
		mem_deref(mb);
		return err;
	}

	mb->pos = 0;
	*mbp = mb;

	return 0;
}


int modegw_start(struct gwmedia *g, struct media *m, struct callrec *cr)
{
	int err;

	if (!g)
		return EINVAL;

	if (!m) {
		evlog_event(cr, "rtp-not-started", "\"dir\":\"bt\","
			    "\"why\":\"resource has no audio\"");
		return ENOENT;
	}

	err = stream_start(g->stream, m, g->pt, &g->dst);
	if (err) {
		evlog_event(cr, "rtp-not-started", "\"dir\":\"bt\","
			    "\"why\":\"%m\"", err);
		return err;
	}

	evlog_event(cr, "rtp-started", "\"dir\":\"bt\",\"dst\":\"%J\","
		    "\"src\":\"%J\",\"pt\":%u", &g->dst,
		    stream_laddr(g->stream), g->pt);

	return 0;
}


/* The stream stops for good (the callee's final response, the call's
 * end) and its port pair goes back to the range: the re-offers need only
 * our o= line, and a call may talk for hours on a pair held for nothing
 * (the next plain caller would find no pair for its ringback). */
void modegw_stop(struct gwmedia *g, struct callrec *cr, const char *why)
{
	if (!g)
		return;

	cmrstream_stop(g->stream, cr, "bt", why);
	g->stream = mem_deref(g->stream);
}


/* Clause 1.1.1.10: "P-Early-Media: supported" in the call initiation. */
bool modegw_caller_supports(const struct sip_msg *invite)
{
	return sip_msg_hdr_has_value(invite, SIP_HDR_P_EARLY_MEDIA,
				     "supported");
}
