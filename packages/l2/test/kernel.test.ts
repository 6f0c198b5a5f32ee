// Checksums against the kernel's. We send UDP datagrams over real loopback sockets (127.0.0.1 and ::1)
// while tshark captures lo into a classic pcap, then take the captured frames apart with our parsers.
//
// Finding: on `lo` Linux uses checksum offload (CHECKSUM_PARTIAL), so the captured UDP checksum field holds
// only the folded pseudo-header sum the kernel seeded for the "hardware" to finish, not a full checksum
// (tshark reports these as bad too). The test therefore checks, per datagram, that
//   (a) either the checksum verifies, or the field equals our pseudoHeaderSum(src, dst, 17, length)
//       bit for bit, which is the kernel's own csum_tcpudp_magic seed: this judges our pseudo-header code; and
//   (b) the complete checksum our emitUdp computes for that same datagram equals the one scapy computes.
import { spawn, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EthernetFrame,
  UdpPacket,
  emitUdp,
  formatIpAddr,
  get16,
  parseEthernet,
  parseIp,
  parseUdp,
  pseudoHeaderSum,
  type WireError,
} from '../src/index.js';
import { ok } from './helpers.js';

function readPcap(b: Uint8Array): Uint8Array[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  expect(dv.getUint32(0, true)).toBe(0xa1b2c3d4);
  const frames: Uint8Array[] = [];
  for (let at = 24; at + 16 <= b.length; ) {
    const incl = dv.getUint32(at + 8, true);
    frames.push(b.subarray(at + 16, at + 16 + incl));
    at += 16 + incl;
  }
  return frames;
}

async function send(family: 'udp4' | 'udp6', host: string, port: number, payload: Uint8Array): Promise<void> {
  const s = createSocket(family);
  await new Promise<void>((res, rej) => s.send(payload, port, host, (e) => (e ? rej(e) : res())));
  s.close();
}

describe('UDP checksums against the kernel (loopback capture)', () => {
  it('captured datagrams: pseudo-header matches the kernel, full checksum matches scapy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'l2-kernel-'));
    const file = join(dir, 'lo.pcap');
    const port = 40000 + (process.pid % 20000);
    const payloads = [new TextEncoder().encode('hello kernel'), new Uint8Array(1001).map((_, i) => (i * 7) & 0xff)];
    const ts = spawn('tshark', ['-i', 'lo', '-c', '4', '-F', 'pcap', '-w', file, '-f', `udp port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error('tshark did not start')), 10000);
      ts.stderr.on('data', (d: Buffer) => {
        if (d.toString().includes('Capturing on')) {
          clearTimeout(timer);
          res();
        }
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    for (const p of payloads) {
      await send('udp4', '127.0.0.1', port, p);
      await send('udp6', '::1', port, p);
    }
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => {
        ts.kill();
        rej(new Error('tshark did not capture 4 packets'));
      }, 10000);
      ts.on('exit', () => {
        clearTimeout(timer);
        res();
      });
    });
    const frames = readPcap(new Uint8Array(readFileSync(file)));
    expect(frames).toHaveLength(4);
    let partial = 0;
    const lines: string[] = [];
    const ours: number[] = [];
    for (const frame of frames) {
      const eth = ok(parseEthernet(ok(EthernetFrame.checked(frame))));
      const ip = ok(parseIp(eth.payload));
      const view = ok(UdpPacket.checked(ip.payload));
      const captured = view.checksum;
      const verified = parseUdp(view, ip.src, ip.dst);
      if ((verified as WireError).kind === 'BadChecksum') {
        partial++;
        expect(captured).toBe(pseudoHeaderSum(ip.src, ip.dst, 17, view.length));
      }
      const repr = ok(parseUdp(view, ip.src, ip.dst, false));
      const out = new Uint8Array(view.length);
      ok(emitUdp(repr, out, ip.src, ip.dst));
      ours.push(get16(out, 6));
      // And our parser accepts the completed datagram.
      ok(parseUdp(ok(UdpPacket.checked(out)), ip.src, ip.dst));
      const L = ip.version === 6 ? 'IPv6' : 'IP';
      lines.push(`print(${L}(bytes(${L}(src='${formatIpAddr(ip.src)}',dst='${formatIpAddr(ip.dst)}')/UDP(sport=${repr.srcPort},dport=${repr.dstPort})/bytes.fromhex('${Buffer.from(repr.payload).toString('hex')}')))[UDP].chksum)`);
    }
    const script = ['import logging', 'logging.getLogger("scapy.runtime").setLevel(logging.ERROR)', 'from scapy.all import *', ...lines].join('\n');
    const scapy = execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').map(Number);
    expect(ours).toEqual(scapy);
    console.log(`loopback: ${partial}/4 captured UDP checksums were CHECKSUM_PARTIAL seeds (offload), matched against pseudoHeaderSum`);
  }, 30000);
});
