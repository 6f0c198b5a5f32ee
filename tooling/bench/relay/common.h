/*
 * Shared helpers for the relay benchmark's C programs (generator, sink, relay).
 *
 * Every program answers SIGUSR2 with one "snap" line on stdout (CLOCK_MONOTONIC
 * nanoseconds and its counters), stops on SIGTERM/SIGINT after a last snap,
 * dies with its parent (PR_SET_PDEATHSIG) and after a maximum lifetime
 * (alarm), so that a crashed runner never leaves traffic flowing.
 */
#ifndef RELAY_BENCH_COMMON_H
#define RELAY_BENCH_COMMON_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH_MAX 1024

static volatile sig_atomic_t snap_requested;
static volatile sig_atomic_t stop_requested;

static inline void on_signal(int sig)
{
	if (sig == SIGUSR2)
		snap_requested = 1;
	else
		stop_requested = 1;
}

static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(2);
}

/* No SA_RESTART: a signal interrupts a blocking call, which returns EINTR. */
static inline void setup_process(unsigned max_life_s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
		die("sigaction");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL))
		die("prctl");
	if (getppid() == 1)
		exit(1);
	alarm(max_life_s);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int udp4(int rcvbuf, int sndbuf)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		die("SO_RCVBUF");
	if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)))
		die("SO_SNDBUF");
	return fd;
}

static inline struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static inline void bind_loopback(int fd, int port)
{
	struct sockaddr_in a = loopback(port);

	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("bind");
}

static inline void connect_loopback(int fd, int port)
{
	struct sockaddr_in a = loopback(port);

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
}

static inline int local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len))
		die("getsockname");
	return ntohs(a.sin_port);
}

/*
 * The sink publishes how many datagrams it received in a file both it and the
 * generator map, so that the generator can keep a fixed number in flight.
 */
static inline volatile uint64_t *map_counter(const char *path, int create)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0600);
	void *p;

	if (fd < 0)
		die(path);
	if (create && ftruncate(fd, 4096))
		die("ftruncate");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	close(fd);
	return (volatile uint64_t *)p;
}

static inline const char *str_opt(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);

	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], name, n) && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

/* "name=value" arguments, so that the runner passes the same words to C and JS. */
static inline long opt(int argc, char **argv, const char *name, long fallback)
{
	size_t n = strlen(name);

	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], name, n) && argv[i][n] == '=')
			return strtol(argv[i] + n + 1, NULL, 10);
	return fallback;
}

static inline int batch_opt(int argc, char **argv)
{
	long b = opt(argc, argv, "batch", 64);

	if (b < 1 || b > BATCH_MAX) {
		fprintf(stderr, "batch %ld is not from 1 to %d\n", b, BATCH_MAX);
		exit(2);
	}
	return (int)b;
}

#endif
