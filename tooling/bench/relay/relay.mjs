// Relay A: datagrams from one UDP socket to another, driven from JavaScript
// through @x/syscalls.
//
// The input socket is bound on 127.0.0.1:0 ("ready PORT" on stdout), the
// output one connected to the sink. A Watcher on libuv's loop calls back when
// the input is readable; the callback drains it with recvmmsg() into one
// RecvBatch (at most `drain` batches per call, then back to the loop, as the
// C relay returns to epoll) and forwards each batch with one sendmmsg() of a
// SendBatch whose (offset, length) pairs point into the same slab. Nothing is
// allocated per datagram.
//
// A partial send is retried at once from where it stopped; "would block"
// drops the rest of the batch; an error on the first message drops that one.
// SIGUSR2 prints "snap NS RECEIVED SENT DROPPED BATCHES WAKEUPS"; SIGTERM
// prints a last one and exits (which also writes a --cpu-prof profile).
//
// Arguments are name=value words, the same as the C relay's: sink=PORT,
// batch=64, drain=16, buf=BYTES, maxlife=SECONDS.

let sys;
try {
  sys = await import("@x/syscalls");
} catch (e) {
  // Until tooling/bench/* is a workspace glob, pnpm does not link this
  // package; fall back to the workspace copy so the benchmark still runs.
  if (e?.code !== "ERR_MODULE_NOT_FOUND") throw e;
  sys = await import(new URL("../../../packages/syscalls/dist/index.js", import.meta.url).href);
  process.stderr.write("relay.mjs: @x/syscalls not linked here, using packages/syscalls/dist\n");
}
const { udpSocket, bind, connect, getsockname, setBufferSizes, close, RecvBatch, SendBatch, recvmmsg, sendmmsg, Watcher, READABLE } = sys;

function opt(name, fallback) {
  const a = process.argv.find((w) => w.startsWith(`${name}=`));
  return a === undefined ? fallback : Number(a.slice(name.length + 1));
}

const SLOT = 2048;
const sinkPort = opt("sink", 0);
const batch = opt("batch", 64);
const drain = opt("drain", 16);
const buf = opt("buf", 16 << 20);
const maxLife = opt("maxlife", 120);
if (!(sinkPort > 0) || !(drain >= 1)) {
  process.stderr.write("usage: relay.mjs sink=PORT [batch=64] [drain=16] [buf=BYTES]\n");
  process.exit(2);
}

const input = udpSocket(4);
setBufferSizes(input, buf, buf);
bind(input, 4, "127.0.0.1", 0);
const output = udpSocket(4);
setBufferSizes(output, buf, buf);
connect(output, 4, "127.0.0.1", sinkPort);

const rb = new RecvBatch(batch, SLOT, 0);
const sb = new SendBatch(batch);
const slab = rb.slab;

let received = 0;
let sent = 0;
let batches = 0;
let wakeups = 0;

function onReadable(status) {
  if (status < 0) throw new Error(`watch on the input failed: libuv status ${status}`);
  wakeups++;
  for (let k = 0; k < drain; k++) {
    const n = recvmmsg(input, rb, batch);
    if (n === 0) break;
    received += n;
    batches++;
    sb.clear();
    for (let i = 0; i < n; i++) sb.push(i * SLOT, rb.length(i));
    let done = 0;
    while (done < n) {
      let s;
      try {
        s = sendmmsg(output, slab, sb, done);
      } catch {
        done++; // the first message failed (ECONNREFUSED...): drop it
        continue;
      }
      if (s === 0) break;
      done += s;
      sent += s;
    }
    if (n < batch) break; // the queue is empty: skip the call that would say so
  }
}

const watcher = new Watcher(input, READABLE, onReadable);

function snap() {
  process.stdout.write(`snap ${process.hrtime.bigint()} ${received} ${sent} ${received - sent} ${batches} ${wakeups}\n`);
}
function stop() {
  snap();
  watcher.close();
  close(input);
  close(output);
  process.exit(0);
}
process.on("SIGUSR2", snap);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

// The C programs die with the runner (PR_SET_PDEATHSIG) and after maxlife;
// Node cannot ask for the former, so it watches for being orphaned.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 250).unref();
setTimeout(() => process.exit(1), maxLife * 1000).unref();

process.stdout.write(`ready ${getsockname(input).port}\n`);
