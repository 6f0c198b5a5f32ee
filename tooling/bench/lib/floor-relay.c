/*
 * The smallest UDP relay, the C side of tooling/bench/floor.mjs: datagrams to 127.0.0.1
 * LISTEN go to 127.0.0.1 TARGET from a connected socket, replies go back to
 * the last sender. One epoll set, recvmmsg of up to 32 datagrams per
 * wake-up, one sendmmsg out: the shape of pasta's splice with none of its
 * work, so its round trip is a C event loop's floor.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define BATCH 32

static struct sockaddr_in loopback(int port) {
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

int main(int argc, char **argv) {
	if (argc != 3) { fprintf(stderr, "usage: relay LISTEN TARGET\n"); return 2; }
	struct sockaddr_in la = loopback(atoi(argv[1])), ta = loopback(atoi(argv[2])), peer;
	int l = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int t = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (bind(l, (struct sockaddr *)&la, sizeof(la)) || connect(t, (struct sockaddr *)&ta, sizeof(ta))) {
		perror("relay");
		return 1;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = l };
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	ev.data.fd = t;
	epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev);
	static char buf[BATCH][2048];
	struct iovec iov[BATCH];
	struct mmsghdr m[BATCH];
	struct epoll_event ready[2];
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int k = epoll_wait(ep, ready, 2, -1);
		for (int e = 0; e < k; e++) {
			int from = ready[e].data.fd, to = from == l ? t : l;
			for (int i = 0; i < BATCH; i++) {
				iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
				m[i].msg_hdr = (struct msghdr){ .msg_name = from == l ? &peer : NULL,
								.msg_namelen = from == l ? sizeof(peer) : 0,
								.msg_iov = &iov[i], .msg_iovlen = 1 };
			}
			int n = recvmmsg(from, m, BATCH, 0, NULL);
			for (int i = 0; i < n; i++) {
				iov[i].iov_len = m[i].msg_len;
				m[i].msg_hdr.msg_name = to == l ? &peer : NULL;
				m[i].msg_hdr.msg_namelen = to == l ? sizeof(peer) : 0;
			}
			if (n > 0) sendmmsg(to, m, n, 0);
		}
	}
}
