#!/usr/bin/env python3
"""Checks that corio's include graph keeps its layers.

  core      task.hpp, outcome.hpp, errors.hpp, gather.hpp, generator.hpp, version.hpp, the
            synchronisation primitives (sync.hpp and the headers it includes) and detail/: no OS header, directly or through anything they include.
  platform  platform/: the only place that includes OS headers; includes no public header.
  loop      loop.hpp never reaches net/ or http/.
  net       net/ never reaches http/, and http/ includes no platform/ header directly.
  pool      thread_pool.hpp never reaches signal code.
  all       no <iostream>, and no header past MAX_LINES lines.

Usage: check_layering.py [--root include/corio]. Prints each violation with the include
chain that causes it; exit status 1 if there is any.
"""
import argparse
import re
import sys
from pathlib import Path

MAX_LINES = 500
CORE_PUBLIC = {"task.hpp", "outcome.hpp", "errors.hpp", "gather.hpp", "generator.hpp", "version.hpp", "sync.hpp",
               "event.hpp", "lock.hpp", "semaphore.hpp", "queue.hpp", "condition.hpp", "barrier.hpp"}
# Headers of the OS's C API (as opposed to the C++ standard library's).
OS_HEADER = re.compile(
    r"^(sys/|linux/|netinet/|arpa/|net/|mach/|pthread|unistd\.h|fcntl\.h|netdb\.h|poll\.h|signal\.h|"
    r"sched\.h|dirent\.h|dlfcn\.h|errno\.h|termios\.h|ifaddrs\.h|spawn\.h|pwd\.h|grp\.h|"
    r"sanitizer/)")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
SIGNAL_CODE = re.compile(r"^(signal\.hpp|platform/(signal|sigint)[^/]*\.hpp)$")


def scan(root):
    """For each header (path relative to root): its corio includes and its system includes."""
    graph, system, lines = {}, {}, {}
    for path in sorted(root.rglob("*.hpp")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text()
        lines[rel] = text.count("\n")
        graph[rel], system[rel] = [], []
        for kind, name in INCLUDE.findall(text):
            if name.startswith("corio/"):
                graph[rel].append(name[len("corio/"):])
            elif kind == "<":
                system[rel].append(name)
    return graph, system, lines


def chains(graph, start):
    """Every header reachable from start, with the include chain that reaches it first."""
    seen = {start: [start]}
    todo = [start]
    while todo:
        cur = todo.pop()
        for nxt in graph.get(cur, []):
            if nxt not in seen:
                seen[nxt] = seen[cur] + [nxt]
                todo.append(nxt)
    return seen


def layer(rel):
    if rel.startswith("platform/"):
        return "platform"
    if rel.startswith("detail/") or rel in CORE_PUBLIC:
        return "core"
    return "public"


def check(root):
    graph, system, lines = scan(root)
    errors = []

    def chain_text(chain):
        return " -> ".join(chain)

    for rel in graph:
        for name in graph[rel]:
            if name not in graph:
                errors.append(f"{rel}: includes corio/{name}, which does not exist")
        if "iostream" in system[rel]:
            errors.append(f"{rel}: includes <iostream> (a static initialiser in every program)")
        if lines[rel] > MAX_LINES:
            errors.append(f"{rel}: {lines[rel]} lines, over {MAX_LINES}: split it along its seams")
        kind = layer(rel)
        reach = chains(graph, rel)
        if kind == "core":
            for dep, chain in reach.items():
                for sysname in system.get(dep, []):
                    if OS_HEADER.match(sysname):
                        errors.append(f"core header {rel} reaches OS header <{sysname}>: {chain_text(chain)}")
                if layer(dep) == "platform":
                    errors.append(f"core header {rel} reaches platform code: {chain_text(chain)}")
        elif kind == "public":
            for sysname in system[rel]:
                if OS_HEADER.match(sysname):
                    errors.append(f"public header {rel} includes OS header <{sysname}>: "
                                  "OS calls belong in platform/")
        else:
            for name in graph[rel]:
                if layer(name) == "public":
                    errors.append(f"platform header {rel} includes public header corio/{name}")
        if rel == "loop.hpp" or rel.startswith("net/"):
            for dep, chain in reach.items():
                if rel == "loop.hpp" and (dep.startswith("net/") or dep.startswith("http/")):
                    errors.append(f"the loop reaches {dep}: {chain_text(chain)}")
                if rel.startswith("net/") and dep.startswith("http/"):
                    errors.append(f"net reaches http: {chain_text(chain)}")
        if rel.startswith("http/"):
            for name in graph[rel]:
                if layer(name) == "platform":
                    errors.append(f"{rel} includes platform/{name[len('platform/'):]} directly: "
                                  "http speaks to sockets only through net's streams")
        if rel == "thread_pool.hpp":
            for dep, chain in reach.items():
                if SIGNAL_CODE.match(dep):
                    errors.append(f"thread_pool.hpp reaches signal code: {chain_text(chain)}")
    return sorted(set(errors))


def main():
    here = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=here / "include" / "corio")
    args = ap.parse_args()
    if not args.root.is_dir():
        print(f"check_layering: no such directory {args.root}", file=sys.stderr)
        return 2
    errors = check(args.root)
    for e in errors:
        print(e)
    if errors:
        print(f"check_layering: {len(errors)} violation(s)", file=sys.stderr)
        return 1
    print(f"check_layering: {sum(1 for _ in args.root.rglob('*.hpp'))} headers keep their layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
