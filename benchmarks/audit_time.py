"""The full library audit (``nploss audit``), timed: it should finish within 60 s on 2 cores."""

from __future__ import annotations

import subprocess
import sys
import time

TARGET_SECONDS = 60.0


def run() -> list[dict[str, float | str]]:
    print("Full library audit: every op and loss, first and second order, stability sweep")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nploss", "audit", "--format", "markdown"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    entries = sum(1 for line in done.stdout.splitlines() if line.startswith("| `"))
    status = "passed" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
    print(f"  {entries} entries {status} in {elapsed:.1f} s (target {TARGET_SECONDS:.0f} s: {'met' if elapsed <= TARGET_SECONDS else 'missed'})")
    return [{"what": "nploss audit", "seconds": elapsed, "entries": entries, "status": status}]


def markdown(rows: list[dict[str, float | str]]) -> list[str]:
    lines = ["| what | entries | status | seconds | target |", "| --- | ---: | --- | ---: | --- |"]
    for r in rows:
        met = "met" if float(r["seconds"]) <= TARGET_SECONDS else "MISSED"
        lines.append(f"| {r['what']} | {r['entries']} | {r['status']} | {float(r['seconds']):.1f} | {met} (<= {TARGET_SECONDS:.0f} s) |")
    return lines


if __name__ == "__main__":
    run()
