#!/usr/bin/env python3
"""Live reload under load (issue 23; docs/serve.md, "Reload"): `wpool serve
--watch` on three routes, wrk on them for DURATION seconds while the third
route's file is replaced every PERIOD ms by rename, alternating two
versions with different outputs and different data segments (hello:
"hello, world", wagi: "wagi"). The first two routes are template and sha256sum
(realistic guests with their own data segments).

wrk's Lua checks every answer: its status (2xx) and its body, which must be
exactly one of the four bodies fetched before the run (the two stable
routes' and the third route's two versions'): anything else is a mix.
Replacements keep a fixed schedule (k * PERIOD from the start); 80% into
each period the pool is sampled: when the reload has settled (no version
retiring), images_live must be back to 3 (one image a route). Resident
memory (VmRSS) and descriptors of the server are read after a warm-up run
of the same load (warm), after a baseline run of the same load with no
file replaced (before: the baseline's requests/s and p99 too), and after
the measured run (after); a second baseline run follows (the machine
drifts: rps_ratio is against the two baselines' mean), and VmRSS each second of it (the medians of its
halves).

One JSON object on stdout. Loopback only (an ephemeral port).

usage: bench/reload.py [BUILD_DIR]
environment: DURATION (30), PERIOD_MS (100), WARMUP (10), CONNECTIONS (4),
  THREADS (the server's; default 2)"""
import hashlib, json, os, re, shutil, signal, subprocess, sys, tempfile, threading, time, urllib.request

build = sys.argv[1] if len(sys.argv) > 1 else 'build'
duration = int(os.environ.get('DURATION', '30'))
period = int(os.environ.get('PERIOD_MS', '100')) / 1000
warmup = int(os.environ.get('WARMUP', '10'))
conns = int(os.environ.get('CONNECTIONS', '4'))
threads = os.environ.get('THREADS', '2')
tool = os.path.join(build, 'tools', 'wpool', 'wpool')
examples = os.path.join(build, 'examples')
if not os.access(tool, os.X_OK):
    sys.exit(f'bench/reload.py: no {tool} (build first)')
if not shutil.which('wrk'):
    sys.exit('bench/reload.py: wrk is not installed (scripts/deps.sh)')
os.environ.setdefault('WPOOL_CACHE_DIR', os.path.join(build, 'wasm-cache'))

LUA = r'''
local paths = {"/a", "/b", "/c"}
local i = 0
local threads = {}
local function slurp(p) local f = assert(io.open(p, "rb")); local s = f:read("*a"); f:close(); return s end
function setup(thread) table.insert(threads, thread) end
function init(args)
  bodies = {slurp(args[1]), slurp(args[2]), slurp(args[3]), slurp(args[4])}
  seen = {0, 0, 0, 0}; mixed = 0; non2xx = 0
end
function request()
  i = i % 3 + 1
  return wrk.format("GET", paths[i])
end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  for k = 1, 4 do
    if body == bodies[k] then seen[k] = seen[k] + 1; return end
  end
  mixed = mixed + 1
end
function done(summary, latency, requests)
  local t = {0, 0, 0, 0, 0, 0}
  for _, th in ipairs(threads) do
    local s = th:get("seen")
    for k = 1, 4 do t[k] = t[k] + s[k] end
    t[5] = t[5] + th:get("mixed"); t[6] = t[6] + th:get("non2xx")
  end
  io.write(string.format("CHECK %d %d %d %d %d %d %d %d %d\n", summary.requests, t[1], t[2], t[3],
    t[4], t[5], t[6], summary.errors.status, latency:percentile(99)))
end
'''


def fetch(port, path):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=30) as r:
        return r.read()


def metric(port, series):
    return metric_of(fetch(port, '/metrics').decode(), series)


