/**
 * Theory of operation.
 *
 * Flows in text, for the SIGUSR1 counters, debugging and, later, a control
 * socket: every live flow with its type, family, idle time and both sides
 * as `pif ours -> endpoint`. It allocates freely, and reads the table only
 * through its public accessors, so it can never disturb a data path.
 */
import { formatAddress } from './address.js';
import { FlowType, TYPE_NAMES, type FlowTable } from './table.js';
import type { Family } from './address.js';

/** One side, in text. */
export interface FlowSideInfo {
  pif: 'tap' | 'host' | 'splice' | 'none';
  ours: string;
  endpoint: string;
}

export interface FlowInfo {
  flow: number;
  type: (typeof TYPE_NAMES)[number];
  family: Family;
  idleMs: number;
  sides: [FlowSideInfo, FlowSideInfo];
}

const PIF_NAMES = ['none', 'tap', 'host', 'splice'] as const;

export function listFlows(t: FlowTable, now: number): FlowInfo[] {
  const out: FlowInfo[] = [];
  const a = new Uint8Array(16);
  for (let f = 0; f < t.capacity; f++) {
    const type = t.typeOf(f);
    if (type === FlowType.None) continue;
    const fam = t.familyOf(f);
    const fmt = (port: number): string => {
      const text = formatAddress(fam, a, 0);
      return fam.family === 6 ? `[${text}]:${port}` : `${text}:${port}`;
    };
    const side = (s: 0 | 1): FlowSideInfo => {
      t.ourAddr(f, s, a, 0);
      const ours = fmt(t.ourPort(f, s));
      t.endAddr(f, s, a, 0);
      return { pif: PIF_NAMES[t.pifOf(f, s)] ?? 'none', ours, endpoint: fmt(t.endPort(f, s)) };
    };
    out.push({ flow: f, type: TYPE_NAMES[type] ?? 'none', family: fam.family, idleMs: now - t.lastUsed(f), sides: [side(0), side(1)] });
  }
  return out;
}
