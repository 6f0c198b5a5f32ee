/**
 * The options of pasta alone that concern the namespace it serves: which
 * one to join and how (--userns, --netns, --netns-only), when to leave it
 * (--no-netns-quit), how its tap is named and set up (-I, --config-net,
 * --ns-mac-addr, the deprecated --no-copy-*), and where forwards from the
 * host's loopback land in it (--host-lo-to-ns-lo, --no-splice). Rows of the
 * one option table (option-table.ts), kept here as their own concern.
 */
import { parseMac } from "@x/l2";
import { need, type Spec } from "./option-spec.js";

export const PASTA_NAMESPACE_SPECS: Spec[] = [
  {
    long: "ns-ifname",
    short: "I",
    arg: "NAME",
    modes: ["pasta"],
    help: "The tap's name in the namespace",
    man: "The name of the tap interface made in the namespace.",
    dflt: "the template interface's name, else tap0",
    apply: (o, v) => (o.nsIfname = v),
  },
  {
    long: "host-lo-to-ns-lo",
    modes: ["pasta"],
    deprecated: true,
    help: "Host-loopback forwards land on the namespace's loopback",
    man: "Connections and datagrams forwarded with -t and -u from the host's loopback reach the namespace's loopback too. Without it they reach the namespace's own address, from that address, so that what listens only on the namespace's loopback is not exposed.",
    apply: (o) => (o.hostLoToNsLo = true),
  },
  {
    long: "userns",
    arg: "NSPATH",
    modes: ["pasta"],
    help: "The user namespace to join",
    dflt: "with a PID, that process's user namespace",
    apply: (o, v) => (o.userns = v),
  },
  {
    long: "netns",
    arg: "PATH|NAME",
    modes: ["pasta"],
    help: "The network namespace to join",
    man: "The network namespace to join, as a path, or as a name under /run/netns as ip-netns(8) names them. Not with a PID.",
    apply: (o, v) => (o.netns = v),
  },
  {
    long: "netns-only",
    modes: ["pasta"],
    help: "Join or make no user namespace",
    man: "Join only the network namespace, not a user namespace. Implied by --netns without --userns.",
    apply: (o) => (o.netnsOnly = true),
  },
  {
    long: "no-netns-quit",
    modes: ["pasta"],
    help: "Keep running when the joined namespace goes away",
    man: "Keep running when the joined namespace goes away: its file (--netns) is deleted, or its process (PID) ends.",
    apply: (o) => (o.noNetnsQuit = true),
  },
  {
    long: "config-net",
    modes: ["pasta"],
    help: "Give the tap its addresses, routes and MTU",
    man: "Give the namespace's tap its addresses, routes and MTU, and bring it up.",
    apply: (o) => (o.configNet = true),
  },
  {
    long: "no-copy-routes",
    modes: ["pasta"],
    deprecated: true,
    help: "Set only the default route (we never copy more)",
    man: "With --config-net, set only the default route. We never copy more than that: accepted for compatibility.",
    apply: (o) => (o.noCopyRoutes = true),
  },
  {
    long: "no-copy-addrs",
    modes: ["pasta"],
    deprecated: true,
    help: "Set one address per family (we never copy more)",
    man: "With --config-net, set a single address per family. We never set more than that: accepted for compatibility.",
    apply: (o) => (o.noCopyAddrs = true),
  },
  {
    long: "ns-mac-addr",
    arg: "ADDR",
    modes: ["pasta"],
    help: "The tap's MAC address",
    dflt: "the tap driver's pseudorandom address",
    apply: (o, v, n) => (o.nsMac = need(parseMac(v), n, v, "MAC address")),
  },
  {
    long: "no-splice",
    modes: ["pasta"],
    help: "Carry host-loopback forwards through the tap",
    man: "Carry forwarded traffic from the host's loopback through the tap like any other, instead of joining the sockets of the two loopbacks.",
    apply: (o) => (o.splice = false),
  },
];
