build/tests/unit/core/test_table.o: tests/unit/core/test_table.c \
 /usr/include/re/re.h /usr/include/re/re_types.h /usr/include/re/re_fmt.h \
 /usr/include/re/re_mbuf.h /usr/include/re/re_msg.h \
 /usr/include/re/re_list.h /usr/include/re/re_sa.h \
 /usr/include/re/re_aes.h /usr/include/re/re_base64.h \
 /usr/include/re/re_bfcp.h /usr/include/re/re_conf.h \
 /usr/include/re/re_crc32.h /usr/include/re/re_dns.h \
 /usr/include/re/re_hash.h /usr/include/re/re_hmac.h \
 /usr/include/re/re_http.h /usr/include/re/re_httpauth.h \
 /usr/include/re/re_ice.h /usr/include/re/re_jbuf.h \
 /usr/include/re/re_lock.h /usr/include/re/re_main.h \
 /usr/include/re/re_md5.h /usr/include/re/re_mem.h \
 /usr/include/re/re_mod.h /usr/include/re/re_mqueue.h \
 /usr/include/re/re_net.h /usr/include/re/re_odict.h \
 /usr/include/re/re_json.h /usr/include/re/re_rtmp.h \
 /usr/include/re/re_rtp.h /usr/include/re/re_sdp.h \
 /usr/include/re/re_uri.h /usr/include/re/re_sip.h \
 /usr/include/re/re_sipevent.h /usr/include/re/re_sipreg.h \
 /usr/include/re/re_sipsess.h /usr/include/re/re_stun.h \
 /usr/include/re/re_natbd.h /usr/include/re/re_srtp.h \
 /usr/include/re/re_sys.h /usr/include/re/re_tcp.h \
 /usr/include/re/re_telev.h /usr/include/re/re_tmr.h \
 /usr/include/re/re_tls.h /usr/include/re/re_turn.h \
 /usr/include/re/re_udp.h /usr/include/re/re_websock.h core/core.h
/usr/include/re/re.h:
/usr/include/re/re_types.h:
/usr/include/re/re_fmt.h:
/usr/include/re/re_mbuf.h:
/usr/include/re/re_msg.h:
/usr/include/re/re_list.h:
/usr/include/re/re_sa.h:
/usr/include/re/re_aes.h:
/usr/include/re/re_base64.h:
/usr/include/re/re_bfcp.h:
/usr/include/re/re_conf.h:
/usr/include/re/re_crc32.h:
/usr/include/re/re_dns.h:
/usr/include/re/re_hash.h:
/usr/include/re/re_hmac.h:
/usr/include/re/re_http.h:
/usr/include/re/re_httpauth.h:
/usr/include/re/re_ice.h:
/usr/include/re/re_jbuf.h:
/usr/include/re/re_lock.h:
/usr/include/re/re_main.h:
/usr/include/re/re_md5.h:
/usr/include/re/re_mem.h:
/usr/include/re/re_mod.h:
/usr/include/re/re_mqueue.h:
/usr/include/re/re_net.h:
/usr/include/re/re_odict.h:
/usr/include/re/re_json.h:
/usr/include/re/re_rtmp.h:
/usr/include/re/re_rtp.h:
/usr/include/re/re_sdp.h:
/usr/include/re/re_uri.h:
/usr/include/re/re_sip.h:
/usr/include/re/re_sipevent.h:
/usr/include/re/re_sipreg.h:
/usr/include/re/re_sipsess.h:
/usr/include/re/re_stun.h:
/usr/include/re/re_natbd.h:
/usr/include/re/re_srtp.h:
/usr/include/re/re_sys.h:
/usr/include/re/re_tcp.h:
/usr/include/re/re_telev.h:
/usr/include/re/re_tmr.h:
/usr/include/re/re_tls.h:
/usr/include/re/re_turn.h:
/usr/include/re/re_udp.h:
/usr/include/re/re_websock.h:
core/core.h:
