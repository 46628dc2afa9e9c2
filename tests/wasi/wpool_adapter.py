"""The WASI test suite's runner adapter for `wpool wasm` (the shape of the
suite's own adapters, adapters/*.py: a module the runner imports, asked for
a name, a version, the WASI versions and worlds it runs, and the command
line of one test: --env for each variable, --dir ROOT::/ for the test's
directory, the module, its arguments).

Environment: WPOOL is the wpool executable (default: `wpool` on PATH),
WPOOL_WASM_ARGS more options for `wpool wasm`, split like a shell's words
(e.g. "--runtime stock --resolve walk")."""
import os
import shlex
import subprocess
from typing import Dict, List, Optional, Tuple

WPOOL = os.getenv("WPOOL", "wpool")
EXTRA = shlex.split(os.getenv("WPOOL_WASM_ARGS", ""))


def get_name() -> str:
    return "wpool"


def get_version() -> str:
    out = subprocess.run([WPOOL, "version"], encoding="UTF-8", capture_output=True, check=True)
    return out.stdout.split()[1]


def get_wasi_versions() -> List[str]:
    return ["wasm32-wasip1"]


def get_wasi_worlds() -> List[str]:
    return ["wasi:cli/command"]


def get_timeout_seconds() -> float:
    # The first run of a module translates and compiles it (seconds for the
    # suite's Rust tests on a busy machine); later runs take it from the
    # compile cache.
    return 300.0


def compute_argv(test_path: str,
                 args_env_root: Tuple[List[str], Dict[str, str], Optional[str]],
                 proposals: List[str],
                 wasi_world: str,
                 wasi_version: str) -> List[str]:
    del proposals, wasi_world, wasi_version  # preview 1 commands only (above)
    args, env, root = args_env_root
    argv = [WPOOL, "wasm"] + EXTRA
    for k, v in env.items():
        argv += ["--env", f"{k}={v}"]
    if root:
        argv += ["--dir", f"{root}::/"]
    return argv + [test_path] + list(args)
