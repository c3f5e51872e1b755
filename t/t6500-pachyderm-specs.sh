#!/bin/sh
test_description='Pachyderm specs as Pachyderm writes them: camelCase fields, no image, projects, spouts, the join/group environment, symlinks in /pfs/out'
. ./test-lib.sh

if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
	test_set_prereq BWRAP
fi
busybox=$(command -v busybox)
if [ -n "$busybox" ] && file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
	test_set_prereq BUSYBOX
fi

test_expect_success 'setup: stores and purchases, as in Pachyderm'"'"'s joins example' '
	pach init && pach repo create stores && pach repo create purchases && pach repo create fruits &&
	mkdir s p f f/sub &&
	echo "store 1" >s/STOREID1.txt && echo "store 2" >s/STOREID2.txt && echo "store 3" >s/STOREID3.txt &&
	echo "p a" >p/P1_STOREID1.txt && echo "p b" >p/P2_STOREID1.txt && echo "p c" >p/P3_STOREID2.txt &&
	echo "p d" >p/P4_STOREID4.txt &&
	echo apple >f/apple.jpeg && echo banana >f/banana.jpeg && echo s >f/sub/x && echo t >f/sub/y &&
	pach commit stores s && pach commit purchases p && pach commit fruits f
'

test_expect_success 'a camelCase JSON spec loads without warnings; joinOn, outerJoin, outputBranch, datumTries honoured' '
	cat >inner.json <<-\EOF &&
	{
	  "pipeline": {"name": "inner", "project": {"name": "default"}},
	  "description": "inner join, the way Pachyderm writes it",
	  "input": {
	    "join": [
	      {"pfs": {"repo": "stores", "branch": "master", "glob": "/STOREID(*).txt", "joinOn": "$1", "outerJoin": true}},
	      {"pfs": {"repo": "purchases", "glob": "/*_STOREID(*).txt", "joinOn": "$1", "emptyFiles": false}}
	    ]
	  },
	  "transform": {
	    "cmd": ["sh"],
	    "stdin": ["k=${PACH_DATUM_stores_JOIN_ON}; n=$(basename ${purchases:-none}); mkdir -p /pfs/out/$k",
	              "cat $stores ${purchases:-} >/pfs/out/$k/$n",
	              "echo ${PACH_DATUM_purchases_JOIN_ON:-none} >/pfs/out/$k/$n.key",
	              "test \"$PACH_OUTPUT_COMMIT_ID\" = \"$PACH_JOB_ID\" && echo same >/pfs/out/$k/$n.commit"],
	    "acceptReturnCode": [3],
	    "workingDir": "/pfs"
	  },
	  "parallelismSpec": {"constant": 2},
	  "datumTries": 2,
	  "outputBranch": "joined",
	  "resourceLimits": {"memory": "512Mi"},
	  "reprocessSpec": "until_success"
	}
	EOF
	pach pipeline create -f inner.json 2>err && test_must_be_empty err &&
	pach run --runtime local >out 2>err &&
	pach ls -r inner@joined >names &&
	printf "%s\n" /1/P1_STOREID1.txt /1/P1_STOREID1.txt.commit /1/P1_STOREID1.txt.key \
		/1/P2_STOREID1.txt /1/P2_STOREID1.txt.commit /1/P2_STOREID1.txt.key \
		/2/P3_STOREID2.txt /2/P3_STOREID2.txt.commit /2/P3_STOREID2.txt.key \
		/3/none /3/none.commit /3/none.key >want && test_cmp want names &&
	test "$(pach cat inner@joined:/1/P2_STOREID1.txt)" = "$(printf "store 1\np b")" &&
	test "$(pach cat inner@joined:/3/none)" = "store 3" &&
	test "$(pach cat inner@joined:/3/none.key)" = none && test "$(pach cat inner@joined:/1/P1_STOREID1.txt.key)" = 1 &&
	test_must_fail pach rev-parse inner@master
