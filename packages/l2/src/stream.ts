/**
 * Theory of operation.
 *
 * qemu's `-netdev stream` (and passt's qemu mode) carry Ethernet frames on
 * a byte stream, each preceded by its length as a 4-byte big-endian
 * integer. This module holds only that format's constants; the reader and
 * the writer of the framing live in @x/flow, in qemu-stream-reader.ts
 * (`QemuStreamReader`) and qemu-stream-writer.ts (`QemuStreamSink`).
 *
 * Why there and not here: the framing is part of the link layer, next to
 * the frame slab and the frame sinks it feeds, and it should have exactly
 * one implementation. That implementation is zero-copy: the embedder reads
 * the socket straight into the reader's buffer and the frames are handed on
 * as (offset, length) pairs into it, and the writer puts each prefix in
 * the spare bytes in front of a frame it is given. A decoder here, which
 * takes chunks it does not own and returns frames of its own, would have to
 * copy or allocate, and a second implementation would drift from the first.
 */

/** Bytes of the big-endian length in front of every frame. */
export const STREAM_LENGTH_PREFIX = 4;
/** Largest IPv4/IPv6 packet plus an Ethernet header with one VLAN tag. */
export const STREAM_DEFAULT_MAX_FRAME = 65535 + 18;
/** qemu reads at most this many bytes of stream per message. */
export const STREAM_MAX_MESSAGE = 32767;
