// The V8 peer of bench/peer_bench: the same WebAssembly commands run per
// request by Node's V8, two ways, driven over stdin/stdout by peer_bench
// (one JSON object a line each way), so that its rounds interleave V8
// with the pool and the stock runtime in one run.
//
//   v8-fresh    a fresh instance per request: new WebAssembly.Instance of
//               the module compiled once, then _start;
//   v8-restore  one instance, restored before each request to its state
//               just after instantiation: its memory copied back from a
//               snapshot, what the memory grew zeroed (a memory cannot
//               shrink), every mutable global set back (the module is
//               rewritten to export them: rewriteExports below). What a V8
//               user who wants per-request isolation cheaply does. It
//               restores no table and no dropped data segment: the example
//               guests write neither.
//
// Both give the guest the same WASI preview 1 as the runtime does for
// these guests (wasiImports): arguments, stdin from bytes, stdout and
// stderr into buffers, streams of filetype unknown with the runtime's
// rights, no preopens; any other WASI function answers ENOSYS.
//
// Requests in:  {"cmd":"load","guest":G,"path":P,"args":[...],"stdin":HEX}
//               {"cmd":"run","guest":G,"variant":"v8-fresh"|"v8-restore",
//                "requests":N,"only_instantiate":BOOL}
//               {"cmd":"quit"}
// Replies out:  {"ok":true,...} or {"ok":false,"error":...}; a run replies
//               ns (wall, all requests), cpu_ns (the process's user and
//               system time: V8's compiler and GC threads included),
//               p50_ns, exit, trap, out (the last request's stdout, hex),
//               same (every request's stdout equal to the first's).
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { webcrypto } from 'node:crypto';

const ESUCCESS = 0, EBADF = 8, EFAULT = 21, EINVAL = 28, ENOSYS = 52, ESPIPE = 70;
// The runtime's rights for the streams (runtime/wasi_fd.c): read or write,
// fdstat_set_flags, filestat_get, poll_fd_readwrite.
const R_FD_READ = 1n << 1n, R_FD_WRITE = 1n << 6n, R_FDSTAT_SET_FLAGS = 1n << 3n;
const R_FILESTAT_GET = 1n << 21n, R_POLL = 1n << 27n;
const STREAM = R_FDSTAT_SET_FLAGS | R_FILESTAT_GET | R_POLL;

class Exit {
  constructor(code) { this.code = code; }
}

