// The package promises to run outside Node (browsers, workers). Proof without a browser:
// bundle src for the browser platform (esbuild refuses Node built-ins there) and run the
// bundle in a fresh V8 context that has only ECMAScript's globals and WebAssembly: no
// process, Buffer, require or TextEncoder. Inside it, build a UDP frame, parse it back,
// carry it through the qemu stream framing and a pcap file, and checksum with SIMD.
import { describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));

const exercise = `
  const { emitEthernet, emitIpv4, emitUdp, parseEthernet, EthernetFrame, parseIp, parseUdpBytes,
          encodeStreamMessages, StreamDecoder, pcapFile, checksumAccelerated, internetChecksum,
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
  const [message] = encodeStreamMessages([frame]);
  const decoder = new StreamDecoder();
  const back = [...decoder.decode(message.subarray(0, 7)), ...decoder.decode(message.subarray(7))];
  const eth = parseEthernet(EthernetFrame.checked(back[0]));
  const ip = parseIp(eth.payload);
  const u = parseUdpBytes(ip.payload, ip.src, ip.dst);
  result = {
    hasNodeGlobals: typeof process !== 'undefined' || typeof Buffer !== 'undefined' || typeof require !== 'undefined',
    errors: [eth, ip, u].some(isWireError),
    ports: [u.srcPort, u.dstPort],
    same: u.payload.every((b, i) => b === payload[i]) && u.payload.length === payload.length,
    accelerated: checksumAccelerated(),
    sum: internetChecksum(payload),
    pcapBytes: pcapFile([{ frame, timeMicros: 1 }]).length,
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
      pcapBytes: 24 + 16 + 1442,
    });
  });
});
