#!/bin/sh
test_description='datums: glob, cross, union, join and group as Pachyderm defines them'
. ./test-lib.sh

# Print the datums of spec $1 as sorted lines "input:path input:path ...".
datums() {
	pach datums -f "$1" --json >datums.json &&
	python3 -c '
import json
for spec in json.load(open("datums.json")):
    lines = sorted(" ".join(sorted(f["input"] + ":" + f["path"] for f in d["files"])) for d in spec["datums"])
    for l in lines: print(l)
'
}

spec() {
	name=$1 input=$2
	printf "pipeline: {name: %s}\ntransform: {image: busybox, cmd: [sh]}\ninput: %s\n" "$name" "$input" >"$name.yaml"
}

test_expect_success setup '
	pach init && pach repo create a && pach repo create b && pach repo create empty &&
	mkdir da db && echo 1 >da/a1.csv && echo 2 >da/a2.csv && mkdir da/dir && echo x >da/dir/x &&
	echo 1 >db/b1 && echo 2 >db/b2 &&
	pach commit a da && pach commit b db &&
	mkdir ja jb && echo >ja/1-x.txt && echo >ja/1-w.txt && echo >ja/2-y.txt && echo >ja/3-z.txt &&
	echo >jb/1.csv && echo >jb/2.csv && echo >jb/4.csv &&
	pach repo create ja && pach repo create jb && pach commit ja ja && pach commit jb jb
'

test_expect_success 'pfs: files and directories alike; the root only for "/"' '
	spec p1 "{pfs: {repo: a, glob: \"/*\"}}" && datums p1.yaml >out &&
	printf "a:/a1.csv\na:/a2.csv\na:/dir\n" >want && test_cmp want out &&
	spec p2 "{pfs: {repo: a, glob: /}}" && datums p2.yaml >out &&
	echo "a:/" >want && test_cmp want out &&
	spec p3 "{pfs: {repo: a, glob: \"/**\"}}" && datums p3.yaml >out &&
	printf "a:/a1.csv\na:/a2.csv\na:/dir\na:/dir/x\n" >want && test_cmp want out
'

test_expect_success 'an empty repo gives no datums, even for "/"' '
	spec p4 "{pfs: {repo: empty, glob: /}}" && datums p4.yaml >out && test_must_fail test -s out
'

test_expect_success 'cross: every combination; an empty member gives none' '
	spec c1 "{cross: [{pfs: {repo: a, glob: \"/*\"}}, {pfs: {repo: b, glob: \"/*\"}}]}" && datums c1.yaml >out &&
	test_line_count = 6 out && grep -x "a:/dir b:/b2" out &&
	spec c2 "{cross: [{pfs: {repo: a, glob: \"/*\"}}, {pfs: {repo: empty, glob: \"/*\"}}]}" && datums c2.yaml >out &&
	test_must_fail test -s out
'

test_expect_success 'a three-way cross lists its first input outermost and its last innermost' '
	spec c3 "{cross: [{pfs: {repo: a, glob: \"/*\"}}, {pfs: {repo: b, glob: \"/*\"}}, {pfs: {repo: jb, glob: \"/*\"}}]}" &&
	pach datums -f c3.yaml >out &&
	sed "\$!s/^[0-9a-f]* //" out >got &&
	python3 -c "
