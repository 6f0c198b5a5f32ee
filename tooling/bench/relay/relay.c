/*
 * Relay B, the reference: the same logic as relay.mjs, in C.
 *
 * One UDP socket bound on 127.0.0.1:0 (printed as "ready PORT"), one connected
 * to the sink. epoll waits for the input to be readable; each wake-up drains
 * it with non-blocking recvmmsg() of `batch` datagrams (at most `drain`
 * batches, then back to epoll, as the JS relay returns to libuv's loop), and
 * each batch goes out with sendmmsg() from the same slab. Like the native
 * layer, recvmmsg() also asks for every source address.
 *
 * A partial send is retried at once from where it stopped; "would block"
 * drops the rest of the batch; an error on the first message drops that one.
 * Snap line: "snap NS RECEIVED SENT DROPPED BATCHES WAKEUPS".
 */
#include "common.h"
#include <sys/epoll.h>

#define SLOT 2048

static struct mmsghdr rx[BATCH_MAX], tx[BATCH_MAX];
static struct iovec rx_iov[BATCH_MAX], tx_iov[BATCH_MAX];
static struct sockaddr_in6 names[BATCH_MAX];
static char slab[BATCH_MAX * SLOT];

int main(int argc, char **argv)
{
	int sink_port = (int)opt(argc, argv, "sink", 0);
	int batch = batch_opt(argc, argv);
	int drain = (int)opt(argc, argv, "drain", 16);
	int buf = (int)opt(argc, argv, "buf", 16 << 20);
	uint64_t received = 0, sent = 0, dropped = 0, batches = 0, wakeups = 0;
	struct epoll_event ev;
	int in, out, ep;

	setup_process((unsigned)opt(argc, argv, "maxlife", 120));
	if (sink_port <= 0 || drain < 1) {
		fprintf(stderr, "usage: relay sink=PORT [batch=64] [drain=16] [buf=BYTES]\n");
		return 2;
	}
	for (int i = 0; i < batch; i++) {
		rx_iov[i].iov_base = slab + (size_t)i * SLOT;
		rx_iov[i].iov_len = SLOT;
		rx[i].msg_hdr.msg_iov = &rx_iov[i];
		rx[i].msg_hdr.msg_iovlen = 1;
		tx_iov[i].iov_base = slab + (size_t)i * SLOT;
		tx[i].msg_hdr.msg_iov = &tx_iov[i];
		tx[i].msg_hdr.msg_iovlen = 1;
	}
	in = udp4(buf, buf);
	bind_loopback(in, 0);
	out = udp4(buf, buf);
	connect_loopback(out, sink_port);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.fd = in;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev))
		die("epoll_ctl");
	printf("ready %d\n", local_port(in));
	fflush(stdout);

	while (!stop_requested) {
		if (snap_requested) {
			snap_requested = 0;
			printf("snap %llu %llu %llu %llu %llu %llu\n", (unsigned long long)now_ns(),
			       (unsigned long long)received, (unsigned long long)sent, (unsigned long long)dropped,
			       (unsigned long long)batches, (unsigned long long)wakeups);
			fflush(stdout);
		}
		if (epoll_wait(ep, &ev, 1, -1) < 1)
			continue; /* EINTR: a signal to look at */
		wakeups++;
		for (int k = 0; k < drain; k++) {
			int n, done = 0;

			for (int i = 0; i < batch; i++) {
				rx[i].msg_hdr.msg_name = &names[i];
				rx[i].msg_hdr.msg_namelen = sizeof(names[i]);
			}
			n = recvmmsg(in, rx, (unsigned)batch, MSG_DONTWAIT, NULL);
			if (n <= 0) {
				if (n < 0 && errno != EAGAIN && errno != EINTR)
					die("recvmmsg");
				break;
			}
			received += (uint64_t)n;
			batches++;
			for (int i = 0; i < n; i++)
				tx_iov[i].iov_len = rx[i].msg_len;
			while (done < n) {
				int s = sendmmsg(out, tx + done, (unsigned)(n - done), MSG_DONTWAIT | MSG_NOSIGNAL);

				if (s > 0) {
					done += s;
					sent += (uint64_t)s;
				} else if (s == 0 || errno == EAGAIN) {
					break;
				} else {
					done++; /* the first message failed (ECONNREFUSED...): drop it */
				}
			}
			dropped = received - sent;
			if (n < batch)
				break; /* the queue is empty: skip the call that would say so */
		}
	}
	printf("snap %llu %llu %llu %llu %llu %llu\n", (unsigned long long)now_ns(), (unsigned long long)received,
	       (unsigned long long)sent, (unsigned long long)dropped, (unsigned long long)batches,
	       (unsigned long long)wakeups);
	return 0;
}