// One request's world: arguments, stdin, output buffers; the memory of
// the instance it runs in.
class Wasi {
  constructor(args, stdin) {
    const enc = new TextEncoder();
    this.args = args.map((a) => enc.encode(a + '\0'));
    this.stdin = stdin;
    this.pos = 0;
    this.out = Buffer.allocUnsafe(1 << 16);
    this.outLen = 0;
    this.err = Buffer.allocUnsafe(1 << 12);
    this.errLen = 0;
    this.memory = null;
    this.u8 = null;
    this.dv = null;
  }
  reset() {
    this.pos = 0;
    this.outLen = 0;
    this.errLen = 0;
  }
  view() {
    const b = this.memory.buffer;
    if (!this.u8 || this.u8.buffer !== b) {
      this.u8 = new Uint8Array(b);
      this.dv = new DataView(b);
    }
    return this.dv;
  }
  inBounds(p, n) { return p + n <= this.u8.length; }
  append(which, src) {
    let buf = which === 1 ? this.out : this.err;
    let len = which === 1 ? this.outLen : this.errLen;
    if (len + src.length > buf.length) {
      const nb = Buffer.allocUnsafe(Math.max(buf.length * 2, len + src.length));
      buf.copy(nb, 0, 0, len);
      buf = nb;
    }
    buf.set(src, len);
    if (which === 1) this.out = buf, this.outLen = len + src.length;
    else this.err = buf, this.errLen = len + src.length;
  }
  imports() {
    const w = this;
    const sizes = (list, countP, sizeP) => {
      const dv = w.view();
      if (!w.inBounds(countP, 4) || !w.inBounds(sizeP, 4)) return EFAULT;
      dv.setUint32(countP, list.length, true);
      dv.setUint32(sizeP, list.reduce((n, a) => n + a.length, 0), true);
      return ESUCCESS;
    };
    const fill = (list, ptrs, buf) => {
      const dv = w.view();
      let need = list.reduce((n, a) => n + a.length, 0);
      if (!w.inBounds(ptrs, 4 * list.length) || !w.inBounds(buf, need)) return EFAULT;
      for (let i = 0; i < list.length; i++) {
        dv.setUint32(ptrs + 4 * i, buf, true);
        w.u8.set(list[i], buf);
        buf += list[i].length;
      }
      return ESUCCESS;
    };
    const wasi = {
      args_sizes_get: (c, s) => sizes(w.args, c, s),
      args_get: (p, b) => fill(w.args, p, b),
      environ_sizes_get: (c, s) => sizes([], c, s),
      environ_get: (p, b) => fill([], p, b),
      fd_write: (fd, iovs, n, nwritten) => {
        if (fd !== 1 && fd !== 2) return EBADF;
        const dv = w.view();
        if (!w.inBounds(iovs, 8 * n) || !w.inBounds(nwritten, 4)) return EFAULT;
        let total = 0;
        for (let i = 0; i < n; i++) {
          const p = dv.getUint32(iovs + 8 * i, true), l = dv.getUint32(iovs + 8 * i + 4, true);
          if (!w.inBounds(p, l)) return EFAULT;
          w.append(fd, w.u8.subarray(p, p + l));
          total += l;
        }
        dv.setUint32(nwritten, total, true);
        return ESUCCESS;
      },
      fd_read: (fd, iovs, n, nread) => {
        if (fd !== 0) return EBADF;
        const dv = w.view();
        if (!w.inBounds(iovs, 8 * n) || !w.inBounds(nread, 4)) return EFAULT;
        let total = 0;
        for (let i = 0; i < n && w.pos < w.stdin.length; i++) {
          const p = dv.getUint32(iovs + 8 * i, true), l = dv.getUint32(iovs + 8 * i + 4, true);
          if (!w.inBounds(p, l)) return EFAULT;
          const k = Math.min(l, w.stdin.length - w.pos);
          w.u8.set(w.stdin.subarray(w.pos, w.pos + k), p);
          w.pos += k;
          total += k;
        }
        dv.setUint32(nread, total, true);
        return ESUCCESS;
      },
      fd_fdstat_get: (fd, buf) => {
        if (fd > 2) return EBADF;
        const dv = w.view();
        if (!w.inBounds(buf, 24)) return EFAULT;
        for (let i = 0; i < 24; i += 4) dv.setUint32(buf + i, 0, true);
        dv.setBigUint64(buf + 8, (fd === 0 ? R_FD_READ : R_FD_WRITE) | STREAM, true);
        return ESUCCESS;
      },
      fd_seek: (fd) => (fd > 2 ? EBADF : ESPIPE),
      fd_close: (fd) => (fd > 2 ? EBADF : ESUCCESS),
      fd_prestat_get: () => EBADF,
      fd_prestat_dir_name: () => EBADF,
      proc_exit: (code) => {
        throw new Exit(code);
      },
      clock_time_get: (id, prec, out) => {
        const dv = w.view();
        if (id > 3) return EINVAL;
        if (!w.inBounds(out, 8)) return EFAULT;
        const t = id === 0 ? BigInt(Date.now()) * 1000000n : process.hrtime.bigint();
        dv.setBigUint64(out, t, true);
        return ESUCCESS;
      },
      random_get: (buf, len) => {
        w.view();
        if (!w.inBounds(buf, len)) return EFAULT;
        for (let k = 0; k < len; k += 65536) // at most 64 KiB a call
          webcrypto.getRandomValues(w.u8.subarray(buf + k, buf + Math.min(len, k + 65536)));
        return ESUCCESS;
      },
    };
    return new Proxy(wasi, { get: (t, k) => t[k] ?? (() => ENOSYS) });
  }
}

