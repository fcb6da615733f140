"""@file sipseeds.py  The seeds of the SIP harness (fuzz_sip.c), for
make-corpus.

Each seed is a script of the caller's and the callee's SIP messages in the
format of tests/fuzz/sipscript.h: a direction line (@A caller over UDP,
@T caller over TCP, @B callee over UDP) and a message with [placeholders]
that the harness fills in for each run.  The seeds walk the server through
every delivery mode (the test profile of fuzz_sip.c has a subscriber per
mode), early dialogs with reliable and plain provisional responses,
PRACK, UPDATE, re-INVITE, CANCEL and BYE from either side, the registrar,
OPTIONS and malformed requests.  seeds() returns them by name, as bytes.
"""
SDP_A = ("v=0\n"
         "o=alice 1 1 IN IP4 127.0.0.1\n"
         "s=-\n"
         "c=IN IP4 127.0.0.1\n"
         "t=0 0\n"
         "m=audio [media_port] RTP/AVP 0 8 101\n"
         "a=rtpmap:0 PCMU/8000\n"
         "a=rtpmap:8 PCMA/8000\n"
         "a=rtpmap:101 telephone-event/8000\n"
         "a=sendrecv\n")
SDP_A_HOLD = SDP_A.replace("1 1 IN", "1 2 IN").replace("sendrecv",
                                                        "sendonly")
SDP_B = ("v=0\n"
         "o=bob 7 1 IN IP4 127.0.0.1\n"
         "s=-\n"
         "c=IN IP4 127.0.0.1\n"
         "t=0 0\n"
         "m=audio [media_port] RTP/AVP 0\n"
         "a=rtpmap:0 PCMU/8000\n"
         "a=sendrecv\n")
SDP_B2 = SDP_B.replace("7 1 IN", "7 2 IN").replace("sendrecv", "recvonly")
# The answer to the server's early-session offer (RFC 3959).
SDP_EARLY = ("v=0\n"
             "o=x 3 1 IN IP4 127.0.0.1\n"
             "s=-\n"
             "c=IN IP4 127.0.0.1\n"
             "t=0 0\n"
             "m=audio [media_port] RTP/AVP 0\n"
             "a=recvonly\n")


def crlf(text):
    return text.replace("\n", "\r\n")


def body_hdrs(sdp, disp=None):
    if sdp is None:
        return "Content-Length: 0\n\n"
    h = "Content-Type: application/sdp\n"
    if disp:
        h += "Content-Disposition: %s\n" % disp
    return h + "Content-Length: [len]\n\n" + sdp