'

test_expect_success 'pipeline inspect shows a JSON spec as readable YAML' '
	pach pipeline inspect inner >out && grep "^  name: inner$" out && grep "^        joinOn: \$1$" out &&
	! grep "{pipeline:" out
'

test_expect_success 'the same spec in snake_case gives the same output tree' '
	sed -e "s/\"joinOn\"/\"join_on\"/g; s/\"outerJoin\"/\"outer_join\"/; s/\"emptyFiles\"/\"empty_files\"/" \
	    -e "s/\"acceptReturnCode\"/\"accept_return_code\"/; s/\"workingDir\"/\"working_dir\"/" \
	    -e "s/\"parallelismSpec\"/\"parallelism_spec\"/; s/\"datumTries\"/\"datum_tries\"/" \
	    -e "s/\"outputBranch\"/\"output_branch\"/; s/\"resourceLimits\"/\"resource_limits\"/" \
	    -e "s/\"reprocessSpec\"/\"reprocess_spec\"/; s/\"name\": \"inner\"/\"name\": \"inner2\"/" inner.json >inner2.json &&
	! grep "[a-z][A-Z]" inner2.json | grep -v "PACH_\|STOREID\|stores_JOIN\|purchases_JOIN" &&
	pach pipeline create -f inner2.json 2>err && test_must_be_empty err &&
	pach run --runtime local inner2 >/dev/null 2>&1 &&
	test "$(git --git-dir=.pach rev-parse inner2/joined^{tree})" = "$(git --git-dir=.pach rev-parse inner/joined^{tree})"
'

test_expect_success 'a field given in both spellings is refused, naming it as written' '
	sed "s/\"datumTries\": 2/\"datumTries\": 2, \"datum_tries\": 3/; s/\"name\": \"inner\"/\"name\": \"twice\"/" inner.json >twice.json &&
	test_fatal pach pipeline create -f twice.json && grep "datum_tries.*given twice" fatal.err
'

test_expect_success 'errors and warnings name fields as the user wrote them' '
	cat >bad.yaml <<-\EOF &&
	pipeline: {name: bad}
	transform: {cmd: [sh]}
	input: {join: [{pfs: {repo: stores, glob: "/*", joinOn: "$1"}}, {pfs: {repo: purchases, glob: "/*"}}]}
	podSpec: "{}"
	EOF
	test_fatal pach pipeline create -f bad.yaml && grep "input.join\[1\]" fatal.err && grep "no join_on" fatal.err &&
	sed -i "s|glob: \"/\*\"}}\]}|glob: \"/*\", joinOn: \"\$1\"}}]}|" bad.yaml &&
	pach pipeline create -f bad.yaml 2>err && grep "field .podSpec. .*Kubernetes" err
'

test_expect_success 'no image: runs on the host with the local runtime, saying what Pachyderm would run' '
	cat >noimage.yaml <<-\EOF &&
	pipeline: {name: noimage}
	transform: {cmd: [sh, -c, "cp $fruits /pfs/out/"]}
	input: {pfs: {repo: fruits, glob: "/*.jpeg"}}
	EOF
	pach pipeline create -f noimage.yaml 2>err && test_must_be_empty err &&
	pach run noimage >out 2>err && grep "no transform.image (Pachyderm would run ubuntu:20.04)" err &&
	test "$(pach cat noimage:/apple.jpeg)" = apple &&
	test_fatal pach run noimage --runtime bwrap --reprocess && grep "set pach.defaultImage" fatal.err
'