// ---- the module rewrite: export every mutable global ------------------------

function leb(bytes, pos) {
  let v = 0, shift = 0, b;
  do {
    b = bytes[pos++];
    v += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return [v, pos];
}
function sleb_skip(bytes, pos) {
  while (bytes[pos++] & 0x80);
  return pos;
}
function uleb_bytes(v) {
  const out = [];
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}
function skip_limits(bytes, pos) {
  const flags = bytes[pos++];
  [, pos] = leb(bytes, pos);
  if (flags & 1) [, pos] = leb(bytes, pos);
  return pos;
}
function skip_init(bytes, pos) {
  for (;;) {
    const op = bytes[pos++];
    if (op === 0x0b) return pos;
    if (op === 0x41 || op === 0x42) pos = sleb_skip(bytes, pos);
    else if (op === 0x43) pos += 4;
    else if (op === 0x44) pos += 8;
    else if (op === 0x23 || op === 0xd2) [, pos] = leb(bytes, pos);
    else if (op === 0xd0) pos += 1;
    else if ([0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e].includes(op)) continue;
    else throw new Error(`global initialiser: opcode 0x${op.toString(16)} not handled`);
  }
}

// The module's bytes with an export "__wpool_global_<i>" added for each
// mutable global it defines; and the names.
export function rewriteExports(bytes) {
  if (bytes.length < 8 || bytes.readUInt32LE(0) !== 0x6d736100) throw new Error('not wasm');
  const sections = [];
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos];
    const [len, body] = leb(bytes, pos + 1);
    sections.push({ id, start: pos, body, end: body + len });
    pos = body + len;
  }
  let imported = 0;
  const mutable = [];
  for (const s of sections) {
    let p = s.body, n;
    if (s.id === 2) {
      [n, p] = leb(bytes, p);
      for (let i = 0; i < n; i++) {
        let l;
        [l, p] = leb(bytes, p);
        p += l;
        [l, p] = leb(bytes, p);
        p += l;
        const kind = bytes[p++];
        if (kind === 0) [, p] = leb(bytes, p);
        else if (kind === 1) p = skip_limits(bytes, p + 1);
        else if (kind === 2) p = skip_limits(bytes, p);
        else if (kind === 3) p += 2, imported++;
        else if (kind === 4) [, p] = leb(bytes, p + 1);
        else throw new Error(`import kind ${kind}`);
      }
    } else if (s.id === 6) {
      [n, p] = leb(bytes, p);
      for (let i = 0; i < n; i++) {
        const type = bytes[p], mut = bytes[p + 1];
        if (mut && type === 0x7b) throw new Error('a mutable v128 global cannot be restored from JS');
        if (mut) mutable.push(imported + i);
        p = skip_init(bytes, p + 2);
      }
    }
  }
  const names = mutable.map((i) => `__wpool_global_${i}`);
  const entries = [];
  for (let k = 0; k < mutable.length; k++) {
    const name = Buffer.from(names[k]);
    entries.push(...uleb_bytes(name.length), ...name, 3, ...uleb_bytes(mutable[k]));
  }
  const exp = sections.find((s) => s.id === 7);
  let count = 0, old = Buffer.alloc(0);
  if (exp) {
    let p;
    [count, p] = leb(bytes, exp.body);
    old = bytes.subarray(p, exp.end);
  }
  const body = Buffer.concat([Buffer.from(uleb_bytes(count + mutable.length)), old, Buffer.from(entries)]);
  const section = Buffer.concat([Buffer.from([7, ...uleb_bytes(body.length)]), body]);
  // In place of the old export section, else after the last section whose
  // id orders before it (custom sections aside).
  let at, skip;
  if (exp) at = exp.start, skip = exp.end;
  else {
    const before = sections.filter((s) => s.id !== 0 && s.id < 7);
    at = skip = before.length ? before[before.length - 1].end : 8;
  }
  return { bytes: Buffer.concat([bytes.subarray(0, at), section, bytes.subarray(skip)]), names };
}

