#!/usr/bin/env node
// Builds the test guest for tooling/vm: Debian 12's cloud kernel and an
// initramfs (cpio newc, gzip) holding busybox-static, the virtio-net
// modules, gt (guest-tool/, static Go) and guest/init. Everything lands in
// the cache directory (PASST_VM_CACHE, default <repo>/.cache/vm):
//
//   debs/     the .deb files, as `apt-get download` fetched them (kept)
//   kernel/   the kernel package unpacked with dpkg-deb -x, depmod -b run on it
//   guest/    vmlinuz, initrd.gz, gt, stamp.json
//
// The packages are fetched only when debs/ lacks them; the initramfs is
// rebuilt only when it is missing or one of its inputs (this script,
// guest/, guest-tool/) changed. Needs apt-get and dpkg-deb (Debian), depmod
// (package kmod) and Go (PATH, else /usr/local/go/bin/go). busybox-static
// is downloaded, not installed: it would replace the host's busybox.
//
//   node tooling/vm/build-guest.mjs [--force]     prints the paths as JSON
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
export const CACHE = process.env.PASST_VM_CACHE || join(ROOT, ".cache", "vm");
const KERNEL_META = "linux-image-cloud-amd64";
/** What the guest needs loaded, in the order the kernel's own docs give; builtins are skipped. */
const WANTED = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "failover", "net_failover", "virtio_net"];

const say = (msg) => process.stderr.write(`build-guest: ${msg}\n`);

function run(argv, opts = {}) {
  return execFileSync(argv[0], argv.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000, ...opts });
}

function which(name, fallbacks = []) {
  for (const d of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
    if (d && existsSync(join(d, name))) return join(d, name);
  }
  return fallbacks.find((p) => existsSync(p));
}

/** The paths of a built guest (which may not exist yet). */
export function guestPaths() {
  const g = join(CACHE, "guest");
  return { dir: g, kernel: join(g, "vmlinuz"), initrd: join(g, "initrd.gz"), stamp: join(g, "stamp.json") };
}

function inputsHash() {
  const h = createHash("sha256");
  const files = [fileURLToPath(import.meta.url)];
  for (const d of ["guest", "guest-tool"]) for (const f of readdirSync(join(HERE, d)).sort()) files.push(join(HERE, d, f));
  for (const f of files) {
    if (!lstatSync(f).isFile()) continue;
    h.update(relative(HERE, f)).update("\0").update(readFileSync(f)).update("\0");
  }
  return h.digest("hex");
}

/** True when the guest exists and was built from the current inputs. */
export function guestIsCurrent() {
  const p = guestPaths();
  if (!existsSync(p.kernel) || !existsSync(p.initrd) || !existsSync(p.stamp)) return false;
  try {
    return JSON.parse(readFileSync(p.stamp, "utf8")).inputs === inputsHash();
  } catch {
    return false;
  }
}

function aptDownload(dir, pkgs) {
  try {
    run(["apt-get", "download", ...pkgs], { cwd: dir });
  } catch (e) {
    say(`apt-get download failed (${String(e.stderr ?? e.message).trim().split("\n").pop()}); running apt-get update`);
    run(["apt-get", "update", "-q"]);
    run(["apt-get", "download", ...pkgs], { cwd: dir });
  }
}

function fetchDebs() {
  const dir = join(CACHE, "debs");
  mkdirSync(dir, { recursive: true });
  const have = () => readdirSync(dir).filter((f) => f.endsWith(".deb"));
  let kernel = have().find((f) => /^linux-image-6\.1\.[^_]*-cloud-amd64_/.test(f));
  if (!kernel) {
    // The metapackage only depends on the versioned image package.
    let deps = "";
    try {
      deps = run(["apt-cache", "depends", KERNEL_META]);
    } catch {
      run(["apt-get", "update", "-q"]);
      deps = run(["apt-cache", "depends", KERNEL_META]);
    }
    const real = /Depends:\s*(linux-image-6\.1\.\S+-cloud-amd64)/.exec(deps)?.[1];
    if (!real) throw new Error(`apt-cache depends ${KERNEL_META} names no linux-image-6.1.*-cloud-amd64:\n${deps}`);
    say(`downloading ${real}`);
    aptDownload(dir, [real]);
    kernel = have().find((f) => f.startsWith(`${real}_`));
    if (!kernel) throw new Error(`apt-get download ${real} left no .deb in ${dir}`);
  }
  let busybox = have().find((f) => f.startsWith("busybox-static_"));
  if (!busybox) {
    say("downloading busybox-static");
    aptDownload(dir, ["busybox-static"]);
    busybox = have().find((f) => f.startsWith("busybox-static_"));
    if (!busybox) throw new Error(`apt-get download busybox-static left no .deb in ${dir}`);
  }
  return { kernelDeb: join(dir, kernel), busyboxDeb: join(dir, busybox) };
}