for a in [\"a1.csv\", \"a2.csv\", \"dir/\"]:
    for b in [\"b1\", \"b2\"]:
        for j in [\"1.csv\", \"2.csv\", \"4.csv\"]:
            print(\"a:/%s b:/%s jb:/%s\" % (a, b, j))
print(\"18 datums\")
" >want && test_cmp want got
'

test_expect_success 'union: plain concatenation, no dedupe' '
	spec u1 "{union: [{pfs: {repo: a, glob: \"/*\"}}, {pfs: {repo: b, glob: \"/*\"}}]}" && datums u1.yaml >out &&
	printf "a:/a1.csv\na:/a2.csv\na:/dir\nb:/b1\nb:/b2\n" >want && test_cmp want out &&
	spec u2 "{union: [{pfs: {repo: a, glob: \"/*.csv\"}}, {pfs: {repo: a, glob: \"/*.csv\"}}]}" && datums u2.yaml >out &&
	test_line_count = 4 out
'

test_expect_success 'join: equal keys cross-multiplied, missing keys dropped' '
	spec j1 "{join: [{pfs: {repo: ja, glob: \"/(*)-*.txt\", join_on: \"\$1\"}}, {pfs: {repo: jb, glob: \"/(*).csv\", join_on: \"\$1\"}}]}" &&
	datums j1.yaml >out &&
	printf "ja:/1-w.txt jb:/1.csv\nja:/1-x.txt jb:/1.csv\nja:/2-y.txt jb:/2.csv\n" >want && test_cmp want out
'

test_expect_success 'join with outer_join keeps the outer side'"'"'s unmatched files' '
	spec j2 "{join: [{pfs: {repo: ja, glob: \"/(*)-*.txt\", join_on: \"\$1\", outer_join: true}}, {pfs: {repo: jb, glob: \"/(*).csv\", join_on: \"\$1\"}}]}" &&
	datums j2.yaml >out &&
	printf "ja:/1-w.txt jb:/1.csv\nja:/1-x.txt jb:/1.csv\nja:/2-y.txt jb:/2.csv\nja:/3-z.txt\n" >want && test_cmp want out &&
	spec j3 "{join: [{pfs: {repo: ja, glob: \"/(*)-*.txt\", join_on: \"\$1\", outer_join: true}}, {pfs: {repo: jb, glob: \"/(*).csv\", join_on: \"\$1\", outer_join: true}}]}" &&
	datums j3.yaml >out && test_line_count = 5 out && grep -x "jb:/4.csv" out
'

test_expect_success 'group: one datum per key, whatever holds it' '
	spec g1 "{group: [{pfs: {repo: ja, glob: \"/(*)-*.txt\", group_by: \"\$1\"}}, {pfs: {repo: jb, glob: \"/(*).csv\", group_by: \"\$1\"}}]}" &&
	datums g1.yaml >out &&
	printf "ja:/1-w.txt ja:/1-x.txt jb:/1.csv\nja:/2-y.txt jb:/2.csv\nja:/3-z.txt\njb:/4.csv\n" >want && test_cmp want out
'

test_expect_success 'a group over a join re-keys every joined file by its own group_by' '
	spec gj "{group: [{join: [{pfs: {repo: ja, glob: \"/(*)-(*).txt\", join_on: \"\$1\", group_by: \"\$2\"}}, {pfs: {repo: jb, glob: \"/(*).csv\", join_on: \"\$1\", group_by: \"\$1\"}}]}]}" &&
	datums gj.yaml >out &&
	printf "ja:/1-w.txt\nja:/1-x.txt\nja:/2-y.txt\njb:/1.csv\njb:/2.csv\n" >want && test_cmp want out
'

test_expect_success 'a group over a join and a plain input shares one key space' '
	spec gj2 "{group: [{join: [{pfs: {repo: ja, glob: \"/(*)-(*).txt\", join_on: \"\$1\", group_by: \"\$1\"}}, {pfs: {repo: jb, glob: \"/(*).csv\", join_on: \"\$1\", group_by: \"\$1\"}}]}, {pfs: {name: jb2, repo: jb, glob: \"/(*).csv\", group_by: \"\$1\"}}]}" &&
	datums gj2.yaml >out &&
	printf "ja:/1-w.txt ja:/1-x.txt jb2:/1.csv jb:/1.csv\nja:/2-y.txt jb2:/2.csv jb:/2.csv\njb2:/4.csv\n" >want && test_cmp want out
'

test_expect_success 'a group over a cross and a union; a join over a union' '
	spec gc "{group: [{cross: [{pfs: {repo: ja, glob: \"/(*)-*.txt\", group_by: \"\$1\"}}, {pfs: {repo: jb, glob: \"/(4).csv\", group_by: \"\$1\"}}]}]}" &&
	datums gc.yaml >out &&
	printf "ja:/1-w.txt ja:/1-x.txt\nja:/2-y.txt\nja:/3-z.txt\njb:/4.csv\n" >want && test_cmp want out &&
	spec ju "{join: [{union: [{pfs: {repo: ja, glob: \"/(1)-*.txt\", join_on: \"\$1\"}}, {pfs: {repo: ja, name: ja2, glob: \"/(3)-*.txt\", join_on: \"\$1\"}}]}, {pfs: {repo: jb, glob: \"/(*).csv\", join_on: \"\$1\"}}]}" &&
	datums ju.yaml >out &&
	printf "ja:/1-w.txt jb:/1.csv\nja:/1-x.txt jb:/1.csv\n" >want && test_cmp want out
'

test_expect_success 'every input under a join (group) needs its key, however deep' '
	spec deep "{group: [{join: [{pfs: {repo: ja, glob: \"/(*)\", join_on: \"\$1\"}}, {pfs: {repo: jb, glob: \"/(*)\", join_on: \"\$1\", group_by: \"\$1\"}}]}]}" &&
	test_fatal pach datums -f deep.yaml && grep "input .ja. has no group_by" fatal.err
'

test_expect_success 'datum ids are stable and content-independent' '
	spec s1 "{pfs: {repo: a, glob: \"/*\"}}" &&
	pach datums -f s1.yaml >before &&
	echo changed >da/a1.csv && pach commit a da &&
	pach datums -f s1.yaml >after && test_cmp before after
'

test_expect_success 'inputs nested 100,000 deep: one clear error, no crash' '
	python3 -c "
n = 100000
print(\"pipeline: {name: deep}\\ntransform: {cmd: [sh]}\\ninput: \" + \"{cross: [\" * n + \"{pfs: {repo: a, glob: /}}\" + \"]}\" * n)
" >deep.yaml &&
	test_fatal pach datums -f deep.yaml && grep "deep.yaml:3: nested too deeply" fatal.err
'

test_expect_success 'a preview over a repo that does not exist says so' '
	spec nr "{pfs: {repo: nosuch, glob: \"/*\"}}" &&
	pach datums -f nr.yaml >out 2>err && grep "0 datums" out && grep "input repo .nosuch. does not exist" err
'

test_expect_success 'join and group need their keys' '
	spec bad "{join: [{pfs: {repo: ja, glob: \"/*\"}}, {pfs: {repo: jb, glob: \"/*\", join_on: \"\$1\"}}]}" &&
	test_fatal pach datums -f bad.yaml && grep "join_on" fatal.err
'

test_done
