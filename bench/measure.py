#!/usr/bin/env python3
"""Run a shell command; print wall seconds and the peak RSS (KiB) of its
process tree: `measure.py 'cmd'` -> "<seconds> <maxrss_kib>"."""
import resource, subprocess, sys, time

t = time.perf_counter()
rc = subprocess.call(sys.argv[1], shell=True, stdout=subprocess.DEVNULL if len(sys.argv) < 3 else None)
dt = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if rc != 0:
    print(f"command failed ({rc}): {sys.argv[1]}", file=sys.stderr)
    sys.exit(1)
print(f"{dt:.4f} {rss}")
