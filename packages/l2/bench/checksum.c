/* Reference Internet checksum for bench/checksum.bench.mjs: the same algorithm as src/checksum.ts
 * (32-bit native-order words into a wide accumulator, carries folded at the end, one byte swap on
 * little-endian hosts). Prints GB/s over a 64 KiB buffer. Built by the benchmark with `cc -O2`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint16_t csum(const uint8_t *p, size_t len) {
	uint64_t acc = 0;
	size_t i = 0;
	for (; i + 4 <= len; i += 4) {
		uint32_t w;
		memcpy(&w, p + i, 4);
		acc += w;
	}
	for (; i + 1 < len; i += 2) {
		uint16_t h;
		memcpy(&h, p + i, 2);
		acc += h;
	}
	if (i < len) acc += p[i]; /* little-endian lane of a zero-padded word */
	while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
	uint16_t s = (uint16_t)acc;
	return (uint16_t)((s >> 8) | (s << 8)); /* to network order sum on little-endian */
}

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
	size_t len = 65536;
	long iters = argc > 1 ? atol(argv[1]) : 100000;
	uint8_t *buf = malloc(len);
	uint32_t seed = 12345;
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = seed >> 24;
	}
	volatile uint32_t sink = 0;
	for (long k = 0; k < iters / 10; k++) sink += csum(buf, len); /* warm up */
	double t0 = now();
	for (long k = 0; k < iters; k++) {
		buf[k & 1023] ^= 1; /* defeat hoisting the sum out of the loop */
		sink += csum(buf, len);
	}
	double dt = now() - t0;
	printf("sum %u\n", (unsigned)csum(buf, len));
	printf("GB/s %.3f\n", (double)len * iters / dt / 1e9);
	(void)sink;
	return 0;
}
