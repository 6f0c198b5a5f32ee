// Types for bench.mjs, for the TypeScript test that imports it.
export declare const REMOTE_TOOLS: string;
export declare const PORTS: { dns: number; udpEcho: number; tcpSource: number; fwdUdp: number; fwdTcp: number };
export declare const DNS_NAME: string;
export declare const DNS_A: string;
export declare const DNS_AAAA: string;
export declare const SEARCH: string;
export declare const BYTES: number;

export interface VmEvent {
  step: string;
  ok: boolean;
  at_ms: number;
  [key: string]: unknown;
}
export interface Row {
  name: string;
  ok: boolean;
  note: string;
}
export interface GuestPaths {
  dir: string;
  kernel: string;
  initrd: string;
  stamp: string;
}

export declare function ipv6Bytes(addr: string): Buffer;
export declare function parseVmLine(line: string): VmEvent | undefined;
export declare function scenarioNames(): string[];

export declare class VmBench {
  constructor(opts: {
    label: string;
    command: string[];
    prefix?: string;
    log?: (s: string) => void;
    passtArgs?: string[];
    onEvent?: (who: "guest" | "remote", e: VmEvent) => void;
  });
  readonly sock: string | undefined;
  readonly label: string;
  guest: GuestPaths | undefined;
  events: VmEvent[];
  remote: Record<string, Record<string, unknown>>;
  timeline: { guestReadyMs?: number; setupMs?: number; remoteSideMs?: number; vmMs?: number };
  qemuCode: number | string | undefined;
  serial: string | undefined;
  dnsLog: Array<Record<string, unknown>> | undefined;
  setup(): Promise<void>;
  run(): Promise<void>;
  step(name: string): VmEvent | undefined;
  all(name: string): VmEvent[];
  judge(): Row[];
  passtTail(n?: number): string;
  serialTail(n?: number): string;
  qemuArgv(): string[];
  remove(): Promise<void>;
}
