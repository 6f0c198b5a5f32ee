// The package promises to run outside Node (browsers, workers). Proof without a browser:
// bundle src for the browser platform (esbuild refuses Node built-ins there) and run the
// bundle in a fresh V8 context that has only ECMAScript's globals and WebAssembly: no
// process, Buffer, require or TextEncoder. Inside it, build a UDP frame, locate its headers
// in a larger buffer with parseFrameHeaders, write it to a pcap file and take it back out of
// that file, parse it, and checksum with SIMD.
import { describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));

const exercise = `
  const { emitEthernet, emitIpv4, emitUdp, parseEthernet, EthernetFrame, parseIp, parseUdpBytes,
          parseFrameHeaders, FrameHeaders, FrameClass, pcapFile, checksumAccelerated, internetChecksum,
          isWireError } = l2;
  const src = new Uint8Array([198, 51, 100, 1]);
  const dst = new Uint8Array([203, 0, 113, 2]);
  const payload = new Uint8Array(1400).map((_, i) => i & 0xff);
  const frame = new Uint8Array(14 + 20 + 8 + payload.length);
  const udp = frame.subarray(34);
  emitUdp({ srcPort: 4000, dstPort: 5000, payload }, udp, src, dst);
  emitIpv4({ version: 4, src, dst, protocol: 17, ttl: 64, dscp: 0, ecn: 0, ident: 1, dontFragment: true,
             moreFragments: false, fragmentOffset: 0, options: new Uint8Array(0), payload: udp }, frame.subarray(14));
  emitEthernet({ dst: new Uint8Array([2, 0, 0, 0, 0, 2]), src: new Uint8Array([2, 0, 0, 0, 0, 1]), ethertype: 0x0800,
                 vlanId: null, vlanPriority: 0, payload: frame.subarray(14) }, frame);
  // The frame at an offset in a bigger buffer, as in a receive slab.
  const slab = new Uint8Array(3 + frame.length + 5);
  slab.set(frame, 3);
  const hdr = new FrameHeaders();
  const cls = parseFrameHeaders(slab, 3, frame.length, hdr);
  const pcap = pcapFile([{ frame, timeMicros: 1 }]);
  const back = pcap.subarray(24 + 16);
  const eth = parseEthernet(EthernetFrame.checked(back));
  const ip = parseIp(eth.payload);
  const u = parseUdpBytes(ip.payload, ip.src, ip.dst);
  result = {
    hasNodeGlobals: typeof process !== 'undefined' || typeof Buffer !== 'undefined' || typeof require !== 'undefined',
    errors: [eth, ip, u].some(isWireError),
    ports: [u.srcPort, u.dstPort],
    same: u.payload.every((b, i) => b === payload[i]) && u.payload.length === payload.length,
    accelerated: checksumAccelerated(),
    sum: internetChecksum(payload),
    headers: { ip: cls === FrameClass.Ip, family: hdr.family, protocol: hdr.protocol, l3At: hdr.l3At,
               srcAt: hdr.srcAt, dstAt: hdr.dstAt, l4At: hdr.l4At, l4End: hdr.l4End },
    pcapBytes: pcap.length,
  };`;

describe('outside Node', () => {
  it('runs from a browser bundle in a context with only ECMAScript globals and WebAssembly', async () => {
    const bundle = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'iife',
      globalName: 'l2',
      target: 'es2022',
      logLevel: 'silent',
    });
    const code = bundle.outputFiles[0]!.text;
    const context = vm.createContext({});
    vm.runInContext(`${code}\nlet result;\n${exercise}\nthis.out = JSON.stringify(result);`, context, { timeout: 10_000 });
    const result = JSON.parse((context as { out: string }).out) as Record<string, unknown>;
    let expected = 0;
    for (let i = 0; i < 1400; i += 2) expected += ((i & 0xff) << 8) | ((i + 1) & 0xff);
    while (expected > 0xffff) expected = (expected & 0xffff) + (expected >>> 16);
    expect(result).toEqual({
      hasNodeGlobals: false,
      errors: false,
      ports: [4000, 5000],
      same: true,
      accelerated: true,
      sum: ~expected & 0xffff,
      headers: { ip: true, family: 4, protocol: 17, l3At: 17, srcAt: 29, dstAt: 33, l4At: 37, l4End: 3 + 1442 },
      pcapBytes: 24 + 16 + 1442,
    });
  });
});