def metric_of(text, series):
    m = re.search('^' + re.escape(series) + r' (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        return int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1))


def median(xs):
    return sorted(xs)[len(xs) // 2] if xs else None


def fds(pid):
    return len(os.listdir(f'/proc/{pid}/fd'))


def main():
    d = tempfile.mkdtemp(prefix='wpool-reload-bench-')
    mods = os.path.join(d, 'mods')
    os.mkdir(mods)
    versions = [os.path.join(examples, 'hello.wasm'), os.path.join(examples, 'wagi.wasm')]
    hexes = [hashlib.sha256(open(v, 'rb').read()).hexdigest()[:16] for v in versions]

    def place(src, name):
        tmp = os.path.join(mods, '.' + name + '.tmp')
        shutil.copyfile(src, tmp)
        os.rename(tmp, os.path.join(mods, name))

    place(os.path.join(examples, 'template.wasm'), 'a.wasm')
    place(os.path.join(examples, 'sha256sum.wasm'), 'b.wasm')
    place(versions[0], 'c.wasm')
    err = open(os.path.join(d, 'stderr'), 'w+')
    srv = subprocess.Popen([tool, 'serve', '--listen', '127.0.0.1:0', '--threads', threads,
                            '--watch', mods], stdout=subprocess.DEVNULL, stderr=err)
    port = None
    for _ in range(3000):
        err.seek(0)
        m = re.search(r'listening on http://127\.0\.0\.1:(\d+)/', err.read())
        if m:
            port = int(m.group(1))
            break
        if srv.poll() is not None:
            break
        time.sleep(0.1)
    if not port:
        srv.kill()
        err.seek(0)
        sys.exit('bench/reload.py: the server did not start:\n' + err.read())
    try:
        # The four bodies, each fetched twice (they must not vary).
        bodies = []
        for path in ('/a', '/b'):
            b = fetch(port, path)
            assert b == fetch(port, path), path + ' varies'
            bodies.append(b)
        for k in (0, 1):
            place(versions[k], 'c.wasm')
            want = b'hello, world\n' if k == 0 else b'wagi\n'
            for _ in range(6000):
                if fetch(port, '/c') == want:
                    break
                time.sleep(0.02)
            bodies.append(fetch(port, '/c'))
            assert bodies[-1] == want, bodies[-1]
        files = []
        for k, b in enumerate(bodies):
            files.append(os.path.join(d, f'body{k}'))
            with open(files[-1], 'wb') as f:
                f.write(b)
        lua = os.path.join(d, 'check.lua')
        with open(lua, 'w') as f:
            f.write(LUA)

        stop = threading.Event()
        samples = {'replacements': 0, 'settled': 0, 'settled_at_routes': 0, 'unsettled': 0}

        rss = []

        def replacer(replace=True):
            # On a fixed schedule: replacement k at start + k * period; the
            # pool sampled 80% into each period, once that reload settled.
            # The baseline does the same but replaces nothing (the same
            # client activity: on this VM, a busier machine answers faster).
            k, start, last_rss = 0, time.monotonic(), 0
            while not stop.is_set():
                if replace:
                    place(versions[(k + 1) % 2], 'c.wasm')
                    samples['replacements'] += 1
                k += 1
                time.sleep(max(0, start + (k - 0.2) * period - time.monotonic()))
                text = fetch(port, '/metrics').decode()
                retiring = metric_of(text, 'wpool_serve_versions_retiring')
                images = metric_of(text, 'wpool_pool_images_live')
                # Settled: the version placed last is served and the one
                # it replaced is gone.
                served = re.search(r'wpool_serve_route_version\{route="/c",version="(\w+)"\}', text)
                placed = hexes[k % 2] if replace else (served.group(1) if served else None)
                if retiring == 0 and served and served.group(1) == placed:
                    samples['settled'] += 1
                    samples['settled_at_routes'] += images == 3
                else:
                    samples['unsettled'] += 1
                if time.monotonic() - last_rss >= 1:
                    last_rss = time.monotonic()
                    rss.append(rss_kib(srv.pid))
                time.sleep(max(0, start + k * period - time.monotonic()))

        def run(seconds, replace=True):
            stop.clear()
            t = threading.Thread(target=replacer, args=(replace,))
            t.start()
            out = subprocess.run(['wrk', '-t1', f'-c{conns}', f'-d{seconds}s', '-s', lua,
                                  f'http://127.0.0.1:{port}', '--'] + files,
                                 capture_output=True, text=True, timeout=seconds + 60).stdout
            stop.set()
            t.join()
            return out

        run(warmup)
        time.sleep(1)
        warm = {'rss_kib': rss_kib(srv.pid), 'fds': fds(srv.pid)}
        # The baseline: the same load, no file replaced.
        base = run(duration, replace=False)
        time.sleep(1)
        for key in samples:
            samples[key] = 0
        before = {'rss_kib': rss_kib(srv.pid), 'fds': fds(srv.pid),
                  'kept': metric(port, 'wpool_pool_kept_resident_bytes')}
        reloads0 = metric(port, 'wpool_serve_reloads_total')
        for key in samples:
            samples[key] = 0
        rss.clear()
        out = run(duration)
        time.sleep(1)
        after = {'rss_kib': rss_kib(srv.pid), 'fds': fds(srv.pid),
                 'kept': metric(port, 'wpool_pool_kept_resident_bytes')}
        settled = dict(samples)
        reloads1 = metric(port, 'wpool_serve_reloads_total')
        # The baseline again: the machine drifts (other tenants' load).
        base2 = run(duration, replace=False)
        samples.update(settled)
        m = re.search(r'CHECK (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)', out)
        if not m:
            sys.exit('bench/reload.py: wrk gave no check line:\n' + out)
        n, a, b, c1, c2, mixed, non2xx, status_errors, p99 = map(int, m.groups())
        rps = re.search(r'Requests/sec:\s+([\d.]+)', out)
        bm = re.search(r'CHECK (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)', base)
        brps = re.search(r'Requests/sec:\s+([\d.]+)', base)
        brps2 = re.search(r'Requests/sec:\s+([\d.]+)', base2)
        result = {
            'bench': 'reload', 'duration_s': duration, 'period_ms': period * 1000,
            'connections': conns, 'threads': int(threads),
            'requests': n, 'requests_per_s': float(rps.group(1)) if rps else None,
            'p99_us': p99, 'non_2xx': non2xx, 'mixed': mixed,
            'baseline_requests_per_s': float(brps.group(1)) if brps else None,
            'baseline_p99_us': int(bm.group(9)) if bm else None,
            'baseline_non_2xx_or_mixed': int(bm.group(6)) + int(bm.group(7)) if bm else None,
            'baseline_after_requests_per_s': float(brps2.group(1)) if brps2 else None,
            'rps_ratio': float(rps.group(1)) / ((float(brps.group(1)) + float(brps2.group(1))) / 2)
            if rps and brps and brps2 else None,
            'answers': {'a': a, 'b': b, 'c_v1': c1, 'c_v2': c2},
            'replacements': samples['replacements'],
            'reloads': reloads1 - reloads0,
            'reload_failures': metric(port, 'wpool_serve_reload_failures_total'),
            'samples_settled': samples['settled'],
            'samples_settled_images_at_3': samples['settled_at_routes'],
            'samples_unsettled': samples['unsettled'],
            'images_live_end': metric(port, 'wpool_pool_images_live'),
            'live_modules_end': metric(port, 'wpool_pool_live_modules'),
            'slots_drained': metric(port, 'wpool_pool_slots_drained_total'),
            'rss_kib_warm': warm['rss_kib'], 'fds_warm': warm['fds'],
            'rss_kib_before': before['rss_kib'], 'rss_kib_after': after['rss_kib'],
            # Each second of the run: the first and second halves' medians.
            'rss_kib_first_half_median': median(rss[:len(rss) // 2]),
            'rss_kib_second_half_median': median(rss[len(rss) // 2:]),
            'rss_kib_max': max(rss) if rss else None,
            'fds_before': before['fds'], 'fds_after': after['fds'],
            # Pages the pool keeps resident in unused slots (part of VmRSS).
            'kept_resident_kib_before': before['kept'] / 1024,
            'kept_resident_kib_after': after['kept'] / 1024,
            'load_average': os.getloadavg()[0],
        }
        print(json.dumps(result))
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(60)
        except subprocess.TimeoutExpired:
            srv.kill()
        shutil.rmtree(d, ignore_errors=True)


main()
