// The Node side of floor.mjs, on our own binding: the relay of
// floor-relay.c, each wake-up one recvmmsg and one sendmmsg over reused
// batches. What it adds to the C relay's round trip is Node's wake-up path
// and the N-API boundary, with none of pasta's work.
//
//   node floor-relay.mjs LISTEN TARGET poll    one libuv poll per socket (pasta's tap and listeners)
//   node floor-relay.mjs LISTEN TARGET epoll   both sockets in one EpollSet (pasta's UDP and TCP sockets)
const sys = await import(new URL("../../../packages/syscalls/dist/index.js", import.meta.url).href);
const [listen, target] = process.argv.slice(2, 4).map(Number);
const mode = process.argv[4] ?? "poll";
const l = sys.udpSocket(4);
sys.bind(l, 4, "127.0.0.1", listen);
const t = sys.udpSocket(4);
sys.connect(t, 4, "127.0.0.1", target);
const rb = new sys.RecvBatch(32, 2048, 0);
const sb = new sys.SendBatch(32);
const peer = new Uint8Array(4);
let peerPort = 0;
function forth() {
  const n = sys.recvmmsg(l, rb);
  sb.clear();
  for (let i = 0; i < n; i++) sb.push(rb.payloadOffset(i), rb.length(i));
  if (n > 0) {
    peer.set(rb.addressBytes(n - 1));
    peerPort = rb.port(n - 1);
    sys.sendmmsg(t, rb.slab, sb);
  }
}
function back() {
  const n = sys.recvmmsg(t, rb);
  sb.clear();
  for (let i = 0; i < n; i++) sb.push(rb.payloadOffset(i), rb.length(i), 4, peer, peerPort);
  if (n > 0) sys.sendmmsg(l, rb.slab, sb);
}
if (mode === "epoll") {
  const set = new sys.EpollSet((token) => (token === 0 ? forth() : back()));
  set.add(l, sys.Epoll.IN, 0);
  set.add(t, sys.Epoll.IN, 1);
} else {
  new sys.Watcher(l, sys.READABLE, forth);
  new sys.Watcher(t, sys.READABLE, back);
}
process.stdout.write("ready\n");