test_expect_success BWRAP,BUSYBOX 'an image from pach.defaultImage; a dry run with another runtime agrees with the real run' '
	mkdir -p rootfs/bin rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs &&
	cp "$busybox" rootfs/bin/busybox && for a in sh cat cp ln mkdir basename; do ln -s busybox rootfs/bin/$a; done &&
	echo "from the image" >rootfs/motd && mkdir rootfs/etcdir && echo conf >rootfs/etcdir/a.conf &&
	sed "s/name: noimage/name: boxed/" noimage.yaml >boxed.yaml && pach pipeline create -f boxed.yaml &&
	pach config set pach.defaultImage "dir:$PWD/rootfs" &&
	pach run boxed >out 2>err && ! grep "local" err && grep "2 processed" out &&
	pach run --dry-run --runtime local boxed >out && grep "0 would run, 2 unchanged" out &&
	pach config unset pach.defaultImage
'

test_expect_success BWRAP,BUSYBOX 'links into the image are read inside the image root' '
	cat >imglink.yaml <<-EOF &&
	pipeline: {name: imglink}
	transform:
	  image: dir:$PWD/rootfs
	  cmd: [sh, -c, "ln -s /motd /pfs/out/motd; ln -s ../../etcdir /pfs/out/etc"]
	input: {pfs: {repo: fruits, glob: "/apple.jpeg"}}
	EOF
	pach pipeline create -f imglink.yaml && pach run imglink >/dev/null 2>&1 &&
	test "$(pach cat imglink:/motd)" = "from the image" && test "$(pach cat imglink:/etc/a.conf)" = conf &&
	sed "s/name: imglink/name: imgesc/; s|ln -s /motd /pfs/out/motd; ln -s ../../etcdir /pfs/out/etc|ln -s /../../../../../etc/hostname /pfs/out/h|" \
		imglink.yaml >imgesc.yaml && pach pipeline create -f imgesc.yaml &&
	test_must_fail pach run imgesc >/dev/null 2>&1 && pach logs --pipeline imgesc >log 2>&1 &&
	grep "points to ./etc/hostname., which the image does not have" log
'

test_expect_success 'projects: the default one is accepted, another is refused (never merged)' '
	sed "s/name: noimage}/name: proj, project: {name: research}}/" noimage.yaml >proj.yaml &&
	test_fatal pach pipeline create -f proj.yaml && grep "project .research.: pach has no projects" fatal.err &&
	sed "s/repo: fruits,/repo: fruits, project: other,/; s/name: noimage/name: proj2/" noimage.yaml >proj2.yaml &&
	test_fatal pach pipeline create -f proj2.yaml && grep "project .other." fatal.err
'

test_expect_success 'spouts are refused as such' '
	printf "pipeline: {name: sp}\nspout: {}\ntransform: {cmd: [sh]}\n" >spout.yaml &&
	test_fatal pach pipeline create -f spout.yaml && grep "spout pipelines are not supported" fatal.err
'

test_expect_success 'group example: PACH_DATUM_<input>_GROUP_BY names the group' '
	cat >grp.yaml <<-\EOF &&
	pipeline: {name: grp}
	transform:
	  cmd: [sh]
	  stdin: ["cat /pfs/purchases/* >/pfs/out/$PACH_DATUM_purchases_GROUP_BY"]
	input:
	  group:
	  - pfs: {repo: purchases, glob: "/*_STOREID(*).txt", groupBy: "$1"}
	EOF
	pach pipeline create -f grp.yaml && pach run grp >/dev/null 2>&1 &&
	test "$(pach cat grp:/1)" = "$(printf "p a\np b")" && test "$(pach cat grp:/4)" = "p d" &&
	pach ls grp >names && printf "/1\n/2\n/4\n" >want && test_cmp want names
'

test_expect_success 'datums run one per core unless the spec or -j says otherwise' '
	mkdir meet && cat >par.yaml <<-EOF &&
	pipeline: {name: par}
	transform:
	  cmd: [sh]
	  stdin:
	  - "n=\$(basename \$fruits); touch \"\$MEET/\$n\"; i=0"
	  - "while [ \$(ls \"\$MEET\" | wc -l) -lt 2 ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i+1)); done"
	  - "ls \"\$MEET\" | wc -l >/pfs/out/\$n"
	  env: {MEET: "$PWD/meet"}
	input: {pfs: {repo: fruits, glob: "/*.jpeg"}}
	EOF
	pach pipeline create -f par.yaml && pach run par >/dev/null 2>&1 &&
	if [ "$(nproc)" -ge 2 ]; then
		test "$(pach cat par:/apple.jpeg)" = 2 && test "$(pach cat par:/banana.jpeg)" = 2
	fi
