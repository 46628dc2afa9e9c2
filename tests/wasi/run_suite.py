#!/usr/bin/env python3
"""Run the WASI test suite's preview-1 tests on `wpool wasm`.

The suite's own runner (test-runner/wasi_test_runner.py) needs Python 3.12
(`str in EnumType`); Debian 12 has 3.11. This is a small runner of our own
that reads the same files: each NAME.wasm of a suite directory with its
NAME.json (args, env, root, exit_code, stdout, stderr; no .json: no
arguments, exit 0), run through the suite-shaped adapter beside this file
(wpool_adapter.py, which the suite's runner takes too), checked as the
suite's runner checks it: the exit code, and stdout and stderr starting
with what the .json says. Like that runner it removes the files a test
leaves whose names end in `.cleanup`.

Each suite directory is copied to a private scratch directory first (the
.wasm files are linked, not copied), so that runs on the two backends may go
at once and nothing is written into the source tree.

usage: run_suite.py --tool WPOOL [--run ARGS]... SUITE_DIR...
  --run ARGS: one run of every test with these options of `wpool wasm`
              (e.g. "--runtime stock --resolve walk"); several runs go one
              after the other, after the modules are compiled into the
              cache on every core.
The repository keeps the suite's C and AssemblyScript tests and a chosen
few of its Rust ones (the Rust tests are 95 MB). The others are run from
the whole suite when it is on the machine: $WPOOL_WASI_TESTSUITE, else
../shared/wasi-testsuite beside the repository (the prebuilt suite's
layout: tests/rust/testsuite/wasm32-wasip1), each test the SUITE_DIRs do
not have; a note says when it is not there.
Exit status 0 when every test passed."""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

LEGACY_KEYS = {"args", "env", "root", "exit_code", "stdout", "stderr"}


def copy_suite(src, dst):
    """The suite directory's files, .wasm linked, the rest copied."""
    os.makedirs(dst)
    for name in sorted(os.listdir(src)):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if name.endswith(".wasm"):
            os.symlink(os.path.abspath(s), d)
        elif os.path.isdir(s):
            shutil.copytree(s, d, symlinks=True)
            for root, dirs, files in os.walk(d):
                os.chmod(root, 0o755)
                for f in files:
                    p = os.path.join(root, f)
                    if not os.path.islink(p):
                        os.chmod(p, 0o644)
        else:
            shutil.copy(s, d)


def cleanup(root):
    for dirpath, dirs, files in os.walk(root, topdown=False):
        for n in files + dirs:
            p = os.path.join(dirpath, n)
            if n.endswith(".cleanup"):
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)


def run_test(adapter, suite, name):
    """None if the test passed, else why it failed."""
    cfg_path = os.path.join(suite, name + ".json")
    cfg = {}
    if os.path.exists(cfg_path):
        with open(cfg_path, encoding="utf-8") as f:
            cfg = json.load(f)
    unknown = set(cfg) - LEGACY_KEYS
    if unknown:
        return "configuration keys this runner does not know: %s" % sorted(unknown)
    root = os.path.join(suite, cfg["root"]) if cfg.get("root") else None
    if root:
        cleanup(root)
    argv = adapter.compute_argv(os.path.join(suite, name + ".wasm"),
                                (cfg.get("args", []), cfg.get("env", {}), root),
                                [], "wasi:cli/command", "wasm32-wasip1")
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=adapter.get_timeout_seconds())
    except subprocess.TimeoutExpired:
        return "timed out after %.0f s" % adapter.get_timeout_seconds()
    finally:
        if root:
            cleanup(root)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    why = []
    if p.returncode != cfg.get("exit_code", 0):
        why.append("exit code %d, expected %d" % (p.returncode, cfg.get("exit_code", 0)))
    for stream, got in (("stdout", out), ("stderr", err)):
        if cfg.get(stream) is not None and not got.startswith(cfg[stream]):
            why.append("%s does not start with %r" % (stream, cfg[stream]))
    if why:
        return "; ".join(why) + "\n  command: %s\n  stdout: %s\n  stderr: %s" % (
            " ".join(argv), out[-2000:], err[-2000:])
    return None


def language(d):
    """The suite's language (assemblyscript, c, rust) from its path."""
    parts = os.path.abspath(d).split(os.sep)
    for lang in ("assemblyscript", "c", "rust"):
        if lang in parts:
            return lang
    return os.path.basename(os.path.abspath(d))


def warm(tool, modules):
    """Compile every module into the cache, on every core: run each once
    in an empty directory of its own (a test looking for its files fails
    at once; one without a directory may search every descriptor for it)."""
    with tempfile.TemporaryDirectory(prefix="wasi-warm-") as scratch:
        def one(k):
            d = os.path.join(scratch, str(k))
            os.mkdir(d)
            subprocess.run([tool, "wasm", "--dir", d + "::/", modules[k]],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
            list(ex.map(one, range(len(modules))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--run", action="append", default=[])
    ap.add_argument("suites", nargs="+")
    a = ap.parse_args()
    os.environ["WPOOL"] = a.tool
    import wpool_adapter

    have = set()
    plan = []  # (suite dir, [names]), the repository's first
    for d in a.suites:
        names = sorted(n[:-5] for n in os.listdir(d) if n.endswith(".wasm"))
        have.update(names)
        plan.append((d, names))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    whole = os.environ.get("WPOOL_WASI_TESTSUITE",
                           os.path.join(os.path.dirname(repo), "shared", "wasi-testsuite"))
    d = os.path.join(whole, "tests", "rust", "testsuite", "wasm32-wasip1")
    if os.path.isdir(d):
        plan.append((d, sorted(n[:-5] for n in os.listdir(d) if n.endswith(".wasm") and
                               n[:-5] not in have)))
    else:
        print("note: the whole suite is not at %s: its other Rust tests are not run" % whole)
    warm(a.tool, [os.path.join(d, n + ".wasm") for d, names in plan for n in names])

    status = 0
    for args in a.run or [""]:
        wpool_adapter.EXTRA = args.split()
        print("== wpool wasm %s (wpool %s)" % (args, wpool_adapter.get_version()))
        passed, failed = 0, []
        with tempfile.TemporaryDirectory(prefix="wasi-suite-") as scratch:
            for k, (d, names) in enumerate(plan):
                work = os.path.join(scratch, str(k))
                copy_suite(d, work)
                for name in names:
                    why = run_test(wpool_adapter, work, name)
                    label = "%s/%s" % (language(d), name)
                    if why is None:
                        passed += 1
                        print("PASS", label)
                    else:
                        failed.append(label)
                        print("FAIL %s: %s" % (label, why))
        print("wpool wasm %s: %d passed, %d failed%s" % (
            args, passed, len(failed), (": " + ", ".join(failed)) if failed else ""))
        if failed:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
