#!/bin/sh
test_description='the layers as design.adoc draws them: libgit2 only in plumbing, no layer includes one above it'
. ./test-lib.sh

src=$PACH_BUILD_DIR
# includes DIR: the project headers DIR's sources include, "file: header".
# Unit tests (*_test.cc) may include the shared test fixtures in t/.
includes() {
	(cd "$src" && grep -H '^#include "' $1/*.cc $1/*.h 2>/dev/null | sed 's/:#include "\(.*\)"/: \1/' |
		grep -v '^[^:]*_test\.cc: t/')
}

test_expect_success 'only plumbing includes <git2.h> or plumbing/git.h' '
	(cd "$src" && grep -l "^#include <git2.h>\|^#include \"plumbing/git.h\"" cmd/*.cc cmd/*.h porcelain/*.cc porcelain/*.h \
		remote/*.cc remote/*.h mount/*.cc mount/*.h runner/*.cc runner/*.h serve/*.cc serve/*.h fuzz/*.cc 2>/dev/null || :) >outside &&
	test_must_be_empty outside &&
	(cd "$src" && grep -l "^#include <git2.h>" plumbing/*.h) >headers && echo plumbing/git.h >want &&
	test_cmp want headers
'

test_expect_success 'plumbing includes no other layer; mount, runner and remote no porcelain or cmd' '
	{ includes plumbing | grep -v ": plumbing/" || :; } >up && test_must_be_empty up &&
	for d in mount remote; do includes $d | grep ": \(porcelain\|cmd\|runner\)/" || :; done >up &&
	{ includes runner | grep ": \(cmd\|mount\)/" || :; } >>up &&
	{ includes porcelain | grep ": \(cmd\|mount\)/" || :; } >>up &&
	test_must_be_empty up
'

test_expect_success 'serve (the S3 gateway, metrics) sits above runner: no cmd or mount; only cmd includes it' '
	{ includes serve | grep ": \(cmd\|mount\)/" || :; } >up &&
	for d in plumbing porcelain remote mount runner; do includes $d | grep ": serve/" || :; done >>up &&
	test_must_be_empty up
'

test_expect_success 'options are passed, not put in the environment' '
	(cd "$src" && grep -n "\bsetenv(\|putenv(" cmd/*.cc porcelain/*.cc remote/*.cc mount/*.cc runner/*.cc serve/*.cc plumbing/*.cc |
		grep -v "_test.cc") >setenvs;
	test_must_be_empty setenvs
'

test_done