'

test_expect_success 'symlinks in /pfs/out into an input are stored as what they point to, by id' '
	cat >shuffle.yaml <<-\EOF &&
	pipeline: {name: shuffle}
	transform:
	  cmd: [sh]
	  stdin:
	  - "n=$(basename $fruits .jpeg); mkdir -p /pfs/out/$n; ln -s $fruits /pfs/out/$n/img.jpeg"
	  - "ln -s ../../fruits/sub /pfs/out/$n/subdir"
	  - "echo meta >/pfs/out/$n/meta; ln -s meta /pfs/out/$n/meta2; ln -s ../$n/meta2 /pfs/out/$n/meta3"
	input:
	  cross:
	  - pfs: {repo: fruits, glob: "/*.jpeg"}
	  - pfs: {name: fsub, repo: fruits, glob: "/sub"}
	EOF
	sed -i "s|../../fruits/sub|/pfs/fsub/sub|" shuffle.yaml &&
	pach pipeline create -f shuffle.yaml && pach run shuffle >/dev/null 2>&1 &&
	test "$(pach cat shuffle:/apple/img.jpeg)" = apple &&
	test "$(pach cat shuffle:/apple/meta2)" = meta && test "$(pach cat shuffle:/apple/meta3)" = meta &&
	test "$(git --git-dir=.pach rev-parse shuffle/master:apple/img.jpeg)" = "$(git --git-dir=.pach rev-parse fruits/master:apple.jpeg)" &&
	test "$(git --git-dir=.pach rev-parse shuffle/master:banana/subdir)" = "$(git --git-dir=.pach rev-parse fruits/master:sub)" &&
	git --git-dir=.pach ls-tree -r shuffle/master >tree && ! grep "^120000" tree && git_fsck
'

test_expect_success 'a link out of /pfs fails its datum with a clear message; host files are never read' '
	cat >escape.yaml <<-\EOF &&
	pipeline: {name: escape}
	transform: {cmd: [sh, -c, "ln -s /etc/hostname /pfs/out/h; ln -s /pfs/nosuch/x /pfs/out/n"]}
	input: {pfs: {repo: fruits, glob: "/apple.jpeg"}}
	EOF
	pach pipeline create -f escape.yaml && test_must_fail pach run escape >out 2>&1 &&
	pach logs escape >log 2>&1 && pach logs -p escape >log2 2>&1 && test_cmp log log2 &&
	grep "/pfs/out/h: symbolic link to ./etc/hostname. points outside /pfs" log &&
	test_must_fail pach rev-parse escape@master
'

test_expect_success 'deleting a repo pipelines read names them; their run then fails, committing nothing' '
	pach repo create gone && pach put gone s/STOREID1.txt >/dev/null &&
	printf "pipeline: {name: reader}\ntransform: {cmd: [sh, -c, \"cp \$gone /pfs/out/\"]}\ninput: {pfs: {repo: gone, glob: \"/*\"}}\n" >reader.yaml &&
	pach pipeline create -f reader.yaml && pach run reader >/dev/null 2>&1 && head=$(pach rev-parse reader@master) &&
	test_fatal pach repo delete gone && grep "read by pipeline(s) .reader." fatal.err &&
	pach repo delete gone --force 2>err && grep "warning: pipeline(s) .reader. read repo .gone." err &&
	test_expect_code 1 pach run reader >out 2>err && grep "input repo .gone. does not exist" err &&
	test "$(pach rev-parse reader@master)" = "$head"
'

test_done
