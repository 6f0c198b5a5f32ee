/**
 * Batches of datagrams that cross the native boundary without allocation.
 *
 * A RecvBatch is a slab cut into equal slots plus one 32-byte record per
 * slot; recvmmsg() fills datagram i at slab[i * slotSize + offset] and its
 * length and source in record i. The offset is the room a caller leaves in
 * front of each payload to write Ethernet, IP and UDP headers in place, so a
 * datagram becomes a frame without being copied.
 *
 * A SendBatch is the other direction: (offset, length) pairs into one slab
 * and, per message, an optional destination record. Both are allocated once
 * and reused for every call.
 *
 * Record layout (little-endian), shared with the Rust side: length u32 @0,
 * family u16 @4 (4, 6, or 0 for none), port u16 @6, scope id u32 @8,
 * address @12..28, flags u32 @28 (bit 0: truncated).
 */

/** Bytes per record (META in crates/syscalls/src/addr.rs). */
export const RECORD = 32;

/**
 * Byte offsets of a record's fields, mirroring the M_* constants of
 * crates/syscalls/src/addr.rs: length u32, family u16 (4, 6 or 0), port u16,
 * scope id u32, address (4 or 16 bytes). Packages that read or write records
 * in place (the engine's socket layer) take the offsets from here instead of
 * restating them, so the layout is declared once per language.
 */
export const RecordField = { LEN: 0, FAMILY: 4, PORT: 6, SCOPE: 8, ADDR: 12 } as const;
/** The flags word (bit 0: truncated), read only through RecvBatch.truncated. */
const R_FLAGS = 28;

/** The most messages one native call moves. */
export const MAX_BATCH = 1024;

import { formatIpAddr, type Family } from "@x/l2";
export type { Family };

function checkCapacity(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH) {
    throw new RangeError(`batch capacity ${n} is not an integer from 1 to ${MAX_BATCH}`);
  }
}

export class RecvBatch {
  readonly slab: Uint8Array;
  readonly records: Uint8Array;
  private readonly view: DataView;
  /** How many datagrams the last receive filled. */
  count = 0;

  /** `slab`: an existing buffer to receive into (at least capacity * slotSize bytes); a new one when absent. */
  constructor(
    readonly capacity: number,
    readonly slotSize: number,
    readonly offset: number,
    slab?: Uint8Array,
  ) {
    checkCapacity(capacity);
    if (!Number.isInteger(slotSize) || !Number.isInteger(offset) || offset < 0 || offset >= slotSize) {
      throw new RangeError(`slot of ${slotSize} bytes with payload offset ${offset}`);
    }
    if (slab && slab.length < capacity * slotSize) {
      throw new RangeError(`slab of ${slab.length} bytes for ${capacity} slots of ${slotSize}`);
    }
    this.slab = slab ?? new Uint8Array(capacity * slotSize);
    this.records = new Uint8Array(capacity * RECORD);
    this.view = new DataView(this.records.buffer);
  }

  /** Where datagram i starts in the slab. */
  payloadOffset(i: number): number {
    return i * this.slotSize + this.offset;
  }
  length(i: number): number {
    return this.view.getUint32(i * RECORD + RecordField.LEN, true);
  }
  family(i: number): Family | 0 {
    return this.view.getUint16(i * RECORD + RecordField.FAMILY, true) as Family | 0;
  }
  port(i: number): number {
    return this.view.getUint16(i * RECORD + RecordField.PORT, true);
  }
  scopeId(i: number): number {
    return this.view.getUint32(i * RECORD + RecordField.SCOPE, true);
  }
  /** True when the datagram was longer than its slot and was cut. */
  truncated(i: number): boolean {
    return (this.view.getUint32(i * RECORD + R_FLAGS, true) & 1) !== 0;
  }
  /** The source address bytes (4 or 16), a view into the records: copy to keep. */
  addressBytes(i: number): Uint8Array {
    const at = i * RECORD + RecordField.ADDR;
    return this.records.subarray(at, at + (this.family(i) === 4 ? 4 : 16));
  }
  /** The source address as text (allocates: for logs and slow paths). */
  address(i: number): string {
    return formatAddress(this.addressBytes(i));
  }
  /** The payload, a view into the slab. */
  payload(i: number): Uint8Array {
    const at = this.payloadOffset(i);
    return this.slab.subarray(at, at + this.length(i));
  }
}

export class SendBatch {
  readonly desc: Uint32Array;
  readonly records: Uint8Array;
  private readonly view: DataView;
  count = 0;
  /** Whether any message in the batch has its own destination. */
  addressed = false;

  constructor(readonly capacity: number) {
    checkCapacity(capacity);
    this.desc = new Uint32Array(capacity * 2);
    this.records = new Uint8Array(capacity * RECORD);
    this.view = new DataView(this.records.buffer);
  }

  clear(): void {
    this.count = 0;
    this.addressed = false;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /**
   * Adds slab[offset, offset+length), sent to (family, address, port, scope)
   * or, with family 0, to the socket's connected peer. The address is read
   * from `address` at `addressAt`, so callers with packed address tables
   * need no subarray per message.
   */
  push(offset: number, length: number, family: Family | 0 = 0, address?: Uint8Array, port = 0, scopeId = 0, addressAt = 0): void {
    if (this.count === this.capacity) throw new RangeError(`send batch is full (${this.capacity})`);
    const i = this.count++;
    this.desc[2 * i] = offset;
    this.desc[2 * i + 1] = length;
    const r = i * RECORD;
    this.view.setUint16(r + RecordField.FAMILY, family, true);
    if (family !== 0 && address) {
      this.addressed = true;
      this.view.setUint16(r + RecordField.PORT, port, true);
      this.view.setUint32(r + RecordField.SCOPE, scopeId, true);
      const n = family === 4 ? 4 : 16;
      for (let k = 0; k < n; k++) this.records[r + RecordField.ADDR + k] = address[addressAt + k] as number;
    }
  }
}

/** Formats 4 or 16 address bytes as text: @x/l2's RFC 5952 form, the one formatter in the workspace. */
export const formatAddress: (b: Uint8Array) => string = formatIpAddr;
