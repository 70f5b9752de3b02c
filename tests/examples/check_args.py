#!/usr/bin/env python3
"""Every example behaves like a command-line tool: --help prints the usage to stdout and
exits 0; a malformed number, an out-of-range one, a missing value or an unknown option is
refused with a one-line reason on stderr and exit status 2, before anything runs.
Usage: check_args.py NAME=PATH..."""
import subprocess
import sys

# Per example: arguments that must be refused, each with a word the message must contain.
REFUSED = {
    "count": [(["--interval", "abc"], "--interval"), (["--interval", "-5"], "-5"),
              (["--interval", "12x"], "12x"), (["--interval"], "needs a value"), (["--bogus"], "--bogus")],
    "echo_server": [(["--port", "abc"], "--port"), (["--port", "70000"], "70000"),
                    (["--backlog", "0"], "--backlog"), (["--port"], "needs a value"), (["-x"], "-x")],
    "echo_client": [(["--port", "abc"], "--port"), (["--clients", "0"], "--clients"),
                    (["--clients", "1e3"], "1e3"), (["--nope"], "--nope")],
    "http_get": [([], "no URL"), (["--what", "http://127.0.0.1/"], "--what")],
    "file_io": [(["--copy", "a"], "needs a value"), (["--copy", "a", "b", "--interval", "x"], "--interval"),
                (["--frobnicate"], "--frobnicate")],
    "subprocess": [(["--repeat", "abc"], "--repeat"), (["--repeat", "0"], "--repeat"),
                   (["--sort"], "needs a value"), (["--bogus"], "--bogus")],
}


def run(path, args):
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=30)


def main():
    failures = []
    for spec in sys.argv[1:]:
        name, path = spec.split("=", 1)
        r = run(path, ["--help"])
        if r.returncode != 0 or "usage:" not in r.stdout or r.stderr:
            failures.append(f"{name} --help: status {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}")
        for args, word in REFUSED[name]:
            r = run(path, args)
            first = r.stderr.splitlines()[0] if r.stderr else ""
            if r.returncode != 2 or word not in first or r.stdout:
                failures.append(f"{name} {' '.join(args)}: status {r.returncode}, stderr {r.stderr!r}")
        print(f"{name}: --help and {len(REFUSED[name])} bad arguments behave")
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
