#!/usr/bin/env python3
"""Fails when an #include points against the direction docs/architecture.md gives.

Reads every `#include "folder/..."` of the product's sources and checks it against
the table below: a top-level folder may include itself and the folders listed
for it; inside actors/, a capability folder may include its own files, the
root's interfaces.hpp and the capability folders listed for it. Exit 0 when every
arrow points one way, 1 with one line per wrong arrow otherwise.
"""
import pathlib
import re
import sys

BASE = ["protocol"]
TOP = {
    "protocol": [],
    "access": BASE,
    "config": BASE,
    "persistence": BASE,
    "runtime-drivers": BASE,
    "metrics": BASE,
    "actors": BASE + ["access", "config", "persistence", "runtime-drivers", "metrics"],
    "simulation": BASE + ["access", "config", "persistence", "runtime-drivers", "metrics", "actors"],
}

ACTORS = {
    "": [],  # interfaces.hpp
    "runtime": [],
    "supervision": [],
    "store": [],
    "placement": [],
    "mesh": [],
    "node": ["mesh", "supervision"],
    "service": ["node"],
    "cluster": ["service", "node", "supervision"],
    "api": [],
    "daemon": ["runtime", "supervision", "store", "placement", "mesh", "node", "service",
               "cluster", "api"],
}

# The driver interface and its factory sit at the root of runtime-drivers/: the
# factory is the one place that knows every runtime.
RUNTIME_DRIVERS = {
    "": ["containerd", "docker", "process", "sim"],
    "containerd": ["process"],  # proc_stat: when a task's process started
    "docker": [],
    "process": [],
    "sim": [],
}

SUBFOLDERS = {"actors": ACTORS, "runtime-drivers": RUNTIME_DRIVERS}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def sub_folder(path):
    """The capability folder of a path under a top-level folder ("" for its root)."""
    parts = pathlib.PurePosixPath(path).parts
    return parts[1] if len(parts) > 2 else ""


def wrong_arrows(root):
    for top, allowed in TOP.items():
        for source in sorted((root / top).rglob("*")):
            if source.suffix not in (".hpp", ".cpp", ".h"):
                continue
            rel = source.relative_to(root).as_posix()
            for target in INCLUDE.findall(source.read_text(errors="replace")):
                target_top = target.split("/", 1)[0]
                if target_top not in TOP or "/" not in target:
                    continue
                if target_top != top and target_top not in allowed:
                    yield f"{rel}: includes {target}: {top}/ must not depend on {target_top}/"
                elif top == target_top and top in SUBFOLDERS:
                    table = SUBFOLDERS[top]
                    mine, theirs = sub_folder(rel), sub_folder(target)
                    if mine not in table:
                        yield f"{rel}: {top}/{mine} is not in tools/check-deps.py's table"
                    elif theirs and theirs != mine and theirs not in table[mine]:
                        yield (f"{rel}: includes {target}: {top}/{mine or '.'} must not "
                               f"depend on {top}/{theirs}")


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    wrong = list(wrong_arrows(root))
    for line in wrong:
        print(line)
    if wrong:
        print(f"{len(wrong)} include(s) point the wrong way (see docs/architecture.md)")
        return 1
    print("every include points the way docs/architecture.md gives")
    return 0


if __name__ == "__main__":
    sys.exit(main())
