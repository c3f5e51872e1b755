#!/usr/bin/env python3
# Random edits, adds, restores, commits and branch switches, done alike in
# a git work tree and a pach work tree; after each step the two must agree.
import os, random, shutil, subprocess, sys

seed, steps = int(sys.argv[1]), int(sys.argv[2])
G, W = os.path.abspath("g"), os.path.abspath("w")
rng = random.Random(seed)
NAMES = ["a", "b", "a.b", "a-b", "c0", "d/e", "d/f", "d/g/h", "d.x/y", "a/z", "b/q/r"]

def run(cwd, *args):
    p = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr

def both(gargs, pargs):
    rg = run(G, *gargs)
    rp = run(W, *pargs)
    return rg, rp

def rm_any(p):
    if os.path.islink(p) or os.path.isfile(p):
        os.unlink(p)
    elif os.path.isdir(p):
        shutil.rmtree(p)

def on_disk(root, rel):
    # Make every parent a directory (replacing files in the way), as a user would.
    parts = rel.split("/")
    for i in range(1, len(parts)):
        q = os.path.join(root, *parts[:i])
        if os.path.islink(q) or os.path.isfile(q):
            os.unlink(q)
        os.makedirs(q, exist_ok=True)
    p = os.path.join(root, rel)
    if os.path.isdir(p) and not os.path.islink(p):
        shutil.rmtree(p)
    return p

def edit(kind, rel, text):
    for root in (G, W):
        if kind == "write":
            p = on_disk(root, rel)
            if os.path.islink(p):
                os.unlink(p)
            with open(p, "w") as f:
                f.write(text)
        elif kind == "link":
            p = on_disk(root, rel)
            rm_any(p)
            os.symlink(text, p)
        elif kind == "chmod":
            p = os.path.join(root, rel)
            if os.path.isfile(p) and not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode ^ 0o100)
        elif kind == "rm":
            rm_any(os.path.join(root, rel))

def status(cwd, cmd):
    rc, out, err = run(cwd, *cmd)
    if rc != 0:
        sys.exit(f"status failed in {cwd}: {err}")
    return sorted(out.splitlines())

def same_diff(step, label, gargs, pargs):
    gd = sorted(run(G, "git", "diff", "--name-status", "--no-renames", *gargs)[1].splitlines())
    pd = sorted(run(W, "pach", "diff", "--name-status", *pargs)[1].splitlines())
    if gd != pd:
        sys.exit(f"seed {seed} step {step}: {label} differs\ngit:  {gd}\npach: {pd}")

def check(step, what):
    g = status(G, ["git", "status", "--porcelain", "-uall"])
    p = status(W, ["pach", "status", "-s"])
    if g != p:
        sys.exit(f"seed {seed} step {step} ({what}): status differs\ngit:  {g}\npach: {p}")
    gt = run(G, "git", "rev-parse", "HEAD^{tree}")[1].strip()
    pt = run(W, "pach", "rev-parse", "r@" + branch[0] + "^{tree}")[1].strip()
    if gt != pt:
        sys.exit(f"seed {seed} step {step} ({what}): commit trees differ: git {gt} pach {pt}")
    # The index: git's staged diff against pach's, by path and status.
    same_diff(step, f"({what}) staged changes", ["--cached"], ["--staged"])

branch = ["master"]
for step in range(steps):
    op = rng.choice(["write"] * 6 + ["rm"] * 2 + ["link", "chmod", "add", "add", "addall", "restore", "unstage",
                     "commit", "commit-a", "switch", "diff"])
    rel = rng.choice(NAMES)
    what = f"{op} {rel}"
    if op in ("write", "link", "chmod", "rm"):
        edit(op, rel, f"{seed}-{step}\n" if op == "write" else rng.choice(["a", "../x", "d/e"]))
    elif op == "restore" and os.path.isdir(os.path.join(W, rel)) and not os.path.islink(os.path.join(W, rel)):
        continue   # git removes the directory and what is in it; pach refuses (pach-restore(1))
    elif op in ("add", "restore", "unstage", "addall"):
        sub = {"add": ["add"], "addall": ["add"], "restore": ["restore"], "unstage": ["restore", "--staged"]}[op]
        target = "." if op == "addall" else rel
        rg, rp = both(["git"] + sub + ["--", target], ["pach"] + sub + [target])
        if (rg[0] == 0) != (rp[0] == 0):
            sys.exit(f"seed {seed} step {step} ({what}): git exit {rg[0]} ({rg[2].strip()}), pach exit {rp[0]} ({rp[2].strip()})")
    elif op in ("commit", "commit-a"):
        a = ["-a"] if op == "commit-a" else []
        rg, rp = both(["git", "commit", "-q", "-m", "x"] + a, ["pach", "commit", "-m", "x"] + a)
        # git exits 1 with nothing to commit, pach 0 (pach-commit(1)); the trees are compared below.
        if rp[0] != 0 or (rg[0] != 0 and "nothing" not in rg[1] + rg[2] and "no changes added" not in rg[1] + rg[2]):
            sys.exit(f"seed {seed} step {step} ({what}): git exit {rg[0]} ({rg[1].strip()} {rg[2].strip()}), pach exit {rp[0]} ({rp[2].strip()})")
    elif op == "switch":
        to = "master" if branch[0] != "master" else "side"
        exists = run(G, "git", "rev-parse", "-q", "--verify", "refs/heads/" + to)[0] == 0
        if exists:
            rg, rp = both(["git", "switch", "-q", to], ["pach", "checkout", to])
        else:
            rg, rp = both(["git", "switch", "-q", "-c", to], ["pach", "checkout", "-b", to])
        if rg[0] == 0 and rp[0] != 0 and "would lose" in rp[2]:
            # git drops a file only staged where the target has a file on
            # its way; pach refuses (pach-checkout(1)): the two part here.
            print(f"seed {seed}: {step} steps agree; then pach refuses what git drops: {rp[2].strip()}")
            sys.exit(0)
        if rg[0] != 0 and rp[0] == 0 and ("untracked working tree files would be overwritten" in rg[2] or
                                          "local changes to the following files" in rg[2]):
            # git also refuses an untracked file equal to the target's and a
            # file gone because its directory became a file; pach loses
            # nothing there and goes on (pach-checkout(1)): the two part here.
            print(f"seed {seed}: {step} steps agree; then pach switches where git refuses: {rg[2].strip()[:120]}")
            sys.exit(0)
        if (rg[0] == 0) != (rp[0] == 0):
            sys.exit(f"seed {seed} step {step} ({what} -> {to}): git exit {rg[0]} ({rg[2].strip()}), pach exit {rp[0]} ({rp[2].strip()})")
        if os.environ.get("TRACE"): print("  switch:", rg[0], rg[2].strip()[:200], "|", rp[0], rp[2].strip()[:300])
        if rg[0] == 0:
            branch[0] = to
        what += " -> " + to
    elif op == "diff":
        same_diff(step, "unstaged diff", [], [])
        same_diff(step, "diff HEAD", ["HEAD"], ["--head"])
    if os.environ.get("TRACE"): print(step, what, flush=True)
    check(step, what)
print(f"seed {seed}: {steps} steps agree")
