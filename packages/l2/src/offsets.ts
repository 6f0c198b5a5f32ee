/**
 * Theory of operation.
 *
 * The byte offsets of every fixed header field this package reads or
 * writes, declared once. smoltcp names each field's byte range in a small
 * table at the top of its protocol file; we do the same, but in one shared
 * module, because the same offsets are needed in more than one place: the
 * packet views (ethernet.ts, ipv4.ts, ...), the allocation-free frame
 * classifier (frame-headers.ts) and code outside this package that patches
 * headers in pre-built frame buffers. A literal `12` or `9` anywhere else is
 * a field whose name was lost; a typo in one copy of a table is a bug the
 * other copies do not share.
 *
 * Each table gives field starts relative to the start of its own header,
 * and `LEN` is the size of the fixed header (without options or extension
 * headers). Multi-byte fields are big-endian, read with bytes.ts. The
 * tables are plain `as const` objects, so TypeScript sees each offset as a
 * literal type and a misspelt field name is a compile error.
 */

/** Ethernet II header (no 802.1Q tag): destination MAC, source MAC, EtherType. */
export const EthHdr = { DST: 0, SRC: 6, TYPE: 12, LEN: 14 } as const;

/** IPv4 header (RFC 791) without options; `LEN` is the minimum header (IHL 5). */
export const Ip4Hdr = {
  VER_IHL: 0,
  TOS: 1,
  TOTAL_LEN: 2,
  ID: 4,
  FLAGS_FRAG: 6,
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
  LEN: 20,
} as const;

/** IPv6 fixed header (RFC 8200 3). */
export const Ip6Hdr = { VER_TC_FLOW: 0, PAYLOAD_LEN: 4, NEXT_HEADER: 6, HOP_LIMIT: 7, SRC: 8, DST: 24, LEN: 40 } as const;

/** UDP header (RFC 768). */
export const UdpHdr = { SRC_PORT: 0, DST_PORT: 2, LENGTH: 4, CHECKSUM: 6, LEN: 8 } as const;

/**
 * ICMP header in the echo layout (type, code, checksum, identifier,
 * sequence), the same for ICMPv4 (RFC 792) and ICMPv6 (RFC 4443 4.1). The
 * first four bytes are common to every ICMP message; ID and SEQ are echo's.
 */
export const IcmpHdr = { TYPE: 0, CODE: 1, CHECKSUM: 2, ID: 4, SEQ: 6, LEN: 8 } as const;

/** TCP header (RFC 9293 3.1) without options; `DATA_OFF` is the byte whose high nibble is the data offset. */
export const TcpHdr = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ: 4,
  ACK: 8,
  DATA_OFF: 12,
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
  LEN: 20,
} as const;

/**
 * ARP packet (RFC 826) for Ethernet/IPv4 only: the address positions from
 * SHA on hold when HLEN is 6 and PLEN is 4, which is all a VM link carries
 * and what arp.ts enforces before trusting them.
 */
export const ArpHdr = { HTYPE: 0, PTYPE: 2, HLEN: 4, PLEN: 5, OPER: 6, SHA: 8, SPA: 14, THA: 18, TPA: 24, LEN: 28 } as const;
