#!/bin/sh
test_description='pach put --split and --append, as pachctl put file (test vectors from Pachyderm 1.x TestPutFileSplit)'
. ./test-lib.sh

# "count size" of each piece under r:$1, one line per distinct size.
pieces() { pach ls -l "r:$1" | awk '{print $4}' | sort | uniq -c | awk '{print $1, $2}'; }

test_expect_success 'setup' '
	pach init && pach repo create r && printf "foo\nbar\nbuz\n" >l && printf "foo\nbar\nbuz\nfiz\n" >l4
'

test_expect_success 'line: one record a piece, named by 16 hex digits; --append adds, a re-split replaces' '
	pach put r:/line l --split line >/dev/null && test "$(pieces /line)" = "3 4" &&
	pach ls r:/line >names && printf "/line/%s\n" 0000000000000000 0000000000000001 0000000000000002 >want &&
	test_cmp want names && test "$(pach cat r:/line/0000000000000001)" = bar &&
	pach put r:/line l --split line --append >/dev/null && test "$(pieces /line)" = "6 4" &&
	test "$(pach cat r:/line/0000000000000005)" = buz &&
	pach put r:/line l --split line >/dev/null && test "$(pieces /line)" = "3 4"
'

test_expect_success 'target-file-datums and target-file-bytes' '
	pach put r:/line2 l4 --split line --target-file-datums 2 >/dev/null && test "$(pieces /line2)" = "2 8" &&
	pach put r:/line3 l4 --split line --target-file-bytes 8 >/dev/null && test "$(pieces /line3)" = "2 8" &&
	test "$(pach cat r:/line3/0000000000000001)" = "$(printf "buz\nfiz")"
'

test_expect_success 'json: one value a piece, strings and nesting respected, from standard input' '
	printf "{}{}{}{}{}{}{}{}{}{}" | pach put r:/json - --split json >/dev/null && test "$(pieces /json)" = "10 2" &&
	printf "{}{}{}{}{}{}{}{}{}{}" | pach put r:/json - --split json --append >/dev/null && test "$(pieces /json)" = "20 2" &&
	printf "{}{}{}{}" | pach put r:/json2 - --split json --target-file-datums 2 >/dev/null && test "$(pieces /json2)" = "2 4" &&
	printf "{}{}{}{}" | pach put r:/json3 - --split json --target-file-bytes 4 >/dev/null && test "$(pieces /json3)" = "2 4" &&
	printf "{\"a\": \"}{\"}\n[1, {\"b\": \"\\\\\\\\\"}]\n" | pach put r:/j - --split json >/dev/null &&
	test "$(pach ls r:/j | wc -l)" = 2 && test "$(pach cat r:/j/0000000000000000)" = "{\"a\": \"}{\"}"
'

test_expect_success 'csv with a header record and a quoted newline' '
	printf "h1,h2\n1,\"a\nb\"\n2,c\n3,d\n" >c.csv &&
	pach put r:/csv c.csv --split csv --header-records 1 --target-file-datums 2 >/dev/null &&
	printf "h1,h2\n1,\"a\nb\"\n2,c\n" >want && pach cat r:/csv/0000000000000000 >got && test_cmp want got &&
	printf "h1,h2\n3,d\n" >want && pach cat r:/csv/0000000000000001 >got && test_cmp want got
'

test_expect_success 'sql: each piece is a loadable dump (header, rows, the rest)' '
	printf "SET x = 1;\nCOPY public.t (a, b) FROM stdin;\n1\tx\n2\ty\n3\tz\n\\\\.\nALTER TABLE t ADD PRIMARY KEY (a);\n" >d.sql &&
	pach put r:/sql d.sql --split sql --target-file-datums 2 >/dev/null &&
	printf "SET x = 1;\nCOPY public.t (a, b) FROM stdin;\n3\tz\n\\\\.\nALTER TABLE t ADD PRIMARY KEY (a);\n" >want &&
	pach cat r:/sql/0000000000000001 >got && test_cmp want got &&
	test_fatal pach put r:/sql2 l --split sql && grep "not a pg_dump" fatal.err
'

test_expect_success 'a split of a big input streams: memory stays small' '
	python3 -c "
import sys
for i in range(400000): sys.stdout.write(\"%08d some text on a line\n\" % i)
" >big && /usr/bin/time -f "%M" pach put r:/big big --split line --target-file-bytes 1048576 >/dev/null 2>rss &&
	test "$(pach ls r:/big | wc -l)" = 12 && test "$(tail -1 rss)" -lt 100000 &&
	pach cat r:/big/0000000000000000 >first && test "$(head -1 first)" = "00000000 some text on a line" &&
	size=$(wc -c <first) && test $size -ge 1048576 && test $size -lt 1048606 &&
	for f in $(pach ls r:/big); do pach cat r:$f; done | cmp - big
'

test_expect_success '--append adds to the end of a file (or makes it)' '
	echo hello >a && pach put r:/log a >/dev/null && echo world | pach put r:/log - --append >/dev/null &&
	printf "hello\nworld\n" >want && pach cat r:/log >got && test_cmp want got &&
	pach put r:/new a --append >/dev/null && test "$(pach cat r:/new)" = hello && git_fsck
'

test_expect_success 'bad uses change nothing' '
	store_state >before &&
	test_expect_code 129 pach put r:/x l --split xml 2>err && grep "unknown --split" err &&
	test_expect_code 129 pach put r:/x l --target-file-datums 2 2>err && grep "needs --split" err &&
	test_expect_code 129 pach put r:/x l --split line --target-file-datums two 2>err &&
	test_fatal pach put r:/line l --append && grep "is a directory" fatal.err &&
	test_fatal pach put r:/log l --split line && grep "is a file" fatal.err &&
	test_fatal pach put r l --split line && grep "needs a path" fatal.err &&
	test_fatal pach put r:/x l l4 --split line && grep "one source" fatal.err &&
	store_state >after && test_cmp before after
'

test_done
