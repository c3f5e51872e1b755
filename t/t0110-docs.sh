#!/bin/sh
test_description='every command has a man page whose SYNOPSIS is its usage'
. ./test-lib.sh

command -v python3 >/dev/null && test_set_prereq PYTHON

test_expect_success PYTHON 'each command in the table: a page, and usage lines = SYNOPSIS lines' '
	pach help -a >all &&
	"$PACH_BUILD_DIR/Documentation/gen-commands.sh" adoc "$PACH_BUILD_DIR/Documentation/pach.adoc" >pach.adoc &&
	python3 - "$PACH_BUILD_DIR/Documentation" <<-\PY
	import re, subprocess, sys
	doc = sys.argv[1]
	text = open("all").read().split("All commands:")[1]
	cmds = [l.split()[0] for l in text.splitlines() if l.startswith("   ")]
	assert len(cmds) > 30, cmds
	bad = []
	for c in cmds:
	    try:
	        page = open("%s/pach-%s.adoc" % (doc, c)).read()
	    except OSError:
	        bad.append("no page for " + c)
	        continue
	    syn = page.split("== SYNOPSIS")[1].split("\n==")[0]
	    syn = [l.strip() for l in syn.splitlines() if l.strip().startswith("pach")]
	    out = subprocess.run(["pach", c, "-h"], capture_output=True, text=True)
	    usage = [re.sub(r"^\s*(usage|or):\s*", "", l).strip() for l in (out.stdout + out.stderr).splitlines()
	             if re.match(r"^\s*(usage|or):", l)]
	    usage = [re.sub(r"\s{2,}.*$", "", u) for u in usage]
	    if usage != syn:
	        bad.append("%s: usage %s != synopsis %s" % (c, usage, syn))
	    if "*pach-%s*(1)::" % c not in open("pach.adoc").read():
	        bad.append("%s: not listed under COMMANDS in pach.adoc" % c)
	if bad:
	    sys.exit("\n".join(bad))
	PY
'

test_done
