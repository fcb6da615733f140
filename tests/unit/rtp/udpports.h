/**
 * @file udpports.h  Plain UDP ports on 127.0.0.1 for the port tests of the
 *                   RTP streamer and the RTP endpoint
 *
 * Both allocate RTP/RTCP port pairs from a range, and their tests need
 * ports that are free (a range to allocate from) or taken (to see a pair
 * skipped).  The sockets here are plain ones, outside libre and the loop,
 * so that holding or probing a port touches nothing under test.
 *
 * The helpers are static inline so that a test file that uses only some
 * of them builds without unused-function warnings.  Include this header
 * after <cmocka.h>, <string.h>, <unistd.h>, <sys/socket.h> and
 * <netinet/in.h>.
 */
#ifndef CMRLAB_TESTS_RTP_UDPPORTS_H
#define CMRLAB_TESTS_RTP_UDPPORTS_H


/* A plain UDP socket bound to 127.0.0.1:port, or -1. */
static inline int bind_plain(uint16_t port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}

	return fd;
}


/* An even port p with p .. p + 5 all free on 127.0.0.1 just now, below
 * hi: the search starts at lo plus an offset taken from the process id,
 * so that runs at the same time start apart, and goes up in sixes. */
static inline uint16_t free_range6(unsigned lo, unsigned hi)
{
	for (unsigned base = lo + (unsigned)getpid() % 1000 * 6;
	     base < hi; base += 6) {
		int fds[6];
		unsigned ok = 0;

		for (unsigned i = 0; i < 6; i++) {
			fds[i] = bind_plain((uint16_t)(base + i));
			ok += fds[i] >= 0;
		}
		for (unsigned i = 0; i < 6; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
		}
		if (ok == 6)
			return (uint16_t)base;
	}

	fail_msg("no six free ports");
	return 0;
}


#endif
