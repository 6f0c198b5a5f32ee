// A smoke demo of the native layer: a watched UDP socket receives a batch
// sent with one sendmmsg(), on IPv4 and IPv6 loopback.
import { READABLE, RecvBatch, SendBatch, Watcher, bind, close, getsockname, recvmmsg, sendmmsg, udpSocket } from "@x/syscalls";

for (const family of [4, 6]) {
  const lo = family === 4 ? "127.0.0.1" : "::1";
  const loBytes = family === 4 ? new Uint8Array([127, 0, 0, 1]) : Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? 1 : 0));
  const rx = udpSocket(family);
  const tx = udpSocket(family);
  bind(rx, family, lo, 0);
  const port = getsockname(rx).port;
  const batch = new RecvBatch(64, 2048, 64);
  await new Promise((resolve) => {
    let got = 0;
    const w = new Watcher(rx, READABLE, () => {
      got += recvmmsg(rx, batch);
      if (got >= 32) {
        console.log(`IPv${family}: ${got} datagrams from ${batch.address(0)}:${batch.port(0)}, first "${new TextDecoder().decode(batch.payload(0))}"`);
        w.close();
        resolve();
      }
    });
    const slab = new TextEncoder().encode("hello from sendmmsg");
    const send = new SendBatch(32);
    for (let i = 0; i < 32; i++) send.push(0, slab.length, family, loBytes, port);
    console.log(`IPv${family}: sent ${sendmmsg(tx, slab, send)} datagrams in one call`);
  });
  close(rx);
  close(tx);
}
