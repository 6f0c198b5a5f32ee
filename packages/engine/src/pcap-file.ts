/**
 * --pcap: every frame between us and the guest, both directions, written to
 * a classic libpcap file that tcpdump, tshark and Wireshark read. Writes are
 * synchronous and per frame: capturing is for debugging, and a capture that
 * loses its last frames when the process is killed would hide exactly the
 * frames one was looking for.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { pcapHeader, writePcapRecordHeader, PCAP_RECORD_HEADER_LEN } from "@x/l2";

export class PcapFile {
  private fd: number;
  private readonly hdr = new Uint8Array(PCAP_RECORD_HEADER_LEN);

  constructor(readonly path: string) {
    this.fd = openSync(path, "w", 0o644);
    writeSync(this.fd, pcapHeader());
  }

  /** Records one frame (a view; not kept). */
  frame(frame: Uint8Array): void {
    if (this.fd < 0) return;
    const us = Math.round((performance.timeOrigin + performance.now()) * 1000);
    const incl = writePcapRecordHeader(frame.length, us, this.hdr);
    writeSync(this.fd, this.hdr);
    writeSync(this.fd, frame, 0, incl);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
