/**
 * @file mode_as.c  Application server mode: early-session SDP and the RTP
 *                  stream of one direction of one call
 *
 * OMA CMR clause 1.1.1.7.  For CMRBT the CMR Server inserts an
 * early-session SDP offer into the provisional response to the calling
 * party and, on the calling party's early-session answer (in the PRACK),
 * has the CMR Resource Server play the resource until the final response.
 * For CMRT it inserts the offer into the PRACK toward the called party and
 * plays on the answer in the 200 (PRACK) until the call is answered.  RFC
 * 3959 gives the disposition; the early session has an offer/answer state
 * of its own (RFC 3264), independent of the session's.
 */
#include <string.h>
#include <re.h>
#include "sip/sip_int.h"

struct asmedia {
	struct stream *stream;
	struct sdp_session *sdp;
	struct sdp_media *m;
	enum cmr_dir dir;
	bool offered;
	bool answered;
};


static void destructor(void *arg)
{
	struct asmedia *a = arg;

	mem_deref(a->stream);
	mem_deref(a->m);
	mem_deref(a->sdp);
}


static const char *dirname(enum cmr_dir dir)
{
	return dir == DIR_BT ? "bt" : "rt";
}


int modeas_alloc(struct asmedia **ap, struct streamer *st, enum cmr_dir dir)
{
	struct asmedia *a;
	const struct sa *laddr;
	int err;

	if (!ap || !st)
		return EINVAL;

	a = mem_zalloc(sizeof(*a), destructor);
	if (!a)
		return ENOMEM;

	a->dir = dir;

	err = stream_alloc(&a->stream, st);
	if (err)
		goto out;

	laddr = stream_laddr(a->stream);

	err = sdp_session_alloc(&a->sdp, laddr);
	if (err)
		goto out;

	err = sdp_media_add(&a->m, a->sdp, "audio", sa_port(laddr),
			    "RTP/AVP");
	if (err)
		goto out;

	/* We only send: the tone flows toward the client. */
	sdp_media_set_ldir(a->m, SDP_SENDONLY);

	err  = sdp_format_add(NULL, a->m, false, "0", "PCMU", MEDIA_SRATE, 1,
			      NULL, NULL, NULL, false, NULL);
	err |= sdp_format_add(NULL, a->m, false, "8", "PCMA", MEDIA_SRATE, 1,
			      NULL, NULL, NULL, false, NULL);
	if (err)
		goto out;

 out:
	if (err)
		mem_deref(a);
	else
		*ap = a;

	return err;
}


/* The address our early-session SDP names, c= and o=: the stream's own
 * (stream_laddr: the advertised address, the bound one, or for sockets
 * on 0.0.0.0 the first SIP transport's) unless the B2BUA names the one
 * that faces this peer, the address the SIP request arrived on. */
void modeas_sdp_addr(struct asmedia *a, const struct sa *ip)
{
	struct sa la;

	if (!a || !ip || !sa_isset(ip, SA_ADDR))
		return;

	sa_cpy(&la, ip);
	sa_set_port(&la, sa_port(stream_laddr(a->stream)));
	sdp_session_set_laddr(a->sdp, &la);
}


int modeas_offer(struct asmedia *a, struct mbuf **mbp)
{
	int err;

	if (!a || !mbp)
		return EINVAL;

	err = sdp_encode(mbp, a->sdp, true);
	if (!err)
		a->offered = true;

	return err;
}


bool modeas_offered(const struct asmedia *a)
{
	return a && a->offered;
}


/*
 * The client's early-session answer: start the stream toward the address
 * and the first codec it accepted.  ENOENT when it accepted nothing we can
 * send (port 0, no common codec, or a direction without our sending).
 */
int modeas_answer(struct asmedia *a, const struct pl *sdp, struct media *m,
		  struct callrec *cr)
{
	const struct sdp_format *fmt;
	const struct sa *dst;
	int err;

	if (!a || !sdp || !pl_isset(sdp))
		return EINVAL;
	if (!a->offered || a->answered)
		return EPROTO;

	/* A multipart's last SDP line often has no CRLF of its own. */
	err = body_sdp_decode(a->sdp, sdp, false);
	if (err == ENOMEM)
		return err;
	if (err) {
		evlog_event(cr, "early-session-answer", "\"dir\":\"%s\","
			    "\"usable\":false,\"why\":\"bad SDP\"",
			    dirname(a->dir));
		return EBADMSG;
	}