// ---- guests ------------------------------------------------------------------

const guests = new Map();

function load(msg) {
  const bytes = readFileSync(msg.path);
  const stdin = Buffer.from(msg.stdin || '', 'hex');
  const g = { name: msg.guest, wasi: new Wasi(msg.args, stdin) };
  g.imports = { wasi_snapshot_preview1: g.wasi.imports() };
  g.module = new WebAssembly.Module(bytes);
  const rw = rewriteExports(bytes);
  g.rmodule = new WebAssembly.Module(rw.bytes);
  // The restored instance and its snapshot, taken before any guest code.
  g.inst = new WebAssembly.Instance(g.rmodule, g.imports);
  g.mem = g.inst.exports.memory;
  g.snapshot = new Uint8Array(g.mem.buffer).slice();
  g.globals = rw.names.map((n) => g.inst.exports[n]);
  g.saved = g.globals.map((gl) => gl.value);
  guests.set(msg.guest, g);
  return { ok: true, mutable_globals: rw.names.length, memory_bytes: g.snapshot.length };
}

function restore(g) {
  const cur = new Uint8Array(g.mem.buffer);
  cur.set(g.snapshot);
  if (cur.length > g.snapshot.length) cur.fill(0, g.snapshot.length);
  for (let i = 0; i < g.globals.length; i++) g.globals[i].value = g.saved[i];
}

// One request; returns the exit code, or -1 after a trap.
function request(g, variant, onlyInstantiate) {
  const w = g.wasi;
  let inst;
  if (variant === 'v8-fresh') {
    inst = new WebAssembly.Instance(g.module, g.imports);
    w.memory = inst.exports.memory;
  } else {
    restore(g);
    inst = g.inst;
    w.memory = g.mem;
  }
  if (onlyInstantiate) return 0;
  w.reset();
  try {
    inst.exports._start();
    return 0;
  } catch (e) {
    if (e instanceof Exit) return e.code;
    if (e instanceof WebAssembly.RuntimeError) return -1;
    throw e;
  }
}

function run(msg) {
  const g = guests.get(msg.guest);
  if (!g) return { ok: false, error: `no guest ${msg.guest}` };
  // The latency's median is of one request in LAT_EVERY, as in peer_bench.c.
  const LAT_EVERY = 16, n = msg.requests, all = n < 2 * LAT_EVERY;
  const lat = new Float64Array(all ? n : Math.floor(n / LAT_EVERY));
  let first = null, same = true, exit = 0, k = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (!all && i % LAT_EVERY !== LAT_EVERY - 1) {
      exit = request(g, msg.variant, msg.only_instantiate);
    } else {
      const a = process.hrtime.bigint();
      exit = request(g, msg.variant, msg.only_instantiate);
      lat[k++] = Number(process.hrtime.bigint() - a);
    }
    if (i === 0) first = Buffer.from(g.wasi.out.subarray(0, g.wasi.outLen));
    else if (i === n - 1) same = first.equals(g.wasi.out.subarray(0, g.wasi.outLen));
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  lat.sort();
  return {
    ok: true, ns, cpu_ns: (cpu.user + cpu.system) * 1000, p50_ns: lat[k >> 1], exit,
    trap: exit === -1, same, out: msg.only_instantiate ? '' : g.wasi.out.subarray(0, g.wasi.outLen).toString('hex'),
  };
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  let reply;
  try {
    const msg = JSON.parse(line);
    if (msg.cmd === 'quit') break;
    reply = msg.cmd === 'load' ? load(msg) : msg.cmd === 'run' ? run(msg) : { ok: false, error: 'bad command' };
  } catch (e) {
    reply = { ok: false, error: String(e && e.stack || e) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
}
process.exit(0);
