# okof - a key-value store for the shell.  See README.md.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANPREFIX ?= $(DATADIR)/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

# The shared library: libokof.so.$(VERSION), SONAME libokof.so.0.  The
# SONAME's number changes with any incompatible change of okof.h's ABI
# (make check-abi tells).
VERSION = $(shell sed -n 's/^\#define OKOF_VERSION "\(.*\)"/\1/p' src/okof.h)
SOMAJOR = 0
SONAME = libokof.so.$(SOMAJOR)

CC ?= cc
CFLAGS ?= -O2 -g
# Hardening for okof's own objects, in every configuration (CI's
# sanitizer and valgrind builds too): measured at +-0.01% instructions
# on a small get/put.  _FORTIFY_SOURCE needs -O1 or more: an -O0
# build sets HARDEN= (or HARDEN=-fstack-protector-strong).
HARDEN ?= -fstack-protector-strong -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
WARN = -std=c17 -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wconversion \
	-Wno-sign-conversion
WERROR ?=
# BUILD holds the objects of one configuration (CI uses build-asan...).
BUILD ?= build
# STATIC=1 links snappy, libstdc++ and libsodium statically (and libc,
# on Linux): a dynamic libstdc++ alone costs ~0.6 ms per process.
STATIC ?= auto
# The binary: CI builds sanitizer and valgrind variants beside it.
BIN ?= okof
EXTRA_CFLAGS ?=
EXTRA_LDFLAGS ?=
# A static okof is linked in the order src/hot.ld gives (GNU ld), which
# gathers what small commands run into few pages; HOT_LD= links without.
HOT_LD ?= src/hot.ld

PKG_CFLAGS = `pkg-config --cflags libsodium snappy jansson`
TEST_CFLAGS = `pkg-config --cflags check`
TEST_LIBS = `pkg-config --libs check`

# The library (src/lib/, its public header src/okof.h) and the command
# line on top of it (src/cli/), which is compiled with -Isrc alone so
# that it cannot include a header of the library's insides.
LIB_SRC = src/lib/io.c src/lib/crc32c.c src/lib/codec.c src/lib/record.c \
	src/lib/record_pack.c src/lib/record_write.c src/lib/record_read.c \
	src/lib/strerror.c src/lib/tmpfile.c src/lib/store.c src/lib/lockfile.c \
	src/lib/lock.c \
	src/lib/recfile.c \
	src/lib/secret.c \
	src/lib/put.c src/lib/get.c src/lib/del.c src/lib/walk.c \
	src/lib/list.c \
	src/lib/check.c src/lib/import.c src/lib/backup.c src/lib/incr.c \
	src/lib/watch.c
LIB_OBJ = $(LIB_SRC:src/%.c=$(BUILD)/%.o)
CLI_SRC = src/cli/main.c src/cli/common.c src/cli/options.c src/cli/outbuf.c \
	src/cli/progress.c src/cli/jsonl.c src/cli/completion.c src/cli/watch.c \
	src/cli/lock.c
CLI_OBJ = $(CLI_SRC:src/%.c=$(BUILD)/%.o)
TESTS = $(BUILD)/check_okof
# The same objects for the shared library: position-independent, with
# hidden visibility, so that only what okof.h marks OKOF_API is exported.
PIC_OBJ = $(LIB_SRC:src/%.c=$(BUILD)/pic/%.o)
SHLIB = $(BUILD)/libokof.so.$(VERSION)
all: $(BIN) $(BUILD)/libokof.a $(SHLIB) $(BUILD)/okof.pc completions

$(BUILD)/.deps:
	@sh .ci/deps
	@mkdir -p $(BUILD)/lib $(BUILD)/cli
	@touch $@

COMPILE = $(CC) $(CFLAGS) $(HARDEN) $(WARN) $(WERROR) $(EXTRA_CFLAGS) \
	$(PKG_CFLAGS) -pthread -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE

$(BUILD)/lib/%.o: src/lib/%.c src/lib/*.h src/okof.h $(BUILD)/.deps
	@mkdir -p $(@D)
	$(COMPILE) -Isrc -c -o $@ $<

$(BUILD)/cli/%.o: src/cli/%.c src/cli/*.h src/okof.h $(BUILD)/.deps
	@mkdir -p $(@D)
	$(COMPILE) -Isrc -c -o $@ $<

# The completion scripts (src/cli/completion/) are embedded as byte
# arrays, so that okof completion SHELL prints them exactly.
COMPLETIONS = src/cli/completion/okof.bash src/cli/completion/_okof \
	src/cli/completion/okof.fish

$(BUILD)/cli/completions.h: $(COMPLETIONS) Makefile $(BUILD)/.deps
	@mkdir -p $(@D)
	@{ echo "/* Generated from $(COMPLETIONS) by the Makefile. */"; \
	for f in $(COMPLETIONS); do \
		echo "static const char script_`basename $$f | \
			tr -c 'a-z\n' _`[] = {"; \
		od -An -v -tx1 $$f | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
		echo "0x00};"; \
	done; } >$@.tmp && mv $@.tmp $@

$(BUILD)/cli/completion.o: $(BUILD)/cli/completions.h
$(BUILD)/cli/completion.o: COMPILE += -I$(BUILD)/cli