	a->answered = true;

	fmt = sdp_media_rformat(a->m, NULL);
	dst = sdp_media_raddr(a->m);
	if (!fmt || !sdp_media_rport(a->m) || !sa_isset(dst, SA_ALL) ||
	    !(sdp_media_dir(a->m) & SDP_SENDONLY)) {
		evlog_event(cr, "early-session-answer", "\"dir\":\"%s\","
			    "\"usable\":false,\"why\":\"%s\"",
			    dirname(a->dir), !fmt ? "no common codec" :
			    !sdp_media_rport(a->m) ? "port 0" :
			    "direction without sending");
		return ENOENT;
	}

	evlog_event(cr, "early-session-answer", "\"dir\":\"%s\","
		    "\"usable\":true,\"dst\":\"%J\",\"pt\":%d",
		    dirname(a->dir), dst, fmt->pt);

	if (!m) {
		evlog_event(cr, "rtp-not-started", "\"dir\":\"%s\","
			    "\"why\":\"resource has no audio\"",
			    dirname(a->dir));
		return ENOENT;
	}

	err = stream_start(a->stream, m, (uint8_t)fmt->pt, dst);
	if (err) {
		evlog_event(cr, "rtp-not-started", "\"dir\":\"%s\","
			    "\"why\":\"%m\"", dirname(a->dir), err);
		return err;
	}

	evlog_event(cr, "rtp-started", "\"dir\":\"%s\",\"dst\":\"%J\","
		    "\"src\":\"%J\",\"pt\":%d", dirname(a->dir), dst,
		    stream_laddr(a->stream), fmt->pt);

	return 0;
}


/* Stops a running CMR stream and says so, with what it sent: the one
 * "rtp-stopped" event of both RTP modes. */
void cmrstream_stop(struct stream *s, struct callrec *cr, const char *dir,
		    const char *why)
{
	struct stream_stats st;

	if (!stream_running(s))
		return;

	stream_stop(s);
	stream_stats_get(s, &st);

	evlog_event(cr, "rtp-stopped", "\"dir\":\"%s\",\"why\":%H,"
		    "\"packets\":%u,\"octets\":%u,\"skipped\":%u", dir,
		    jsonw_str, why, st.packets, st.octets, st.skipped);
}


void modeas_stop(struct asmedia *a, struct callrec *cr, const char *why)
{
	if (a)
		cmrstream_stop(a->stream, cr, dirname(a->dir), why);
}


/* Clause 1.1.1.7, CMRBT: "Early-Session" and "100rel" in Supported. */
bool modeas_caller_supports(const struct sip_msg *invite)
{
	return sip_msg_hdr_has_value(invite, SIP_HDR_SUPPORTED,
				     "early-session") &&
		sip_msg_hdr_has_value(invite, SIP_HDR_SUPPORTED, "100rel");
}


/* Clause 1.1.1.7, CMRT: "Early-Session" in the Supported header of the
 * (reliable) provisional response. */
bool modeas_callee_supports(const struct sip_msg *rsp)
{
	return sip_msg_hdr_has_value(rsp, SIP_HDR_SUPPORTED,
				     "early-session");
}


/* ---- the procedure, CMRBT (clause 1.1.1.7, with 1.1.1.8) --------------- */

static int bt_start(struct call *call)
{
	struct sa ip;
	int err;

	err = modeas_alloc(&call->as_bt, call->srv->conf.streamer, DIR_BT);
	if (err) {
		call->bt.mode = MODE_HTTP;
		call->bt.why = "no RTP port free: http";
		return err;
	}

	/* The offer names the address the caller's INVITE arrived on, or
	 * the advertised one (never the streamer's 0.0.0.0). */
	sipsrv_advertised(call->srv, &call->msg->dst, &ip);
	modeas_sdp_addr(call->as_bt, &ip);

	return 0;
}


/* The first provisional response to the caller carries the early-session
 * offer and is reliable, with "Require: 100rel, early-session". */
static void bt_prov_in(struct call *call, const struct sip_msg *msg,
		       struct prov_out *po)
{
	int err;
	(void)msg;

	po->reliable = true;
	if (modeas_offered(call->as_bt))
		return;

