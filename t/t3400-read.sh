#!/bin/sh
test_description='ls, cat, get and glob'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create r && mkdir -p d/dir1 d/dir2/deep &&
	echo 1 >d/f1.csv && echo 2 >d/f2.csv && echo 3 >d/dir1/a.2 && echo 4 >d/dir2/deep/b.2 &&
	printf "#!/bin/sh\n" >d/x.sh && chmod +x d/x.sh && ln -s f1.csv d/ln &&
	pach commit r d -m one
'

test_expect_success 'ls lists a directory, -r recursive, -l long' '
	pach ls r >out && printf "/dir1/\n/dir2/\n/f1.csv\n/f2.csv\n/ln\n/x.sh\n" >want && test_cmp want out &&
	pach ls -r r:/dir2 >out && echo /dir2/deep/b.2 >want && test_cmp want out &&
	pach ls -l r:/x.sh | grep "^100755 file" &&
	pach ls --json r | python3 -c "import json,sys; assert len(json.load(sys.stdin))==6"
'

test_expect_success 'ls -h gives human sizes (and --help the usage)' '
	mkdir hs && head -c 1536 /dev/zero >hs/k && head -c 20971520 /dev/zero >hs/m && echo x >hs/b &&
	pach repo create hs && pach commit hs hs >/dev/null &&
	pach ls -h hs >out && awk "{print \$4, \$5}" out >sizes &&
	printf "2 /b\n1.5K /k\n20M /m\n" >want && test_cmp want sizes &&
	test_expect_code 129 pach ls --help >usage && grep "human-readable" usage
'

test_expect_success 'cat streams a file; directories and missing paths fail' '
	test "$(pach cat r:/dir1/a.2)" = 3 &&
	test_fatal pach cat r:/dir1 &&
	test_fatal pach cat r:/nope &&
	test_fatal pach cat r
'

test_expect_success 'get exports a tree with modes and symlinks' '
	pach get r export &&
	diff -r d export &&
	test -x export/x.sh && test -L export/ln && test "$(readlink export/ln)" = f1.csv &&
	test_fatal pach get r out
'

test_expect_success 'get of a file, into a directory' '
	mkdir into && pach get r:/f2.csv into && test_cmp d/f2.csv into/f2.csv &&
	pach get r:/f2.csv single && test_cmp d/f2.csv single
'

test_expect_success 'glob: files and directories alike' '
	pach glob r "/*" >out && test_line_count = 6 out && grep "^/dir1/$" out &&
	pach glob r "*" >out2 && test_cmp out out2
'

test_expect_success 'glob: ** crosses directories, never the root' '
	pach glob r "**.2" >out && printf "/dir1/a.2\n/dir2/deep/b.2\n" >want && test_cmp want out &&
	pach glob r "/" >out && echo / >want && test_cmp want out
'

test_expect_success 'glob: classes, braces, groups' '
	pach glob r "/f[12].csv" >out && test_line_count = 2 out &&
	pach glob r "/{f1,x}.*" >out && printf "/f1.csv\n/x.sh\n" >want && test_cmp want out &&
	pach glob r "/(*).csv" >out && test_line_count = 2 out
'

test_expect_success 'glob: bad patterns fail clearly' '
	test_fatal pach glob r "/[abc" &&
	grep "bad glob pattern" fatal.err
'

test_done
