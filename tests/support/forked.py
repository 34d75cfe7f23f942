"""`orc` and `dbt` run as forks of one process that has already imported them.

Each call is still a process of its own, as the installed command would be: its own folder,
environment, standard streams and exit code. What it does not pay is Python's start and the
imports of orc, dbt-core and the adapters (about 1.5 s a call, for some 800 calls a run).

The server is a plain child of the test process (started on first use, one per pytest
worker). It imports every module of orc and has plain dbt build a tiny project once
(tests/support/warm_up.py: what dbt builds on first use in a process, some 0.7 s of each
call, is then built for every fork). Then it reads one request a line (JSON), forks,
answers the fork's pid, then its exit code. Tests whose subject is the process itself (signals, many
processes at once, the installed script) start the real command instead.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = ("orc", "dbt")


class ForkServer:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.forked"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        self.pending = b""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()

    def _line(self, timeout: float | None) -> str | None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.pending:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("the fork server stopped")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode()

    def run(
        self, program: str, args: list[str], cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        assert self.process.stdin is not None
        with tempfile.TemporaryDirectory(prefix="orc-fork-") as folder:
            out, err = Path(folder, "stdout"), Path(folder, "stderr")
            out.touch()
            err.touch()
            request = {
                "program": program,
                "args": args,
                "cwd": str(cwd),
                "env": env,
                "stdout": str(out),
                "stderr": str(err),
            }
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            pid = int(self._line(None) or "0")
            code = self._line(timeout)
            if code is None:
                os.kill(pid, signal.SIGKILL)
                self._line(None)
                raise subprocess.TimeoutExpired([program, *args], timeout)
            return subprocess.CompletedProcess(
                [program, *args],
                int(code),
                out.read_text(errors="backslashreplace"),
                err.read_text(errors="backslashreplace"),
            )


_server: ForkServer | None = None


def run_forked(
    program: str, args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `orc` or `dbt` with these arguments as a fork of the server."""
    global _server
    if _server is None or not _server.alive():
        _server = ForkServer()
        atexit.register(_server.stop)
    return _server.run(program, args, cwd, env, timeout)


def _run_in_child(request: dict[str, Any]) -> int:
    """Run the request in this fork; return its exit code. The fork then ends as the real
    command would, through the interpreter's normal exit (atexit, finalizers)."""
    code = 1
    try:
        for fd, path, flags in (
            (0, os.devnull, os.O_RDONLY),
            (1, request["stdout"], os.O_WRONLY),
            (2, request["stderr"], os.O_WRONLY),
        ):
            os.dup2(os.open(path, flags), fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        args = list(request["args"])
        sys.argv = [request["program"], *args]
        code = _main(request["program"], args)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        traceback.print_exc()
    return code


def _main(program: str, args: list[str]) -> int:
    if program == "orc":
        from orchestra_dbt_py.cli import main

        return main(args)
    from dbt.cli.main import cli

    cli.main(args, prog_name="dbt")
    return 0


def serve() -> None:
    """The server's loop: one request a line on stdin; the pid, then the exit code, out."""
    import importlib
    import pkgutil

    import orchestra_dbt_py
    from tests.support.warm_up import warm_up_dbt

    every_module = pkgutil.walk_packages(orchestra_dbt_py.__path__, "orchestra_dbt_py.")
    preloaded = (
        *(module.name for module in every_module if module.name != "orchestra_dbt_py.__main__"),
        "sqlglot.dialects.duckdb",
        "sqlglot.dialects.postgres",
        "dbt.cli.main",
        "dbt.adapters.duckdb",
        "dbt.adapters.postgres",
    )
    for module in preloaded:
        with contextlib.suppress(ImportError):  # an adapter this environment lacks
            importlib.import_module(module)

    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the warm-up prints goes where the server's stderr goes
    warm_up_dbt()
    for line in sys.stdin:
        request = json.loads(line)
        if request["program"] not in PROGRAMS:
            raise SystemExit(f"unknown program {request['program']!r}")
        pid = os.fork()
        if pid == 0:
            sys.exit(_run_in_child(request))
        print(pid, file=answers, flush=True)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), file=answers, flush=True)


if __name__ == "__main__":
    serve()