	err = modeas_offer(call->as_bt, &po->mb);
	if (err) {
		LOGW(SUB_SIP, "%s: early-session offer: %m",
		     evlog_call_id(call->cr), err);
		return;
	}

	pl_set_mbuf(&po->early, po->mb);
}


static void bt_prov_sent(struct call *call, const struct sip_msg *msg,
			 const struct prov_out *po)
{
	if (!pl_isset(&po->early))
		return;

	evlog_event(call->cr, "cmr-inserted", "\"dir\":\"bt\","
		    "\"mode\":\"as\",\"resource\":%H,\"in\":\"%u\","
		    "\"rseq\":%u", jsonw_str, call->bt.resid, msg->scode,
		    call->a->rseq);
}


/* The caller's PRACK carries its early-session answer: RTP starts toward
 * it at once, until the final response. */
static void bt_prack_in(struct call *call, const struct sip_msg *prack)
{
	struct body_view bv;

	if (body_parse(&bv, prack) || !pl_isset(&bv.early) || call->a->final)
		return;

	(void)modeas_answer(call->as_bt, &bv.early, call_media(call, DIR_BT),
			    call->cr);
}


static void bt_stop(struct call *call, const char *why)
{
	modeas_stop(call->as_bt, call->cr, why);
}


const struct mode_ops modeas_bt = {
	.name      = "as",
	.start     = bt_start,
	.prov_in   = bt_prov_in,
	.prov_sent = bt_prov_sent,
	.prack_in  = bt_prack_in,
	.stop      = bt_stop,
};


/* ---- the procedure, CMRT (clause 1.1.1.7, with 1.1.1.8) ---------------- */

/* The media is prepared only when a callee asks for it (rt_callee_prov):
 * few do, and a port pair per call held for nothing halves the calls a
 * port range serves. */
static int rt_start(struct call *call)
{
	return call->srv->conf.streamer ? 0 : ENOENT;
}


/* A callee whose reliable 18x supports early-session gets our offer in
 * the PRACK, with "Require: early-session"; the first such fork only.
 * Without a free port pair the PRACK goes without an offer. */
static void rt_callee_prov(struct call *call, struct leg *fork,
			   const struct sip_msg *msg, struct prack_out *pk)
{
	int err;

	if (call->rt_leg || !call->rt.as_possible || !fork ||
	    !modeas_callee_supports(msg))
		return;

	if (!call->as_rt &&
	    modeas_alloc(&call->as_rt, call->srv->conf.streamer, DIR_RT))
		return;

	err = modeas_offer(call->as_rt, &pk->mb);
	if (err)
		return;

	pl_set_mbuf(&call->rt_offer, pk->mb);
	pk->early = &call->rt_offer;
	pk->hdrs = "Require: early-session\r\n";
	call->rt_leg = fork;
	call->rt.mode = MODE_AS;
	call->rt.why = "auto: the callee's reliable 18x supports "
		"early-session";
	evlog_call_modes(call->cr, NULL, "as");
	evlog_event(call->cr, "mode", "\"dir\":\"rt\",\"mode\":\"as\","
		    "\"why\":%H,\"resource\":%H", jsonw_str, call->rt.why,
		    jsonw_str, call->rt.resid);
}


/* The callee's 200 (PRACK) holds the early-session answer, which stays
 * with us: RTP to the callee until it answers. */
static void rt_callee_prack(struct call *call, struct leg *fork,
			    const struct sip_msg *msg)
{
	struct body_view bv;

	if (fork != call->rt_leg || call->wleg)
		return;

	if (body_parse(&bv, msg) || !pl_isset(&bv.early)) {
		evlog_event(call->cr, "early-session-answer",
			    "\"dir\":\"rt\",\"usable\":false,"
			    "\"why\":\"no early-session answer in the 200 "
			    "(PRACK)\"");
		return;
	}

	(void)modeas_answer(call->as_rt, &bv.early, call_media(call, DIR_RT),
			    call->cr);
}


static void rt_stop(struct call *call, const char *why)
{
	modeas_stop(call->as_rt, call->cr, why);
}


const struct mode_ops modeas_rt = {
	.name         = "as",
	.start        = rt_start,
	.callee_prov  = rt_callee_prov,
	.callee_prack = rt_callee_prack,
	.stop         = rt_stop,
};
