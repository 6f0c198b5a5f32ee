/*
 * probe: the small UDP and TCP programs of the benchmark suite, built by the
 * runner with `cc -O2` into a temporary folder.
 *
 *   probe echo ADDR PORT              echo every datagram back (start-up peer)
 *   probe ping ADDR PORT OUTFILE [LEN] send one datagram (LEN bytes, default 4)
 *                                     every millisecond until
 *                                     one comes back, write CLOCK_MONOTONIC (ns)
 *                                     to OUTFILE, then sleep until killed
 *   probe flows ADDR PORT N SECS LEN  send LEN-byte datagrams round robin from
 *                                     N sockets (N distinct source ports) for
 *                                     SECS seconds; print "sent S sockets N"
 *   probe sink ADDR PORT SECS         count datagrams and distinct source ports
 *                                     until SECS pass (or SIGTERM/SIGINT);
 *                                     print "received R bytes B sources P first_ns F last_ns L"
 *   probe tcpecho ADDR PORT SECS      TCP: accept, read one request (up to 64
 *                                     bytes), write it back, close (the server
 *                                     closes first: TIME_WAIT stays on its
 *                                     side, not on the client's ports); one
 *                                     connection at a time until SECS pass or
 *                                     SIGTERM; print "ready", at the end
 *                                     "served N"
 *   probe crr ADDR PORT SECS [TIMEOUT_MS]
 *                                     TCP connect/request/response/close
 *                                     cycles: connect, send 1 byte, read 1
 *                                     byte, read the server's FIN, close,
 *                                     for SECS seconds, one at a time; every
 *                                     step waits TIMEOUT_MS at most (default
 *                                     1000); print "done N failed F elapsed_ns
 *                                     E p50_ns P p99_ns Q" (cycle times), and
 *                                     the first error seen
 *
 * ADDR is IPv4 or IPv6 text; the family follows from it. Every mode dies
 * with its parent (PR_SET_PDEATHSIG) and after at most 15 minutes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_stop(int sig) { (void)sig; stop = 1; }

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static socklen_t parse_addr(const char *a, const char *p, struct sockaddr_storage *ss) {
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(p));
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(p));
		return sizeof(*s6);
	}
	fprintf(stderr, "probe: bad address %s\n", a);
	exit(2);
}

static int udp_socket(int family) {
	int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		perror("probe: socket");
		exit(1);
	}
	return s;
}

static int do_echo(const char *a, const char *p) {
	struct sockaddr_storage ss, peer;
	socklen_t len = parse_addr(a, p, &ss);
	int s = udp_socket(ss.ss_family);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, len) < 0) {
		perror("probe echo: bind");
		return 1;
	}
	static char buf[65536];
	while (!stop) {
		socklen_t pl = sizeof(peer);
		ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &pl);
		if (n >= 0) sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&peer, pl);
	}
	return 0;
}

static int do_ping(const char *a, const char *p, const char *out, int dlen) {
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a, p, &ss);
	int s = -1;
	char buf[1500] = "ping";
	if (dlen < 1 || dlen > (int)sizeof(buf)) dlen = 4;
	for (;;) {
		/* A fresh socket until the first send works: the namespace may not
		 * have its address or route yet. */
		if (s < 0) s = udp_socket(ss.ss_family);
		if (sendto(s, buf, (size_t)dlen, 0, (struct sockaddr *)&ss, len) < 0) {
			if (errno == ENETUNREACH || errno == EADDRNOTAVAIL || errno == EHOSTUNREACH) {
				close(s);
				s = -1;
			}
			usleep(1000);
			continue;
		}
		struct pollfd pfd = {.fd = s, .events = POLLIN};
		if (poll(&pfd, 1, 1) == 1 && recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0) break;
	}
	uint64_t t = now_ns();
	FILE *f = fopen(out, "w");
	if (!f) {
		perror("probe ping: output");
		return 1;
	}
	fprintf(f, "%llu\n", (unsigned long long)t);
	fclose(f);
	while (!stop) pause();
	return 0;
}

static int do_flows(const char *a, const char *p, int n, double secs, int dlen) {
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a, p, &ss);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int *fds = calloc((size_t)n, sizeof(int));
	for (int i = 0; i < n; i++) {
		fds[i] = udp_socket(ss.ss_family);
		if (connect(fds[i], (struct sockaddr *)&ss, len) < 0) {
			perror("probe flows: connect");
			return 1;
		}
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
	}
	static char buf[65536];
	memset(buf, 'f', sizeof(buf));
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), sent = 0, blocked = 0;
	while (!stop && now_ns() < end) {
		for (int i = 0; i < n && !stop; i++) {
			if (send(fds[i], buf, (size_t)dlen, 0) == dlen)
				sent++;
			else
				blocked++;
		}
	}
	printf("sent %llu sockets %d failed %llu\n", (unsigned long long)sent, n, (unsigned long long)blocked);
	return 0;
}