class Script:
    """A seed: records in order, and the branch of named ones."""

    def __init__(self):
        self.recs = []
        self.names = {}

    def add(self, direction, text, name=None):
        if name:
            self.names[name] = len(self.recs)
        self.recs.append((direction, text))

    def branch(self, name):
        """[branch-N] of an earlier record, seen from the next one."""
        back = len(self.recs) - self.names[name]
        assert 1 <= back <= 9, back
        return "[branch-%d]" % back

    def text(self):
        return "".join("@%s\n%s" % (d, crlf(t)) for d, t in self.recs)

    # ---- the caller ----------------------------------------------------

    def invite(self, user, extra="", sdp=SDP_A, tcp=False, caller="alice",
               cseq=1, call_id="[call_id]"):
        tp = ";transport=tcp" if tcp else ""
        self.add("T" if tcp else "A",
                 "INVITE sip:%s@[server]%s SIP/2.0\n"
                 "Via: SIP/2.0/[transport] [local];branch=[branch];rport\n"
                 "Max-Forwards: 70\n"
                 "From: \"Alice\" <sip:%s@[server]>;tag=[tag]\n"
                 "To: <sip:%s@[server]>\n"
                 "Call-ID: %s\n"
                 "CSeq: %d INVITE\n"
                 "Contact: <sip:%s@[local]%s>\n"
                 "Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE\n"
                 "%s%s" % (user, tp, caller, user, call_id, cseq, caller,
                           tp, extra, body_hdrs(sdp)), name="invite")

    def caller_req(self, method, user, cseq, extra="", sdp=None,
                   disp=None, tcp=False, branch="[branch]",
                   ruri="[peer_contact]", to_tag=";tag=[peer_tag]",
                   cseq_method=None):
        self.add("T" if tcp else "A",
                 "%s %s SIP/2.0\n"
                 "Via: SIP/2.0/[transport] [local];branch=%s;rport\n"
                 "Max-Forwards: 70\n"
                 "From: \"Alice\" <sip:alice@[server]>;tag=[tag]\n"
                 "To: <sip:%s@[server]>%s\n"
                 "Call-ID: [call_id]\n"
                 "CSeq: %d %s\n"
                 "Contact: <sip:alice@[local]>\n"
                 "%s%s" % (method, ruri, branch, user, to_tag, cseq,
                           cseq_method or method, extra,
                           body_hdrs(sdp, disp)))

    def prack(self, user, cseq, extra="", sdp=None, disp=None):
        self.caller_req("PRACK", user, cseq,
                        "RAck: [rseq] 1 INVITE\n" + extra, sdp, disp)

    def ack(self, user, cseq=1, sdp=None, tcp=False):
        self.caller_req("ACK", user, cseq, sdp=sdp, tcp=tcp)

    def cancel(self, user):
        self.caller_req("CANCEL", user, 1, branch=self.branch("invite"),
                        ruri="sip:%s@[server]" % user, to_tag="")

    def ack_error(self, user):
        """The ACK of a non-2xx final: in the INVITE's transaction."""
        self.caller_req("ACK", user, 1, branch=self.branch("invite"),
                        ruri="sip:%s@[server]" % user)

    # ---- either side answers what it received last ----------------------

    def reply(self, side, code, reason, extra="", sdp=None, disp=None,
              tag=True, of="last"):
        self.add(side,
                 "SIP/2.0 %d %s\n"
                 "[%s_Via:]\n"
                 "[%s_From:]\n"
                 "[%s_To:]%s\n"
                 "[%s_Call-ID:]\n"
                 "[%s_CSeq:]\n"
                 "Contact: <sip:bob@[local]>\n"
                 "%s%s" % (code, reason, of, of, of,
                           ";tag=[tag]" if tag else "", of, of, extra,
                           body_hdrs(sdp, disp)))

    def callee_req(self, method, cseq, extra="", sdp=None):
        """A request of the callee in the dialog of the server's INVITE."""
        self.add("B",
                 "%s [peer_contact] SIP/2.0\n"
                 "Via: SIP/2.0/UDP [local];branch=[branch];rport\n"
                 "Max-Forwards: 70\n"
                 "From: <[own_uri]>;tag=[tag]\n"
                 "To: <[peer_uri]>;tag=[peer_tag]\n"
                 "Call-ID: [peer_call_id]\n"
                 "CSeq: %d %s\n"
                 "Contact: <sip:bob@[local]>\n"
                 "%s%s" % (method, cseq, method, extra, body_hdrs(sdp)))


REL = "Require: 100rel\nRSeq: 1\n"
SUP_AS = "Supported: 100rel, early-session\n"
SUP_GW = "Supported: 100rel\nP-Early-Media: supported\n"