$(BUILD)/libokof.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BUILD)/pic/lib/%.o: src/lib/%.c src/lib/*.h src/okof.h $(BUILD)/.deps
	@mkdir -p $(@D)
	$(COMPILE) -fPIC -fvisibility=hidden -Isrc -c -o $@ $<

# snappy and libsodium stay shared libraries of their own (DT_NEEDED):
# Debian's static archives are not position-independent.  The version
# script hides every symbol but okof_*, theirs included.
$(SHLIB): $(PIC_OBJ) src/lib/libokof.map
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(EXTRA_LDFLAGS) -shared \
		-Wl,-soname,$(SONAME) -Wl,--version-script=src/lib/libokof.map \
		-Wl,--no-undefined -Wl,--as-needed -o $@ $(PIC_OBJ) \
		`pkg-config --libs libsodium snappy` -lm -pthread
	ln -sf libokof.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libokof.so

# okof.pc for the PREFIX of this make run: remade every time, as
# install's PREFIX may differ from the build's.
$(BUILD)/okof.pc: okof.pc.in FORCE $(BUILD)/.deps
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		okof.pc.in > $@.tmp && mv $@.tmp $@

# The completion scripts, as the built binary prints them.
completions: $(BIN)
	@mkdir -p $(BUILD)/completion
	./$(BIN) completion bash > $(BUILD)/completion/okof.bash
	./$(BIN) completion zsh > $(BUILD)/completion/_okof
	./$(BIN) completion fish > $(BUILD)/completion/okof.fish

# How to link: static where the static libraries exist.
$(BUILD)/link.mk: $(BUILD)/.deps Makefile
	@static="$(STATIC)"; \
	if [ "$$static" = auto ]; then \
		static=0; \
		if [ "`uname -s`" = Linux ] && \
		   [ -f "`$(CC) -print-file-name=libstdc++.a`" ] && \
		   [ -f "`pkg-config --variable=libdir libsodium`/libsodium.a" ] && \
		   [ -f "`pkg-config --variable=libdir snappy`/libsnappy.a" ] && \
		   [ -f "`pkg-config --variable=libdir jansson`/libjansson.a" ]; then \
			static=1; \
		fi; \
	fi; \
	if [ "$$static" = 1 ]; then \
		echo "LINK_LIBS = -static -ljansson -lsnappy -lstdc++ -lsodium -lm -lpthread"; \
		if [ -n "$(HOT_LD)" ]; then \
			echo "LINK_ORDER = -Wl,-T,$(HOT_LD)"; \
		fi; \
	else \
		echo "LINK_LIBS = `pkg-config --libs jansson libsodium snappy` -lstdc++ -lm -pthread"; \
	fi > $@

$(BIN): $(CLI_OBJ) $(BUILD)/libokof.a $(BUILD)/link.mk $(HOT_LD)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(EXTRA_LDFLAGS) -o $@ $(CLI_OBJ) \
		$(BUILD)/libokof.a `sed -n 's/^LINK_LIBS = //p' $(BUILD)/link.mk` \
		`sed -n 's/^LINK_ORDER = //p' $(BUILD)/link.mk`

$(BUILD)/check_%.o: tests/check_%.c tests/*.h src/lib/*.h src/okof.h \
		$(BUILD)/.deps
	$(CC) $(CFLAGS) $(WARN) -Wno-conversion $(WERROR) $(EXTRA_CFLAGS) \
		$(PKG_CFLAGS) $(TEST_CFLAGS) -Isrc -Isrc/lib -D_GNU_SOURCE \
		-c -o $@ $<

TEST_OBJ = $(BUILD)/check_main.o $(BUILD)/check_codec.o \
	$(BUILD)/check_record.o $(BUILD)/check_store.o $(BUILD)/check_api.o \
	$(BUILD)/check_watch.o $(BUILD)/check_lock.o

# check_watch.c wraps inotify_add_watch() to make a race happen (GNU ld).
WRAP_INOTIFY = -Wl,--wrap=inotify_add_watch
TEST_WRAP = $(if $(filter Linux,$(shell uname -s)),$(WRAP_INOTIFY))

$(BUILD)/check_okof: $(TEST_OBJ) $(BUILD)/libokof.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(EXTRA_LDFLAGS) $(TEST_WRAP) \
		-o $@ $(TEST_OBJ) \
		$(BUILD)/libokof.a $(TEST_LIBS) \
		`pkg-config --libs libsodium snappy` -lstdc++ -lm -pthread

$(BUILD)/maxrss: tests/maxrss.c $(BUILD)/.deps
	$(CC) $(CFLAGS) $(WARN) $(WERROR) -D_DEFAULT_SOURCE -o $@ tests/maxrss.c

# VALGRIND="valgrind --error-exitcode=99 ..." runs every test under it.
VALGRIND ?=

check: $(BIN) $(TESTS) $(BUILD)/maxrss check-man
	bash tests/layers.sh $(BUILD)/lib $(BUILD)/cli
	$(VALGRIND) $(BUILD)/check_okof
	OKOF=./$(BIN) VALGRIND="$(VALGRIND)" MAXRSS=$(BUILD)/maxrss \
		bash tests/cli.sh
	OKOF=./$(BIN) python3 tests/roundtrip.py
	OKOF=./$(BIN) python3 tests/model.py
	CC="$(CC) $(EXTRA_CFLAGS) $(EXTRA_LDFLAGS)" LIB=$(BUILD)/libokof.a \
		OKOF=./$(BIN) bash tests/examples.sh
	OKOF=./$(BIN) bash tests/watch.sh
	OKOF=./$(BIN) MAXRSS=$(BUILD)/maxrss bash tests/lock.sh
	@sh .ci/deps tmux zsh fish bash-completion
	OKOF=./$(BIN) bash tests/completion.sh

# Tab completion in interactive bash, zsh and fish (under tmux).
check-completion: $(BIN)
	@sh .ci/deps tmux zsh fish bash-completion
	OKOF=./$(BIN) bash tests/completion.sh

# The man pages: mandoc -W all clean, rendered by mandoc and groff with
# every quote balanced.
check-man:
	@sh .ci/deps mandoc groff
	bash tests/man.sh man/okof.1 man/okof.3 man/okof.5

# Slow: values beyond 4 GiB, kill loops.  Run by .ci/run.
check-big: $(BIN) $(BUILD)/maxrss
	OKOF=./$(BIN) MAXRSS=$(BUILD)/maxrss bash tests/big.sh

# The fault suites (tests/faults/): the syscall order, I/O errors
# injected into a dynamic build, power cuts on loop devices (root), the negative control, a
# concurrency torture, random kills.
check-faults: $(BIN)
	$(MAKE) BUILD=build-dyn BIN=build-dyn/okof STATIC=0 build-dyn/okof
	$(CC) -O2 -shared -fPIC -o build-dyn/failshim.so \
		tests/faults/failshim.c -ldl
	OKOF=./$(BIN) bash tests/faults/syscalls.sh
	OKOF=build-dyn/okof SHIM=build-dyn/failshim.so \
		bash tests/faults/inject.sh
	OKOF=./$(BIN) bash tests/faults/exhaust.sh
	OKOF=./$(BIN) bash tests/faults/powercut.sh
	$(MAKE) BUILD=build-nofsync BIN=build-nofsync/okof \
		EXTRA_CFLAGS=-DOKOF_TEST_NO_FILE_FSYNC build-nofsync/okof
	NEGATIVE=1 FS="ext4-noauto_da_alloc xfs" OKOF=build-nofsync/okof \
		bash tests/faults/powercut.sh
	OKOF=./$(BIN) SECONDS_TO_RUN=$(TORTURE_SECONDS) \
		bash tests/faults/torture.sh
	OKOF=./$(BIN) KILLS=$(KILLS) bash tests/faults/kills.sh

TORTURE_SECONDS ?= 30
KILLS ?= 1000

# One store through two GlusterFS mounts at once (root; 80-100 s):
# glusterd in a private network namespace, a replica-3 volume, the
# contract's concurrency guarantees across the mounts, a brick killed.
# OKOF=path tests another binary.  See tests/sharedfs/run.sh.
OKOF ?= ./$(BIN)
check-sharedfs: $(BIN)
	sh .ci/deps glusterfs-server glusterfs-client iproute2 util-linux mount
	OKOF="$(OKOF)" bash tests/sharedfs/run.sh

# Benchmarks: baselines built beside the tests; BENCH=--full for the
# README's table (long), --quick for a smoke run.
BENCH ?= --quick
BENCH_TOOLS = $(BUILD)/bench/floor $(BUILD)/bench/snappyfloor \
	$(BUILD)/bench/snappyfloor-static $(BUILD)/bench/spawnbench \
	$(BUILD)/bench/libbench

# The library in-process, linked as a program would link libokof.a.
$(BUILD)/bench/libbench: tests/bench/libbench.c $(BUILD)/libokof.a
	@mkdir -p $(BUILD)/bench
	$(CC) $(CFLAGS) $(WARN) $(WERROR) -D_DEFAULT_SOURCE \
		-D_POSIX_C_SOURCE=200809L -Isrc -o $@ tests/bench/libbench.c \
		$(BUILD)/libokof.a `pkg-config --libs libsodium snappy` \
		-lstdc++ -lm -pthread

$(BUILD)/bench/floor: tests/bench/floor.c $(BUILD)/.deps
	@mkdir -p $(BUILD)/bench
	$(CC) -O2 $(WARN) -Wno-conversion $(WERROR) -D_DEFAULT_SOURCE -static \
		-o $@ tests/bench/floor.c || \
	$(CC) -O2 $(WARN) -Wno-conversion $(WERROR) -D_DEFAULT_SOURCE \
		-o $@ tests/bench/floor.c

$(BUILD)/bench/snappyfloor: tests/bench/snappyfloor.c $(BUILD)/.deps
	@mkdir -p $(BUILD)/bench
	$(CC) -O2 $(WARN) -Wno-conversion $(WERROR) $(PKG_CFLAGS) -o $@ \
		tests/bench/snappyfloor.c `pkg-config --libs snappy`

# The same floor linked as okof is (Debian's static libsnappy.a runs
# slower than its shared library); skipped where there is no static lib.
$(BUILD)/bench/snappyfloor-static: tests/bench/snappyfloor.c $(BUILD)/.deps
	@mkdir -p $(BUILD)/bench
	-$(CC) -O2 $(WARN) -Wno-conversion $(WERROR) $(PKG_CFLAGS) -static \
		-o $@ tests/bench/snappyfloor.c -lsnappy -lstdc++ -lm

$(BUILD)/bench/spawnbench: tests/bench/spawnbench.c $(BUILD)/.deps
	@mkdir -p $(BUILD)/bench
	$(CC) -O2 $(WARN) -Wno-conversion $(WERROR) -D_DEFAULT_SOURCE \
		-D_POSIX_C_SOURCE=200809L -o $@ tests/bench/spawnbench.c

bench: $(BIN) $(BENCH_TOOLS) $(BUILD)/maxrss
	OKOF=./$(BIN) BENCH_BIN=$(BUILD)/bench bash tests/bench/run $(BENCH)

# okof watch: put-to-report latency against inotifywait, idle CPU and
# memory of a watcher over 100k keys.  BENCH=--full for longer runs.
$(BUILD)/bench/watchlat: tests/bench/watchlat.c $(BUILD)/.deps
	@mkdir -p $(BUILD)/bench
	$(CC) -O2 $(WARN) -Wno-conversion $(WERROR) -D_DEFAULT_SOURCE \
		-D_POSIX_C_SOURCE=200809L -o $@ tests/bench/watchlat.c

bench-watch: $(BIN) $(BUILD)/bench/watchlat
	@sh .ci/deps inotify-tools
	OKOF=./$(BIN) BENCH_BIN=$(BUILD)/bench bash tests/bench/watch $(BENCH)

# Fuzzing with libFuzzer (clang): FUZZ_SECONDS per target.  New
# crashers land in build-fuzz/; copy them to tests/fuzz/corpus/TARGET/.
FUZZ_TARGETS = record record_nocrc codec sealed jsonl export parse
FUZZ_SECONDS ?= 20
FUZZ_CC ?= clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -D_GNU_SOURCE -Isrc -Isrc/lib -Isrc/cli \
	$(PKG_CFLAGS)
FUZZ_SRC = $(LIB_SRC) src/cli/options.c src/cli/outbuf.c src/cli/jsonl.c

fuzz: $(BUILD)/.deps
	@mkdir -p build-fuzz
	@for t in $(FUZZ_TARGETS); do \
		$(FUZZ_CC) $(FUZZ_FLAGS) -DTARGET_$$t -o build-fuzz/fuzz_$$t \
			tests/fuzz/fuzz.c $(FUZZ_SRC) \
			`pkg-config --libs jansson libsodium snappy` -lstdc++ \
			-pthread || exit 1; \
	done
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build-fuzz/corpus_$$t; \
		echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
		build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-max_len=200000 -artifact_prefix=build-fuzz/crash_$$t- \
			-print_final_stats=1 build-fuzz/corpus_$$t \
			tests/fuzz/corpus/$$t 2>build-fuzz/$$t.log || \
			{ tail -40 build-fuzz/$$t.log; exit 1; }; \
		grep -E "stat::number_of_executed_units|stat::peak_rss" \
			build-fuzz/$$t.log; \
	done

# install and uninstall: exactly these files.  uninstall leaves the
# directories, which other packages share (share/man/man3, lib/pkgconfig).
INSTALLED = $(BINDIR)/okof $(INCLUDEDIR)/okof.h $(LIBDIR)/libokof.a \
	$(LIBDIR)/libokof.so.$(VERSION) $(LIBDIR)/$(SONAME) \
	$(LIBDIR)/libokof.so $(PKGCONFIGDIR)/okof.pc \
	$(MANPREFIX)/man1/okof.1 $(MANPREFIX)/man3/okof.3 \
	$(MANPREFIX)/man5/okof.5 \
	$(DATADIR)/bash-completion/completions/okof \
	$(DATADIR)/zsh/site-functions/_okof \
	$(DATADIR)/fish/vendor_completions.d/okof.fish

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANPREFIX)/man1 $(DESTDIR)$(MANPREFIX)/man3 \
		$(DESTDIR)$(MANPREFIX)/man5 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions \
		$(DESTDIR)$(DATADIR)/zsh/site-functions \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/okof
	install -m 644 src/okof.h $(DESTDIR)$(INCLUDEDIR)/okof.h
	install -m 644 $(BUILD)/libokof.a $(DESTDIR)$(LIBDIR)/libokof.a
	install -m 644 $(SHLIB) $(DESTDIR)$(LIBDIR)/libokof.so.$(VERSION)
	ln -sf libokof.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libokof.so
	install -m 644 $(BUILD)/okof.pc $(DESTDIR)$(PKGCONFIGDIR)/okof.pc
	install -m 644 man/okof.1 $(DESTDIR)$(MANPREFIX)/man1/okof.1
	install -m 644 man/okof.3 $(DESTDIR)$(MANPREFIX)/man3/okof.3
	install -m 644 man/okof.5 $(DESTDIR)$(MANPREFIX)/man5/okof.5
	install -m 644 $(BUILD)/completion/okof.bash \
		$(DESTDIR)$(DATADIR)/bash-completion/completions/okof
	install -m 644 $(BUILD)/completion/_okof \
		$(DESTDIR)$(DATADIR)/zsh/site-functions/_okof
	install -m 644 $(BUILD)/completion/okof.fish \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d/okof.fish

uninstall:
	for f in $(INSTALLED); do rm -f "$(DESTDIR)$$f" || exit 1; done

# make install into a temporary DESTDIR, build and run a program against
# the installed files alone, make uninstall (tests/install/run).
check-install: all
	MAKE="$(MAKE)" CC="$(CC)" BUILD=$(BUILD) VERSION=$(VERSION) \
		SONAME=$(SONAME) bash tests/install/run

clean:
	rm -rf okof build build-*

# The ABI guard (Debian's abigail-tools): abi/$(SONAME).abi is the
# committed baseline of what the .so exports, its public types alone.
# check-abi fails on any change abidiff reports but added functions
# (status bits 1 error, 2 usage, 4 change, 8 incompatible); a new
# SONAME has no baseline yet and passes: make abi-baseline, commit it.
ABIDW = abidw --header-file src/okof.h --drop-private-types \
	--no-show-locs --no-corpus-path

abi-baseline: $(SHLIB)
	@mkdir -p abi
	$(ABIDW) --out-file abi/$(SONAME).abi $(SHLIB)

check-abi: $(SHLIB)
	@command -v abidiff >/dev/null || \
		{ echo "check-abi: needs abigail-tools (sh .ci/deps abigail-tools)"; exit 1; }
	@soname=`readelf -d $(SHLIB) | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'`; \
	base=abi/$$soname.abi; \
	$(ABIDW) --out-file $(BUILD)/$$soname.abi $(SHLIB) || exit 1; \
	if [ ! -f $$base ]; then \
		if ls abi/*.abi >/dev/null 2>&1; then \
			echo "check-abi: $$soname is a new SONAME: make abi-baseline and commit $$base"; \
			exit 0; \
		fi; \
		echo "check-abi: no baseline $$base"; exit 1; \
	fi; \
	abidiff --no-added-syms $$base $(BUILD)/$$soname.abi; rc=$$?; \
	if [ $$rc -ne 0 ]; then \
		echo "check-abi: $(SHLIB) is not compatible with $$base (abidiff status $$rc): keep the ABI, or change SOMAJOR and record a new baseline"; \
		exit 1; \
	fi; \
	echo "check-abi: $(SHLIB) keeps the ABI of $$base"

FORCE:

.PHONY: all check check-big check-faults check-sharedfs bench bench-watch fuzz \
	install \
	uninstall clean completions check-man check-completion check-install check-abi abi-baseline FORCE
