#!/usr/bin/env python3
"""The command-line options that build the same sandbox as a profile, from its --explain.

    profile-argv.py SBOX PROFILE

Prints the options, shell-quoted, on one line (for bench/run.sh case p: `sbox --profile make
true` against the same sandbox given on the command line). Run it from the directory and with
the environment the comparison uses: the profile's variables and env.keep are resolved here.
Fails on anything it can't translate, rather than measure a different sandbox."""
import fnmatch
import os
import re
import shlex
import subprocess
import sys

sbox, profile = sys.argv[1:3]
explain = subprocess.run([sbox, "--profile", profile, "--explain"], check=True,
                         capture_output=True, text=True).stdout

ns_flag = {"pid": "--unshare-pid", "ipc": "--unshare-ipc", "uts": "--unshare-uts",
           "cgroup": "--unshare-cgroup"}
mounts, env, flags = [], [], []
for line in explain.splitlines():
    if line.startswith("#") or not line.strip():
        continue
    # KEY  VALUE  [LAYER], columns padded; a repeated key ends in " (N)".
    body = re.sub(r"\s+\[[^\]]*\]$", "", line)
    key, value = (re.split(r"\s{2,}", body, maxsplit=1) + [""])[:2]
    key = re.sub(r" \(\d+\)$", "", key)
    if key.startswith("mount "):
        dst = key.split(" ", 1)[1]
        value = value.removesuffix(", created if missing").strip()
        words = value.split()
        kind = words[0]
        if kind in ("bind", "bind-try", "ro-bind", "ro-bind-try") and words[1] == "from":
            mounts += [f"--{kind}", words[2], dst]
        elif kind in ("proc", "dev") and len(words) == 1:
            mounts += [f"--{kind}", dst]
        elif kind == "tmpfs":
            opts = dict(zip(words[1::2], words[2::2]))
            if "mode" in opts:
                mounts += ["--perms", opts["mode"]]
            if "size" in opts:
                mounts += ["--size", opts["size"]]
            mounts += ["--tmpfs", dst]
        elif kind == "mask":
            # Nothing to do where nothing is; the bench's home has none of the masked files.
            if os.path.lexists(dst):
                sys.exit(f"profile-argv: {dst} exists: a mask of it has no exact option")
        else:
            sys.exit(f"profile-argv: can't translate: {line}")
        continue
    key, _, arg = key.partition(" ")
    if key.startswith("namespaces."):
        name = key.split(".", 1)[1]
        if name == "net":
            if value.startswith("none"):
                flags.append("--unshare-net")
        elif name in ns_flag:
            if value == "yes":
                flags.append(ns_flag[name])
        elif value != "no":
            sys.exit(f"profile-argv: can't translate: {line}")
    elif key == "hostname":
        flags += ["--hostname", value]
    elif key == "env.clear":
        if value == "yes":
            env.append("--clearenv")
    elif key == "env.keep":
        for k in sorted(os.environ):
            if fnmatch.fnmatchcase(k, arg):
                env += ["--setenv", k, os.environ[k]]
    elif key == "env.set":
        env += ["--setenv", arg, value]
    elif key.startswith("limits.") and value == "no limit":
        pass
    elif (key, value) in [("seccomp.profile", "default"), ("seccomp.allow_32bit", "no"),
                          ("landlock.mounts", "no")]:
        pass
    else:
        sys.exit(f"profile-argv: can't translate: {line}")

print(shlex.join(flags + env + mounts))