static int do_sink(const char *a, const char *p, double secs) {
	struct sockaddr_storage ss, peer;
	socklen_t len = parse_addr(a, p, &ss);
	int s = udp_socket(ss.ss_family);
	int big = 16 << 20;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	if (bind(s, (struct sockaddr *)&ss, len) < 0) {
		perror("probe sink: bind");
		return 1;
	}
	static unsigned char seen[65536 / 8];
	static char buf[65536];
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), got = 0, bytes = 0, first = 0, last = 0;
	unsigned sources = 0;
	printf("ready\n");
	fflush(stdout);
	while (!stop && now_ns() < end) {
		struct pollfd pfd = {.fd = s, .events = POLLIN};
		if (poll(&pfd, 1, 50) != 1) continue;
		for (;;) {
			socklen_t pl = sizeof(peer);
			ssize_t n = recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&peer, &pl);
			if (n < 0) break;
			uint64_t t = now_ns();
			if (!first) first = t;
			last = t;
			got++;
			bytes += (uint64_t)n;
			uint16_t port = ntohs(peer.ss_family == AF_INET ? ((struct sockaddr_in *)&peer)->sin_port
			                                                 : ((struct sockaddr_in6 *)&peer)->sin6_port);
			if (!(seen[port / 8] & (1u << (port % 8)))) {
				seen[port / 8] |= (unsigned char)(1u << (port % 8));
				sources++;
			}
		}
	}
	printf("received %llu bytes %llu sources %u first_ns %llu last_ns %llu\n", (unsigned long long)got,
	       (unsigned long long)bytes, sources, (unsigned long long)first, (unsigned long long)last);
	return 0;
}

static void set_timeouts(int s, int ms) {
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* connect() too */
}

static int do_tcpecho(const char *a, const char *p, double secs) {
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a, p, &ss);
	int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (s < 0) {
		perror("probe tcpecho: socket");
		return 1;
	}
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, len) < 0 || listen(s, 1024) < 0) {
		perror("probe tcpecho: bind/listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), served = 0;
	char buf[64];
	while (!stop && now_ns() < end) {
		struct pollfd pfd = {.fd = s, .events = POLLIN};
		if (poll(&pfd, 1, 50) != 1) continue;
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		set_timeouts(c, 1000);
		ssize_t n = recv(c, buf, sizeof(buf), 0);
		if (n > 0 && send(c, buf, (size_t)n, MSG_NOSIGNAL) == n) served++;
		close(c);
	}
	printf("served %llu\n", (unsigned long long)served);
	return 0;
}

static int cmp_u64(const void *x, const void *y) {
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static int do_crr(const char *a, const char *p, double secs, int tmo) {
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(a, p, &ss);
	size_t cap = 1 << 22, n = 0;
	uint64_t *times = malloc(cap * sizeof(*times)), failed = 0;
	char first_err[160] = "";
	int one = 1;
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9);
	while (!stop && now_ns() < end) {
		uint64_t t = now_ns();
		const char *step = "socket";
		int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char c = 'r', d;
		int ok = 0;
		if (s >= 0) {
			set_timeouts(s, tmo);
			setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			step = "connect";
			if (connect(s, (struct sockaddr *)&ss, len) == 0) {
				step = "send";
				if (send(s, &c, 1, MSG_NOSIGNAL) == 1) {
					step = "recv";
					if (recv(s, &d, 1, 0) == 1) {
						step = "recv FIN";
						errno = 0;
						ok = recv(s, &d, 1, 0) == 0;
						if (!ok && !errno) errno = EPROTO;
					}
				}
			}
		}
		if (ok) {
			if (n < cap) times[n] = now_ns() - t;
			n++;
		} else {
			if (!failed++) snprintf(first_err, sizeof(first_err), "%s: %s", step, strerror(errno));
			usleep(1000); /* a refusing path would spin otherwise */
		}
		if (s >= 0) close(s);
		if (failed >= 50 && n == 0) break; /* nothing goes through */
	}
	uint64_t el = now_ns() - t0;
	size_t k = n < cap ? n : cap;
	qsort(times, k, sizeof(*times), cmp_u64);
	unsigned long long p50 = k ? (unsigned long long)times[(k - 1) / 2] : 0;
	unsigned long long p99 = k ? (unsigned long long)times[(size_t)((double)(k - 1) * 0.99)] : 0;
	printf("done %zu failed %llu elapsed_ns %llu p50_ns %llu p99_ns %llu\n", n, (unsigned long long)failed,
	       (unsigned long long)el, p50, p99);
	if (failed) printf("first error %s\n", first_err);
	return 0;
}

int main(int argc, char **argv) {
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(900);
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (argc >= 4 && !strcmp(argv[1], "echo")) return do_echo(argv[2], argv[3]);
	if (argc >= 5 && !strcmp(argv[1], "ping")) return do_ping(argv[2], argv[3], argv[4], argc >= 6 ? atoi(argv[5]) : 4);
	if (argc >= 7 && !strcmp(argv[1], "flows")) return do_flows(argv[2], argv[3], atoi(argv[4]), atof(argv[5]), atoi(argv[6]));
	if (argc >= 5 && !strcmp(argv[1], "sink")) return do_sink(argv[2], argv[3], atof(argv[4]));
	if (argc >= 5 && !strcmp(argv[1], "tcpecho")) return do_tcpecho(argv[2], argv[3], atof(argv[4]));
	if (argc >= 5 && !strcmp(argv[1], "crr")) return do_crr(argv[2], argv[3], atof(argv[4]), argc >= 6 ? atoi(argv[5]) : 1000);
	fprintf(stderr, "usage: probe echo|ping|flows|sink|tcpecho|crr ...\n");
	return 2;
}
