#!/usr/bin/env python3
"""Checks the file_io example in a temporary directory: the meoooow round trip, a copy
that is byte-exact and reports progress while it runs, a clean error for a missing
source, and a copy that does not fit (a file size limit, and a full tmpfs where one can
be mounted) failing with the count of bytes that did not reach the file."""
import hashlib
import os
import resource
import signal
import subprocess
import sys
import tempfile

COPY_BYTES = 96 * 1024 * 1024 + 12345  # not a multiple of the chunk size


def fail(message):
    print(f"test_file_io: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def run(args, cwd, preexec_fn=None):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, preexec_fn=preexec_fn)
    return result.returncode, result.stdout, result.stderr


def check_copy_does_not_fit(program, src, dst, cwd, reason, preexec_fn=None):
    code, out, err = run([program, "--copy", src, dst], cwd, preexec_fn)
    if code != 1:
        fail(f"copy that does not fit ({reason}): exit {code}, stderr {err!r}")
    if f"'{dst}': " not in err or " bytes did not reach the file: " not in err or reason not in err:
        fail(f"copy that does not fit ({reason}): stderr {err!r}")
    if "Sanitizer" in err or "runtime error" in err:
        fail(f"sanitizer report:\n{err}")
    print(f"does not fit ({reason}): {err.strip()}")


def limit_file_size():
    """In the child: writes past 1 MiB + 1000 bytes fail with EFBIG (no privileges needed)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, ((1 << 20) + 1000, hard))


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    if len(sys.argv) != 2:
        fail("usage: test_file_io.py <path to file_io>")
    program = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="corio_file_io.") as tmp:
        # The classic demo.
        code, out, err = run([program], tmp)
        if code != 0:
            fail(f"meow mode exited with {code}: {err}")
        if out.strip() != "meoooow":
            fail(f"meow mode printed {out!r}, expected 'meoooow'")
        with open(os.path.join(tmp, "meo.txt"), "rb") as f:
            if f.read() != b"meoooow":
                fail("meo.txt does not hold 'meoooow'")

        # The copy, with a ticker fast enough to fire many times during it.
        src = os.path.join(tmp, "src.bin")
        dst = os.path.join(tmp, "dst.bin")
        with open(src, "wb") as f:
            block = os.urandom(1 << 20)
            for i in range(COPY_BYTES // len(block)):
                f.write(block[i % 256:] + block[:i % 256])
            f.write(os.urandom(COPY_BYTES % len(block)))
        code, out, err = run([program, "--copy", src, dst, "--interval", "1"], tmp)
        if code != 0:
            fail(f"copy exited with {code}: {err}")
        if os.path.getsize(dst) != COPY_BYTES or digest(src) != digest(dst):
            fail("the copy differs from the source")
        lines = out.splitlines()
        progress = []
        for line in lines:
            if line.startswith("progress: "):
                progress.append(int(line.split()[1]))
        if not lines or not lines[-1].startswith(f"copied {COPY_BYTES} bytes"):
            fail(f"missing the final 'copied' line in:\n{out}")
        if progress != sorted(progress):
            fail(f"progress went backwards: {progress}")
        midway = [p for p in progress if 0 < p < COPY_BYTES]
        if not midway:
            fail(f"no progress line printed while the copy ran (the loop was blocked?):\n{out}")
        print(f"copy: {len(progress)} progress lines, {len(midway)} mid-copy")

        # A copy that does not fit: a size limit for the process, then a full file system.
        small_src = os.path.join(tmp, "small_src.bin")
        with open(small_src, "wb") as f:
            f.write(os.urandom(3 << 20))
        check_copy_does_not_fit(program, small_src, os.path.join(tmp, "limited.bin"), tmp, "File too large",
                                limit_file_size)
        full = os.path.join(tmp, "full")
        os.mkdir(full)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", full],
                                 capture_output=True, text=True)
        if mounted.returncode == 0:
            try:
                check_copy_does_not_fit(program, small_src, os.path.join(full, "dst.bin"), tmp,
                                        "No space left on device")
            finally:
                if subprocess.run(["umount", full]).returncode != 0:
                    subprocess.run(["umount", "-l", full])
        else:
            print(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): full-disk copy not checked")

        # Errors name the path and fail cleanly.
        missing = os.path.join(tmp, "no-such-file")
        code, out, err = run([program, "--copy", missing, dst], tmp)
        if code != 1 or missing not in err:
            fail(f"missing source: exit {code}, stderr {err!r}")
    print("test_file_io: OK")


if __name__ == "__main__":
    main()
