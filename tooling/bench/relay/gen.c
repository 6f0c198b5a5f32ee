/*
 * Traffic generator: sends datagrams of `size` bytes to 127.0.0.1:`port` with
 * one blocking sendmmsg() of `batch` messages after another until SIGTERM.
 *
 * With window=N and shm=PATH (the sink's published count), it keeps at most N
 * datagrams in flight between itself and the sink: a closed loop that keeps
 * the relay's input queue full of work but never overflowing, so that every
 * relay is measured at its own saturation rate rather than in overload. If
 * the count stops moving for 50 ms with datagrams in flight, those are taken
 * as lost and their credit reclaimed. With window=0 it sends as fast as its
 * CPU allows (open loop).
 *
 * Snap line: "snap NS SENT ERRORS RECLAIMED".
 */
#include "common.h"

int main(int argc, char **argv)
{
	int port = (int)opt(argc, argv, "port", 0);
	int size = (int)opt(argc, argv, "size", 64);
	int batch = batch_opt(argc, argv);
	int buf = (int)opt(argc, argv, "buf", 16 << 20);
	uint64_t window = (uint64_t)opt(argc, argv, "window", 0);
	const char *shm = str_opt(argc, argv, "shm");
	volatile uint64_t *sunk = NULL;
	static struct mmsghdr msgs[BATCH_MAX];
	static struct iovec iov;
	uint64_t sent = 0, errors = 0, reclaimed = 0, last_sunk = 0, last_move = 0;
	const struct timespec pause = { 0, 20000 };
	char *payload;
	int fd;

	setup_process((unsigned)opt(argc, argv, "maxlife", 120));
	if (port <= 0 || size < 1 || size > 65507 || (window && !shm)) {
		fprintf(stderr, "usage: gen port=N size=BYTES [batch=64] [buf=BYTES] [window=N shm=PATH]\n");
		return 2;
	}
	if (window)
		sunk = map_counter(shm, 0);
	payload = malloc((size_t)size);
	if (!payload)
		die("malloc");
	memset(payload, 'x', (size_t)size);
	iov.iov_base = payload;
	iov.iov_len = (size_t)size;
	for (int i = 0; i < batch; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	fd = udp4(0, buf);
	connect_loopback(fd, port);
	printf("ready %d\n", local_port(fd));
	fflush(stdout);

	while (!stop_requested) {
		int r;

		if (snap_requested) {
			snap_requested = 0;
			printf("snap %llu %llu %llu %llu\n", (unsigned long long)now_ns(), (unsigned long long)sent,
			       (unsigned long long)errors, (unsigned long long)reclaimed);
			fflush(stdout);
		}
		if (window) {
			uint64_t s = __atomic_load_n(sunk, __ATOMIC_ACQUIRE);
			uint64_t in_flight = sent - reclaimed - s;
			uint64_t t = now_ns();

			if (s != last_sunk || !last_move) {
				last_sunk = s;
				last_move = t;
			}
			if (in_flight + (uint64_t)batch > window) {
				if (t - last_move > 50000000u) {
					reclaimed += in_flight;
					last_move = t;
				} else {
					nanosleep(&pause, NULL);
				}
				continue;
			}
		}
		r = sendmmsg(fd, msgs, (unsigned)batch, 0);
		if (r > 0)
			sent += (uint64_t)r;
		else if (r < 0 && errno != EINTR && errno != EAGAIN)
			errors++; /* ECONNREFUSED while the relay is not there yet or gone */
	}
	printf("snap %llu %llu %llu %llu\n", (unsigned long long)now_ns(), (unsigned long long)sent,
	       (unsigned long long)errors, (unsigned long long)reclaimed);
	return 0;
}
