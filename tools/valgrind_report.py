"""Summarise a memcheck XML log (tools/valgrind.sh): which errors and leaks involve
fastnn's own code, and which come from elsewhere (CPython, NumPy, the C library).

An error or leak is ours when any frame of its stack lies in the compiled extension
(fastnn/backends/_native*.so) or its sources (csrc/, the Cython-generated _native.c).
Prints one line per kind with both counts and the "definitely lost" bytes, the stacks
of ours in full, and exits 1 when there is any.

    python tools/valgrind_report.py memcheck.xml
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter


def is_ours(frame: ET.Element) -> bool:
    obj = frame.findtext("obj") or ""
    where = (frame.findtext("dir") or "") + "/" + (frame.findtext("file") or "")
    return "fastnn/backends/_native" in obj or "/csrc/" in where or "_native.c" in where


def describe(frame: ET.Element) -> str:
    name = frame.findtext("fn") or frame.findtext("ip") or "?"
    if frame.findtext("file"):
        return f"{name} ({frame.findtext('file')}:{frame.findtext('line')})"
    return f"{name} ({frame.findtext('obj') or '?'})"


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    kinds, ours_kinds = Counter(), Counter()
    lost, ours_lost = 0, 0
    ours = []
    for error in root.iter("error"):
        kind = error.findtext("kind")
        frames = [frame for stack in error.iter("stack") for frame in stack.iter("frame")]
        mine = any(is_ours(frame) for frame in frames)
        kinds[kind] += 1
        leaked = int(error.findtext("xwhat/leakedbytes") or 0)
        if kind == "Leak_DefinitelyLost":
            lost += leaked
        if mine:
            ours_kinds[kind] += 1
            ours_lost += leaked if kind == "Leak_DefinitelyLost" else 0
            what = error.findtext("what") or error.findtext("xwhat/text")
            ours.append(f"{kind}: {what}\n    " + "\n    ".join(map(describe, frames)))
    suppressed = Counter()
    for pair in root.iterfind("suppcounts/pair"):
        suppressed[pair.findtext("name")] += int(pair.findtext("count"))
    print(f"memcheck: {sum(kinds.values())} error context(s) reported")
    for name, count in suppressed.most_common():
        print(f"  suppressed {count:6d} x {name}")
    for kind in sorted(kinds):
        print(f"  {kind:28s} {kinds[kind]:5d} in all, {ours_kinds[kind]:3d} in fastnn's code")
    print(f"  definitely lost: {lost} bytes in all, {ours_lost} bytes in fastnn's code")
    for entry in ours:
        print(entry)
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
