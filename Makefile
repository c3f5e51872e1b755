# pach — plain Makefile over pkg-config.
#   make            build ./pach (installs missing Debian packages first)
#   make test       unit tests + shell tests, ending "N passed, N failed"
#   make demo       a short tour on a scratch store
#   make doc        man pages from Documentation/pach-*.adoc
#   make install PREFIX=/usr/local
#   make asan       build with AddressSanitizer/UBSan into build-asan/
#   make asan-test  the whole test suite against that build
#   make fuzz       libFuzzer targets (clang, ASan+UBSan) into build-fuzz/;
#                   make fuzz-run FUZZ_SECONDS=N runs each for N seconds

PREFIX ?= /usr/local
# Build on every core unless told otherwise (GNU make 4.3 honours this).
ifeq (,$(filter -j%,$(MAKEFLAGS)))
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif
CXX ?= g++
PKGS = libgit2 openssl zlib fmt yaml-cpp libcurl fuse3 libmicrohttpd
BUILD ?= build
OPT ?= -O2 -g
SAN ?=

CXXFLAGS += -std=c++20 $(OPT) $(SAN) -Wall -Wextra -I. -I$(BUILD)/gen -MMD -MP
LDFLAGS += $(SAN)

LIB_SRC := $(filter-out %_test.cc,$(wildcard plumbing/*.cc porcelain/*.cc runner/*.cc remote/*.cc mount/*.cc serve/*.cc))
CMD_SRC := $(filter-out %_test.cc,$(wildcard cmd/*.cc))
TEST_SRC := $(wildcard cmd/*_test.cc plumbing/*_test.cc porcelain/*_test.cc runner/*_test.cc remote/*_test.cc mount/*_test.cc serve/*_test.cc) t/unit_main.cc

LIB_OBJ := $(LIB_SRC:%.cc=$(BUILD)/%.o)
CMD_OBJ := $(CMD_SRC:%.cc=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.cc=$(BUILD)/%.o)
# Stamps: each set of Debian packages is checked once per build directory.
DEPS_STAMP := $(BUILD)/.deps-build
DEPS_DOC := $(BUILD)/.deps-doc
DEPS_DEMO := $(BUILD)/.deps-demo
DEPS_TEST := $(BUILD)/.deps-test

all: pach

$(BUILD)/.deps-%: ci/install-deps.sh
	@./ci/install-deps.sh $*
	@mkdir -p $(BUILD) && touch $@

deps: $(DEPS_STAMP)
test-deps: $(DEPS_TEST)

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread

# plumbing/pch.h precompiled with the flags of every compile (a mismatch
# would make gcc ignore it: -Winvalid-pch says so).
PCH := $(BUILD)/gen/pch.h.gch
$(PCH): plumbing/pch.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@cp $< $(BUILD)/gen/pch.h
	$(CXX) $(CXXFLAGS) $(PKG_CFLAGS) -x c++-header $(BUILD)/gen/pch.h -o $@

$(BUILD)/%.o: %.cc $(PCH) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(PKG_CFLAGS) -include pch.h -Winvalid-pch -c $< -o $@

# The one list of commands (Documentation/command-list.txt) makes the
# command table and pach(1)'s COMMANDS section.
GEN_COMMANDS := Documentation/gen-commands.sh Documentation/command-list.txt
$(BUILD)/gen/command-list.h: $(GEN_COMMANDS)
	@mkdir -p $(dir $@)
	@./Documentation/gen-commands.sh header >$@.tmp && mv $@.tmp $@
$(BUILD)/gen/pach.adoc: Documentation/pach.adoc $(GEN_COMMANDS)
	@mkdir -p $(dir $@)
	@./Documentation/gen-commands.sh adoc $< >$@.tmp && mv $@.tmp $@
$(CMD_OBJ): $(BUILD)/gen/command-list.h

# Every page's source: pach.adoc as generated, the others as written.
ADOC := $(BUILD)/gen/pach.adoc $(filter-out Documentation/pach.adoc,$(sort $(wildcard Documentation/pach*.adoc)))

# The manual's text is built into the binary: `pach help <command>` shows
# the whole page without `make doc` or `make install`.
$(BUILD)/gen/manpages.cc: $(ADOC) Makefile
	@mkdir -p $(dir $@)
	@{ echo '#include "cmd/manpages.h"'; echo 'namespace pach::cmd {'; \
	  echo 'const ManPage kManPages[] = {'; \
	  for f in $(ADOC); do \
	    if grep -q ')PACHDOC"' $$f; then echo "$$f: holds the raw string delimiter" >&2; exit 1; fi; \
	    printf '{"%s", R"PACHDOC(' $$(basename $$f .adoc); cat $$f; echo ')PACHDOC"},'; \
	  done; echo '{nullptr, nullptr}};'; echo '}'; } >$@.tmp && mv $@.tmp $@

# The web console's pages (serve/console/) are built into the binary too.
CONSOLE_ASSETS := serve/console/index.html serve/console/app.js serve/console/style.css
$(BUILD)/gen/console_assets.h: $(CONSOLE_ASSETS) Makefile
	@mkdir -p $(dir $@)
	@{ for f in $(CONSOLE_ASSETS); do \
	    if grep -q ')PACHASSET"' $$f; then echo "$$f: holds the raw string delimiter" >&2; exit 1; fi; \
	    n=$$(basename $$f | sed 's/[.]\(.\)/_\1/; s/^\(.\)/\1/' | awk -F_ '{printf "kConsole"; for (i=1;i<=NF;i++) printf "%s", toupper(substr($$i,1,1)) substr($$i,2)}'); \
	    printf 'static const char %s[] = R"PACHASSET(' $$n; cat $$f; echo ')PACHASSET";'; \
	  done; } >$@.tmp && mv $@.tmp $@
$(BUILD)/serve/console.o: $(BUILD)/gen/console_assets.h

$(BUILD)/gen/manpages.o: $(BUILD)/gen/manpages.cc
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/pach: $(CMD_OBJ) $(LIB_OBJ) $(BUILD)/gen/manpages.o
	$(CXX) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

pach: $(BUILD)/pach
	@cp $< $@

$(TEST_OBJ): | $(DEPS_TEST)   # doctest

# cmd/args.o: the argument parser's tests (cmd/args_test.cc).
$(BUILD)/unit-tests: $(TEST_OBJ) $(LIB_OBJ) $(BUILD)/cmd/args.o
	$(CXX) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

unit-tests: $(BUILD)/unit-tests

# The man pages are built too: pach help shows them, and t0100 checks it.
test: $(DEPS_TEST) pach $(BUILD)/unit-tests doc fuzz
	@./t/run-tests.sh $(BUILD)/unit-tests

demo: pach $(DEPS_DEMO)
	@./ci/demo.sh

# The Kubernetes executor's worker image (an OCI layout): pach, its
# libraries and loader, CA certificates.  Push it where the cluster pulls.
worker-image: $(BUILD)/worker-image/index.json
$(BUILD)/worker-image/index.json: $(BUILD)/pach runner/worker-image.sh
	@sh runner/worker-image.sh $(BUILD)/pach $(BUILD)/worker-image

asan:
	$(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined" OPT="-O1 -g" build-asan/pach build-asan/unit-tests

# The whole suite against the sanitized build (no fuzzing: make fuzz has
# its own sanitizers).  Leak reports are off: a command's process-lifetime
# caches are not leaks; any other report fails the command, hence its test.
asan-test: asan doc
	ln -sfn ../$(BUILD)/man build-asan/man   # pach help finds pages beside the binary
	cd t && PACH_TEST_BUILD_DIR=../build-asan PACH_FUZZ_SECONDS=0 PACH_TEST_TIMEOUT_SCALE=10 \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		./run-tests.sh ../build-asan/unit-tests

# Fuzzing: the library built again with clang, libFuzzer and sanitizers.
FUZZ_CXX ?= clang++
FUZZ_BUILD := build-fuzz
$(FUZZ_BUILD)/serve/console.o: $(BUILD)/gen/console_assets.h
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SRC := $(wildcard fuzz/*_fuzz.cc)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%_fuzz.cc=$(FUZZ_BUILD)/%-fuzz)
FUZZ_LIB_OBJ := $(LIB_SRC:%.cc=$(FUZZ_BUILD)/%.o)
FUZZ_SECONDS ?= 10

FUZZ_CXXFLAGS := -std=c++20 -O1 -g -I. -I$(BUILD)/gen -fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_PCH := $(FUZZ_BUILD)/gen/pch.h.pch
$(FUZZ_PCH): plumbing/pch.h | $(DEPS_TEST)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) $(PKG_CFLAGS) -x c++-header $< -o $@

$(FUZZ_BUILD)/%.o: %.cc $(FUZZ_PCH) | $(DEPS_TEST)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -MMD -MP $(PKG_CFLAGS) -include-pch $(FUZZ_PCH) -c $< -o $@

$(FUZZ_BUILD)/%-fuzz: $(FUZZ_BUILD)/fuzz/%_fuzz.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CXX) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(PKG_LIBS)

fuzz: $(FUZZ_BIN)
.SECONDARY: $(FUZZ_LIB_OBJ) $(FUZZ_SRC:%.cc=$(FUZZ_BUILD)/%.o)

fuzz-run: fuzz
	@./fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BUILD)

MAN_SRC := $(wildcard Documentation/pach*.adoc)
MAN_OUT := $(MAN_SRC:Documentation/%.adoc=$(BUILD)/man/%.1)

$(BUILD)/man/pach.1: $(BUILD)/gen/pach.adoc | $(DEPS_DOC)
	@mkdir -p $(dir $@)
	asciidoctor -b manpage -o $@ $<

$(BUILD)/man/%.1: Documentation/%.adoc | $(DEPS_DOC)
	@mkdir -p $(dir $@)
	asciidoctor -b manpage -o $@ $<

doc: $(MAN_OUT)

install: pach doc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 pach $(DESTDIR)$(PREFIX)/bin/pach
	install -m 644 $(MAN_OUT) $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf build build-asan build-fuzz pach t/trash* t/results

.PHONY: all deps test-deps test demo doc install clean worker-image asan asan-test unit-tests fuzz fuzz-run
-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d)