def scripts():
    out = {}

    # HTTP mode: 180 and 200 plain, ACK, the caller's BYE.
    s = Script()
    s.invite("http")
    s.reply("B", 180, "Ringing")
    s.reply("B", 200, "OK", sdp=SDP_B)
    s.ack("http")
    s.caller_req("BYE", "http", 2)
    s.reply("B", 200, "OK", tag=False)
    out["http_answer_caller_bye"] = s

    # The same over TCP, a 183 with SDP, the callee's BYE.
    s = Script()
    s.invite("http", tcp=True)
    s.reply("B", 183, "Session Progress", sdp=SDP_B)
    s.reply("B", 200, "OK", sdp=SDP_B)
    s.ack("http", tcp=True)
    s.callee_req("BYE", 1)
    s.reply("T", 200, "OK", tag=False)
    out["http_tcp_183_callee_bye"] = s

    # Busy.
    s = Script()
    s.invite("auto")
    s.reply("B", 180, "Ringing")
    s.reply("B", 486, "Busy Here")
    s.ack_error("auto")
    out["auto_busy"] = s

    # The caller cancels while the callee rings.
    s = Script()
    s.invite("http")
    s.reply("B", 180, "Ringing")
    s.cancel("http")
    s.reply("B", 200, "OK", tag=False)
    s.reply("B", 487, "Request Terminated", of="invite")
    s.ack_error("http")
    out["http_cancel"] = s

    # Reliable 183 with the answer from the callee (caller requires
    # 100rel): PRACK on both sides, 200, ACK, BYE.
    s = Script()
    s.invite("off", "Supported: 100rel\n")
    s.reply("B", 183, "Session Progress", REL, sdp=SDP_B)
    s.reply("B", 200, "OK", tag=False)          # to the server's PRACK
    s.prack("off", 2)
    s.reply("B", 200, "OK", of="invite")
    s.ack("off")
    s.caller_req("BYE", "off", 3)
    s.reply("B", 200, "OK", tag=False)
    out["off_rel183_prack"] = s

    # Application server mode, CMRBT: the early-session offer in the
    # reliable 180, the caller's answer in its PRACK.
    s = Script()
    s.invite("as", SUP_AS)
    s.reply("B", 180, "Ringing")
    s.prack("as", 2, sdp=SDP_EARLY, disp="early-session")
    s.reply("B", 200, "OK", sdp=SDP_B)
    s.ack("as")
    s.callee_req("BYE", 1)
    s.reply("A", 200, "OK", tag=False)
    out["as_bt_prack_answer"] = s

    # Application server mode, CMRT: the callee's reliable 180 supports
    # early-session; the server's PRACK offers, the callee answers.
    s = Script()
    s.invite("as", SUP_AS)
    s.reply("B", 180, "Ringing", REL + "Supported: early-session\n")
    s.reply("B", 200, "OK", tag=False, sdp=SDP_EARLY, disp="early-session")
    s.prack("as", 2, sdp=SDP_EARLY, disp="early-session")
    s.reply("B", 200, "OK", sdp=SDP_B, of="invite")
    s.ack("as")
    s.caller_req("BYE", "as", 3)
    s.reply("B", 200, "OK", tag=False)
    out["as_rt_prack_offer"] = s

    # Auto mode picks application server mode; the callee's 183 with
    # SDP makes the caller's 18x multipart; the caller cancels.
    s = Script()
    s.invite("auto", SUP_AS)
    s.reply("B", 183, "Session Progress", REL, sdp=SDP_B)
    s.reply("B", 200, "OK", tag=False)
    s.prack("auto", 2, sdp=SDP_EARLY, disp="early-session")
    s.cancel("auto")
    s.reply("B", 200, "OK", tag=False)
    s.reply("B", 487, "Request Terminated", of="invite")
    out["auto_as_multipart_cancel"] = s

    # Gateway mode, a caller that allows UPDATE: the server's answer in
    # a reliable 180, PRACK, the callee's 200, the server's UPDATE to
    # the caller, then its 200 and the ACK.
    s = Script()
    s.invite("gw", SUP_GW)
    s.reply("B", 180, "Ringing")
    s.prack("gw", 2)
    s.reply("B", 200, "OK", sdp=SDP_B)
    s.reply("A", 200, "OK", sdp=SDP_A, tag=False)     # to the UPDATE
    s.ack("gw")
    s.caller_req("BYE", "gw", 3)
    s.reply("B", 200, "OK", tag=False)
    out["gw_update"] = s

    # Gateway mode without UPDATE: the re-INVITE after the ACK.
    s = Script()
    s.invite("gw", SUP_GW.replace("Supported", "Require"))
    s.recs[-1] = (s.recs[-1][0], s.recs[-1][1].replace(
        "PRACK, UPDATE", "PRACK"))
    s.reply("B", 183, "Session Progress", REL, sdp=SDP_B)
    s.reply("B", 200, "OK", tag=False)
    s.prack("gw", 2)
    s.reply("B", 200, "OK", of="invite")
    s.ack("gw")
    s.reply("A", 200, "OK", sdp=SDP_A, tag=False)     # to the re-INVITE
    s.callee_req("BYE", 1)
    s.reply("A", 200, "OK", tag=False)
    out["gw_reinvite"] = s

    # Gateway mode, the caller cancels while its stream plays.
    s = Script()
    s.invite("gw", SUP_GW)
    s.reply("B", 180, "Ringing")
    s.prack("gw", 2)
    s.cancel("gw")
    s.reply("B", 200, "OK", tag=False)
    s.reply("B", 487, "Request Terminated", of="invite")
    out["gw_cancel"] = s

    # Late offer: no SDP in the INVITE, the callee offers in its 200,
    # the caller answers in the ACK.
    s = Script()
    s.invite("http", sdp=None)
    s.reply("B", 180, "Ringing")
    s.reply("B", 200, "OK", sdp=SDP_B)
    s.ack("http", sdp=SDP_A)
    s.caller_req("BYE", "http", 2)
    s.reply("B", 200, "OK", tag=False)
    out["late_offer_ack"] = s

    # Late offer in a reliable 183: the answer travels in the PRACKs.
    s = Script()
    s.invite("off", "Supported: 100rel\n", sdp=None)
    s.reply("B", 183, "Session Progress", REL, sdp=SDP_B)
    s.prack("off", 2, sdp=SDP_A)
    s.reply("B", 200, "OK", tag=False)
    s.reply("B", 200, "OK", of="invite")
    s.ack("off")
    out["late_offer_prack"] = s

    # The caller's re-INVITE (hold) relayed to the callee.
    s = Script()
    s.invite("off")
    s.reply("B", 200, "OK", sdp=SDP_B)
    s.ack("off")
    s.caller_req("INVITE", "off", 2, sdp=SDP_A_HOLD)
    s.reply("B", 200, "OK", sdp=SDP_B2, tag=False)
    s.ack("off", 2)
    s.caller_req("BYE", "off", 3)
    s.reply("B", 200, "OK", tag=False)
    out["reinvite_caller_hold"] = s

    # The callee's UPDATE with a new offer, then a session refresh
    # UPDATE without SDP, an INFO relayed, and the callee's BYE.
    s = Script()
    s.invite("off")
    s.reply("B", 200, "OK", sdp=SDP_B)
    s.ack("off")
    s.callee_req("UPDATE", 1, sdp=SDP_B2)
    s.reply("A", 200, "OK", sdp=SDP_A, tag=False)
    s.callee_req("UPDATE", 2, "Session-Expires: 1800;refresher=uac\n")
    s.callee_req("INFO", 3, "Content-Type: application/dtmf-relay\n")
    s.reply("A", 200, "OK", tag=False)
    s.callee_req("BYE", 4)
    s.reply("A", 200, "OK", tag=False)
    out["update_callee_info"] = s

    # The callee's re-INVITE without SDP: the caller's 200 offers, the
    # callee answers in its ACK.
    s = Script()
    s.invite("auto")
    s.reply("B", 200, "OK", sdp=SDP_B)
    s.ack("auto")
    s.callee_req("INVITE", 2, sdp=None)
    s.reply("A", 200, "OK", sdp=SDP_A, tag=False)
    s.ack("auto", 2)
    s.callee_req("ACK", 2, sdp=SDP_B)
    s.caller_req("BYE", "auto", 3)
    s.reply("B", 200, "OK", tag=False)
    out["reinvite_callee_late"] = s

    # An UPDATE in the early dialog, session timers in the INVITE.
    s = Script()
    s.invite("off", "Supported: 100rel, timer\nSession-Expires: 90\n")
    s.reply("B", 183, "Session Progress", REL, sdp=SDP_B)
    s.reply("B", 200, "OK", tag=False)
    s.prack("off", 2)
    s.caller_req("UPDATE", "off", 3, sdp=SDP_A_HOLD)
    s.reply("B", 200, "OK", sdp=SDP_B2, tag=False)
    s.reply("B", 200, "OK", "Session-Expires: 90;refresher=uac\n"
            "Require: timer\n", of="invite")
    s.ack("off")
    out["early_update_timer"] = s

    # Forking: two contacts; one rings, the other answers.
    s = Script()
    s.invite("fork")
    s.reply("B", 180, "Ringing")
    s.reply("B", 200, "OK", sdp=SDP_B)
    s.ack("fork")
    s.caller_req("BYE", "fork", 2)
    s.reply("B", 200, "OK", tag=False)
    out["fork_answer"] = s

    # A redirect: the 302's Contact goes back to the caller.
    s = Script()
    s.invite("auto")
    s.reply("B", 100, "Trying", tag=False)
    s.reply("B", 302, "Moved Temporarily",
            "Contact: <sip:carol@127.0.0.1:5999>;q=0.5\n"
            "Contact: <sip:dave@[local]>\n")
    s.ack_error("auto")
    out["redirect_302"] = s

    # Gateway mode: the caller answers the UPDATE with 491 (the server
    # tries again later), then cancels.
    s = Script()
    s.invite("gw", SUP_GW)
    s.reply("B", 180, "Ringing")
    s.prack("gw", 2)
    s.reply("B", 200, "OK", sdp=SDP_B)
    s.reply("A", 491, "Request Pending", tag=False)
    s.cancel("gw")
    out["gw_update_491"] = s

    # Application server mode: the early-session answer in a
    # multipart/mixed PRACK beside a session part.
    s = Script()
    s.invite("as", SUP_AS)
    s.reply("B", 183, "Session Progress", REL, sdp=SDP_B)
    s.reply("B", 200, "OK", tag=False)
    mp = ("--b1\nContent-Type: application/sdp\n"
          "Content-Disposition: session\n\n" + SDP_A +
          "--b1\nContent-Type: application/sdp\n"
          "Content-Disposition: early-session\n\n" + SDP_EARLY +
          "--b1\nContent-Type: text/plain\n"
          "Content-Disposition: render;handling=optional\n\nhi\n"
          "--b1--\n")
    s.prack("as", 2, "Content-Type: multipart/mixed;boundary=b1\n"
            "Content-Length: [len]\n\n" + mp)
    s.recs[-1] = (s.recs[-1][0], s.recs[-1][1].replace(
        "Content-Length: 0\n\n", "", 1))
    s.reply("B", 200, "OK", sdp=SDP_B, of="invite")
    s.ack("as")
    out["as_multipart_prack"] = s

    # The callee calls the caller (alice is registered at the caller's
    # socket): the other way round.
    s = Script()
    s.add("B",
          "INVITE sip:alice@[server] SIP/2.0\n"
          "Via: SIP/2.0/UDP [local];branch=[branch];rport\n"
          "Max-Forwards: 70\n"
          "From: <sip:bob@[server]>;tag=[tag]\n"
          "To: <sip:alice@[server]>\n"
          "Call-ID: [call_id2]\n"
          "CSeq: 1 INVITE\n"
          "Contact: <sip:bob@[local]>\n" + body_hdrs(SDP_B))
    s.reply("A", 180, "Ringing")
    s.reply("A", 603, "Decline", of="invite")
    out["reverse_decline"] = s

    # A calling subscriber with a password: 407.
    s = Script()
    s.invite("auto", caller="pw")
    s.ack_error("auto")
    out["auth_407"] = s

    # Nobody registered: 480; unknown: 404.
    s = Script()
    s.invite("nobody")
    s.invite("stranger", call_id="[call_id2]")
    out["nobody_stranger"] = s

    # OPTIONS, and one with an unknown Require.
    s = Script()
    for req in ("", "Require: foo, 100rel\n"):
        s.add("A",
              "OPTIONS sip:[server] SIP/2.0\n"
              "Via: SIP/2.0/UDP [local];branch=[branch];rport\n"
              "Max-Forwards: 70\n"
              "From: <sip:alice@[server]>;tag=[tag]\n"
              "To: <sip:[server]>\n"
              "Call-ID: [call_id]\n"
              "CSeq: %d OPTIONS\n"
              "Accept: application/sdp\n"
              "%sContent-Length: 0\n\n" % (len(s.recs) + 1, req))
    out["options"] = s

    # REGISTER: a binding at the callee, a query, the wildcard removal,
    # then a call to the subscriber with nobody left.
    s = Script()
    for n, (contact, exp) in enumerate((
            ("<sip:as@[callee];transport=udp>;expires=120", ""),
            (None, ""),
            ("*", "Expires: 0\n"))):
        s.add("A",
              "REGISTER sip:[server] SIP/2.0\n"
              "Via: SIP/2.0/UDP [local];branch=[branch];rport\n"
              "Max-Forwards: 70\n"
              "From: <sip:as@[server]>;tag=[tag]\n"
              "To: <sip:as@[server]>\n"
              "Call-ID: [call_id2]\n"
              "CSeq: %d REGISTER\n"
              "%s%sContent-Length: 0\n\n"
              % (n + 1, "Contact: %s\n" % contact if contact else "", exp))
    s.invite("as")
    out["register_query_wildcard"] = s

    # A REGISTER that needs a password: 401.
    s = Script()
    s.add("A",
          "REGISTER sip:[server] SIP/2.0\n"
          "Via: SIP/2.0/UDP [local];branch=[branch];rport\n"
          "Max-Forwards: 70\n"
          "From: <sip:pw@[server]>;tag=[tag]\n"
          "To: <sip:pw@[server]>\n"
          "Call-ID: [call_id]\n"
          "CSeq: 1 REGISTER\n"
          "Contact: <sip:pw@[local]>\n"
          "Content-Length: 0\n\n")
    out["register_401"] = s

    # Malformed: a multipart body that breaks RFC 2046, a Content-Length
    # beyond the datagram, a CSeq whose method differs, no Call-ID.
    s = Script()
    s.invite("auto", "", sdp=None)
    s.recs[-1] = ("A", s.recs[-1][1].replace(
        "Content-Length: 0\n\n",
        "Content-Type: multipart/mixed;boundary=xx\n"
        "Content-Length: [len]\n\n"
        "--xx\nContent-Type: application/sdp\n\nv=0\n"))
    s.invite("auto", "Content-Length: 900\n", sdp=None,
             call_id="[call_id2]")
    s.add("A",
          "BYE sip:auto@[server] SIP/2.0\n"
          "Via: SIP/2.0/UDP [local];branch=[branch]\n"
          "From: <sip:alice@[server]>;tag=[tag]\n"
          "To: <sip:auto@[server]>;tag=x\n"
          "CSeq: 5 INVITE\n\n")
    s.add("A",
          "INVITE sip:auto@[server] SIP/3.0\n"
          "Via: SIP/2.0/UDP [local];rport\n"
          "Call-ID: [call_id]\n\n")
    out["malformed"] = s

    # In-dialog requests of dialogs that do not exist, a PRACK without
    # RAck, and a response nobody asked for.
    s = Script()
    s.invite("off", "Supported: 100rel\n")
    s.reply("B", 183, "Session Progress", REL, sdp=SDP_B)
    s.caller_req("PRACK", "off", 2)
    s.caller_req("UPDATE", "off", 3, to_tag=";tag=nope")
    s.reply("B", 200, "OK", of="invite")
    s.reply("B", 200, "OK", of="invite")
    s.ack("off")
    s.ack("off")
    out["stray_requests"] = s

    return out


def seeds():
    return {name: script.text().encode()
            for name, script in sorted(scripts().items())}
