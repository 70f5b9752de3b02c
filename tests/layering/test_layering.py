#!/usr/bin/env python3
"""The layering check passes on the real headers, and fails, naming the rule, on copies of
them with one deliberate violation of each kind."""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "tools" / "check_layering.py"
HEADERS = ROOT / "include" / "corio"


def run(root):
    p = subprocess.run([sys.executable, str(CHECK), "--root", str(root)], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def violated(edit, expect):
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "corio"
        shutil.copytree(HEADERS, copy)
        edit(copy)
        rc, out = run(copy)
        assert rc == 1, f"violation not caught ({expect}):\n{out}"
        assert expect in out, f"expected '{expect}' in:\n{out}"
        print(f"caught: {expect}")


def append_include(rel, line):
    def edit(copy):
        path = copy / rel
        path.write_text(path.read_text() + f"\n{line}\n")
    return edit


def main():
    rc, out = run(HEADERS)
    assert rc == 0, f"the headers break the layering rules:\n{out}"
    print(out.strip())
    violated(append_include("task.hpp", "#include <sys/socket.h>"), "core header task.hpp reaches OS header <sys/socket.h>")
    violated(append_include("gather.hpp", '#include "corio/loop.hpp"'), "core header gather.hpp reaches platform code")
    platform = sorted(p.name for p in (HEADERS / "platform").glob("*.hpp"))[0]
    violated(append_include(f"platform/{platform}", '#include "corio/run.hpp"'),
             f"platform header platform/{platform} includes public header corio/run.hpp")
    violated(append_include("loop.hpp", '#include "corio/net/stream.hpp"'), "the loop reaches net/stream.hpp")
    violated(append_include("net/stream.hpp", '#include "corio/http/url.hpp"'), "net reaches http")
    violated(append_include("http/client.hpp", '#include "corio/platform/socket_probe.hpp"'),
             "http/client.hpp includes platform/socket_probe.hpp directly")
    violated(append_include("thread_pool.hpp", '#include "corio/signal.hpp"'), "thread_pool.hpp reaches signal code")
    violated(append_include("spawn.hpp", "#include <iostream>"), "spawn.hpp: includes <iostream>")
    violated(append_include("run.hpp", "\n" * 600), "run.hpp: ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
