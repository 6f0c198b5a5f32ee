/**
 * The host's template interface, read over rtnetlink in Node's own (the
 * host's) network namespace: the interface with the default route, or the
 * one named by -i, with its addresses, gateways, MTU and MAC.
 */
import { Rtnl } from "@x/netlink";
import type { HostTemplate } from "./net-config.js";

export async function hostTemplate(ifname?: string): Promise<HostTemplate> {
  const nl = Rtnl.open();
  try {
    const t = await nl.templateInterface(ifname ? { ifname } : {});
    const out: HostTemplate = { ifname: t.name, ifindex: t.ifindex, mtu: t.mtu ?? 1500 };
    if (t.mac) out.mac = t.mac;
    if (t.ip4?.address) out.addr4 = { address: t.ip4.address.bytes, prefixLen: t.ip4.prefixLen ?? 24 };
    if (t.ip4?.gateway) out.gw4 = t.ip4.gateway.bytes;
    if (t.ip6?.address) out.addr6 = { address: t.ip6.address.bytes, prefixLen: t.ip6.prefixLen ?? 64 };
    if (t.ip6?.gateway) out.gw6 = t.ip6.gateway.bytes;
    if (t.ip6?.linkLocal) out.linkLocal6 = t.ip6.linkLocal.bytes;
    return out;
  } finally {
    nl.close();
  }
}
