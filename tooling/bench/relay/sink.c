/*
 * Sink: binds 127.0.0.1:0, prints "ready PORT", then counts what arrives with
 * blocking recvmmsg(MSG_WAITFORONE | MSG_TRUNC) of `batch` empty buffers until
 * SIGTERM: it only counts, so it copies nothing out (MSG_TRUNC still gives
 * each datagram's real length), which keeps it cheap next to the generator. With
 * shm=PATH it also publishes the running count there for the generator.
 * Snap line: "snap NS DATAGRAMS BYTES".
 */
#include "common.h"

int main(int argc, char **argv)
{
	int batch = batch_opt(argc, argv);
	int buf = (int)opt(argc, argv, "buf", 16 << 20);
	static struct mmsghdr msgs[BATCH_MAX];
	static struct iovec iovs[BATCH_MAX];
	static char slab[1];
	const char *shm = str_opt(argc, argv, "shm");
	volatile uint64_t *published = NULL;
	uint64_t count = 0, bytes = 0;
	int fd;

	setup_process((unsigned)opt(argc, argv, "maxlife", 120));
	for (int i = 0; i < batch; i++) {
		iovs[i].iov_base = slab;
		iovs[i].iov_len = 0;
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	if (shm)
		published = map_counter(shm, 1);
	fd = udp4(buf, 0);
	bind_loopback(fd, 0);
	printf("ready %d\n", local_port(fd));
	fflush(stdout);

	while (!stop_requested) {
		int r;

		if (snap_requested) {
			snap_requested = 0;
			printf("snap %llu %llu %llu\n", (unsigned long long)now_ns(), (unsigned long long)count,
			       (unsigned long long)bytes);
			fflush(stdout);
		}
		r = recvmmsg(fd, msgs, (unsigned)batch, MSG_WAITFORONE | MSG_TRUNC, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("recvmmsg");
		}
		count += (uint64_t)r;
		for (int i = 0; i < r; i++)
			bytes += msgs[i].msg_len;
		if (published)
			__atomic_store_n(published, count, __ATOMIC_RELEASE);
	}
	printf("snap %llu %llu %llu\n", (unsigned long long)now_ns(), (unsigned long long)count,
	       (unsigned long long)bytes);
	return 0;
}
