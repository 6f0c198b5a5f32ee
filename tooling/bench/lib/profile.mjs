// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function,
// and the shares of native code, GC and idle.
import fs from "node:fs";
import path from "node:path";

export function summarise(file, top = 15) {
  const p = JSON.parse(fs.readFileSync(file, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    const n = byId.get(p.samples[i]);
    if (!n) continue;
    const cf = n.callFrame;
    const where = cf.url ? `${cf.url.replace(/^file:\/\//, "").split("/").slice(-3).join("/")}:${cf.lineNumber + 1}` : "";
    const key = `${cf.functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  const list = [...self.entries()].sort((a, b) => b[1] - a[1]);
  const share = (k) => (self.get(k) ?? 0) / total;
  return {
    file,
    totalMs: total / 1000,
    idle: share("(idle)"),
    gc: share("(garbage collector)"),
    program: share("(program)"),
    top: list.slice(0, top).map(([k, us]) => ({ fn: k, ms: us / 1000, share: us / total })),
  };
}

export function profileMarkdown(s, what) {
  const L = [];
  L.push(`Profile of ours' networking process (\`node --cpu-prof\` on the command line; Node refuses it in NODE_OPTIONS, and the launcher hands its execArgv to the networking child) during ${what}: ${s.totalMs.toFixed(0)} ms sampled; idle ${(s.idle * 100).toFixed(1)} %, GC ${(s.gc * 100).toFixed(1)} %, "(program)" (native code outside JS frames, e.g. libuv) ${(s.program * 100).toFixed(1)} %. Self time, top functions:`);
  L.push("");
  L.push("| function | self ms | share |");
  L.push("| --- | --- | --- |");
  for (const t of s.top) L.push(`| \`${t.fn.replace(/\|/g, "\\|")}\` | ${t.ms.toFixed(0)} | ${(t.share * 100).toFixed(1)} % |`);
  return L.join("\n");
}