function unpackKernel(deb) {
  const dir = join(CACHE, "kernel");
  const mark = join(dir, ".from");
  if (!existsSync(mark) || readFileSync(mark, "utf8") !== deb) {
    say(`unpacking ${deb}`);
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    run(["dpkg-deb", "-x", deb, tmp]);
    const version = readdirSync(join(tmp, "lib", "modules"))[0];
    const depmod = which("depmod");
    if (!depmod) throw new Error("depmod not found: install the kmod package");
    run([depmod, "-b", tmp, version]);
    writeFileSync(join(tmp, ".from"), deb);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  const version = readdirSync(join(dir, "lib", "modules"))[0];
  return { dir, version, vmlinuz: join(dir, "boot", `vmlinuz-${version}`), modules: join(dir, "lib", "modules", version) };
}

/** The modules to insmod, dependencies first, from modules.dep; builtins left out. */
function moduleOrder(modulesDir) {
  const name = (path) => path.split("/").pop().replace(/\.ko(\.[a-z]+)?$/, "").replace(/-/g, "_");
  const deps = new Map();
  for (const line of readFileSync(join(modulesDir, "modules.dep"), "utf8").split("\n")) {
    const [mod, rest] = line.split(":");
    if (!mod || rest === undefined) continue;
    deps.set(name(mod), { path: mod, deps: rest.trim().split(/\s+/).filter(Boolean).map(name) });
  }
  const builtin = new Set(
    readFileSync(join(modulesDir, "modules.builtin"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map(name),
  );
  const order = [];
  const seen = new Set();
  const visit = (m) => {
    if (seen.has(m)) return;
    seen.add(m);
    if (builtin.has(m)) return;
    const d = deps.get(m);
    if (!d) throw new Error(`module ${m} is neither in modules.dep nor built in`);
    for (const x of d.deps) visit(x);
    order.push(d.path);
  };
  for (const m of WANTED) visit(m);
  return { order, builtin: WANTED.filter((m) => builtin.has(m)) };
}

function buildTool(out) {
  const go = which("go", ["/usr/local/go/bin/go"]);
  if (!go) throw new Error("go not found (PATH or /usr/local/go/bin/go)");
  say(`building gt with ${go}`);
  run([go, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "."], {
    cwd: join(HERE, "guest-tool"),
    env: {
      ...process.env,
      CGO_ENABLED: "0",
      GOOS: "linux",
      GOARCH: "amd64",
      GOTOOLCHAIN: "local",
      GOFLAGS: "",
      GOCACHE: process.env.GOCACHE || join(CACHE, "go-build"),
      HOME: process.env.HOME || CACHE,
    },
  });
}

/** A cpio "newc" archive, written here: every header field is 8 hex digits. */
class Cpio {
  chunks = [];
  ino = 1;
  size = 0;
  push(b) {
    this.chunks.push(b);
    this.size += b.length;
  }
  pad() {
    const n = (4 - (this.size % 4)) % 4;
    if (n) this.push(Buffer.alloc(n));
  }
  entry(name, mode, data = Buffer.alloc(0), rdev = [0, 0]) {
    const f = (n) => n.toString(16).padStart(8, "0");
    const nameBuf = Buffer.from(`${name}\0`);
    const fields = [this.ino++, mode, 0, 0, (mode & 0o170000) === 0o040000 ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0];
    this.push(Buffer.from(`070701${fields.map(f).join("")}`));
    this.push(nameBuf);
    this.pad();
    this.push(data);
    this.pad();
  }
  dir(name) {
    this.entry(name, 0o040755);
  }
  file(name, data, perm = 0o644) {
    this.entry(name, 0o100000 | perm, data);
  }
  symlink(name, target) {
    this.entry(name, 0o120777, Buffer.from(target));
  }
  chardev(name, major, minor, perm = 0o600) {
    this.entry(name, 0o020000 | perm, Buffer.alloc(0), [major, minor]);
  }
  finish() {
    this.entry("TRAILER!!!", 0);
    return Buffer.concat(this.chunks);
  }
}

function initramfs(kernel, busyboxDeb, gt) {
  const bbDir = join(CACHE, "busybox");
  rmSync(bbDir, { recursive: true, force: true });
  run(["dpkg-deb", "-x", busyboxDeb, bbDir]);
  const { order, builtin } = moduleOrder(kernel.modules);
  const c = new Cpio();
  for (const d of ["bin", "dev", "etc", "proc", "sys", "tmp", "lib", "lib/modules", `lib/modules/${kernel.version}`]) c.dir(d);
  c.chardev("dev/console", 5, 1);
  c.chardev("dev/null", 1, 3, 0o666);
  c.file("bin/busybox", readFileSync(join(bbDir, "bin", "busybox")), 0o755);
  c.symlink("bin/sh", "busybox");
  c.file("bin/gt", readFileSync(gt), 0o755);
  c.file("init", readFileSync(join(HERE, "guest", "init")), 0o755);
  c.file("etc/dhcp.sh", readFileSync(join(HERE, "guest", "dhcp.sh")), 0o755);
  c.file("etc/modules.order", Buffer.from(order.map((p) => `${p}\n`).join("")));
  const made = new Set();
  for (const p of order) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = `lib/modules/${kernel.version}/${parts.slice(0, i).join("/")}`;
      if (!made.has(d)) c.dir(d);
      made.add(d);
    }
    c.file(`lib/modules/${kernel.version}/${p}`, readFileSync(join(kernel.modules, p)));
  }
  rmSync(bbDir, { recursive: true, force: true });
  return { data: gzipSync(c.finish(), { level: 6 }), order, builtin };
}

/** Builds the guest unless it is current; returns its paths. */
export function ensureGuest({ force = false } = {}) {
  const p = guestPaths();
  if (!force && guestIsCurrent()) return p;
  const t0 = Date.now();
  const { kernelDeb, busyboxDeb } = fetchDebs();
  const kernel = unpackKernel(kernelDeb);
  mkdirSync(p.dir, { recursive: true });
  const gt = join(p.dir, "gt");
  buildTool(gt);
  const { data, order, builtin } = initramfs(kernel, busyboxDeb, gt);
  writeFileSync(`${p.initrd}.tmp`, data);
  renameSync(`${p.initrd}.tmp`, p.initrd);
  copyFileSync(kernel.vmlinuz, p.kernel);
  const stamp = {
    inputs: inputsHash(),
    kernelVersion: kernel.version,
    kernelDeb: kernelDeb.split("/").pop(),
    busyboxDeb: busyboxDeb.split("/").pop(),
    modules: order,
    builtin,
    initrdBytes: data.length,
    built: new Date().toISOString(),
  };
  writeFileSync(p.stamp, `${JSON.stringify(stamp, null, 2)}\n`);
  say(`guest built in ${Date.now() - t0} ms: kernel ${kernel.version}, ${order.length} modules, initrd ${(data.length / 1048576).toFixed(1)} MiB`);
  return p;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const p = ensureGuest({ force: process.argv.includes("--force") });
    process.stdout.write(`${JSON.stringify({ ...p, ...JSON.parse(readFileSync(p.stamp, "utf8")) }, null, 2)}\n`);
  } catch (e) {
    say(`failed: ${e.stderr ? String(e.stderr).trim() : e.message}`);
    process.exit(1);
  }
}
