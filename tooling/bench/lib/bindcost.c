/*
 * The cost of opening and closing one UDP binding the way the C passt and
 * pasta do it for a new flow: a non-blocking socket, bound to a local
 * address, added to an epoll set; then removed and closed. Prints the
 * nanoseconds per open and per close over N bindings, for bindings.mjs to
 * set beside ours.
 *
 *   bindcost N ADDR
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: bindcost N ADDR\n");
		return 2;
	}
	int n = atoi(argv[1]);
	int *fds = calloc(n, sizeof(int));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct sockaddr_in a = { .sin_family = AF_INET };
	if (!fds || ep < 0 || inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) {
		perror("bindcost: setup");
		return 1;
	}
	double t0 = now_ns();
	for (int i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) < 0) {
			perror("bindcost: open");
			return 1;
		}
		fds[i] = s;
	}
	double t1 = now_ns();
	for (int i = 0; i < n; i++) {
		epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
		close(fds[i]);
	}
	double t2 = now_ns();
	printf("open_ns %.0f close_ns %.0f\n", (t1 - t0) / n, (t2 - t1) / n);
	return 0;
}
