# anonvma - build, test and demo.
#
#   make          build every binary into $(BUILD) (default build/)
#   make check    install missing Debian packages, run every test, then the
#                 same suite built with AddressSanitizer + UBSan
#   make demo     replay an embedded scenario through the models
#   make deps     install the Debian packages that are missing
#   make bench    the benchmarks under bench/
#   make install  install under $(DESTDIR)$(PREFIX) (default /usr/local);
#                 make uninstall removes what it installed (docs/install.md)
#   make deb      build/anonvma_<version>_<arch>.deb with dpkg-deb
#   make readme   rewrite the README's example block from a fresh demo run
#   make fuzz     build the libFuzzer harnesses fuzz/fuzz_*.c and explore each
#                 for FUZZ_SECONDS (default 60); new crashes go to fuzz/regress/
#   make fuzz-regress  replay fuzz/corpus/ and fuzz/regress/ once (no exploring)

BUILD   ?= build
SAN     ?= 0
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# Asserts stay on in every build, release included (-UNDEBUG): they guard the
# simulator's and the models' contracts, cost a compare each, and a wrong
# number in a report is worse than a stop (docs/architecture.md "Contracts").
CFLAGS  := -std=c11 -D_GNU_SOURCE -UNDEBUG -Wall -Wextra -Werror -g -O2 -Isrc -I$(BUILD) -MMD -MP
LDFLAGS :=
LDLIBS  := -lsqlite3 -lyaml -lcjson -lzstd -lm
ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
# The library as libFuzzer harnesses link it (clang only; see the fuzz section).
ifeq ($(SAN),fuzz)
CFLAGS  += -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
LDFLAGS += -fsanitize=fuzzer,address,undefined
endif

MAINS        := $(wildcard src/*_main.c)
COLLECT_SRCS := $(filter-out %.bpf.c,$(wildcard src/collect*.c))
BPF_SRCS     := $(wildcard src/*.bpf.c)
LIB_SRCS     := $(filter-out $(MAINS) $(COLLECT_SRCS) $(BPF_SRCS),$(wildcard src/*.c))
LIB_OBJS     := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
TOOLS        := $(patsubst src/%_main.c,$(BUILD)/anonvma-%,$(MAINS))
TEST_SRCS    := $(wildcard tests/test_*.c)
TESTS        := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
HELPER_SRCS  := $(wildcard tests/progs/*.c)
HELPERS      := $(HELPER_SRCS:tests/progs/%.c=$(BUILD)/progs/%)

ifneq ($(COLLECT_SRCS),)
COLLECTOR    := $(BUILD)/anonvma-collect
endif

.DELETE_ON_ERROR:
.PHONY: all check test deps demo bench clean install uninstall deb readme man-lint tools \
	fuzz fuzz-bins fuzz-harnesses fuzz-regress

all: $(TOOLS) $(COLLECTOR) $(TESTS) $(HELPERS)

$(BUILD)/obj/%.o: src/%.c | $(BUILD)/obj
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/anonvma-%: $(BUILD)/obj/%_main.o $(BUILD)/libanonvma.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# trace.c embeds schema.sql with .incbin (see its design comment).
$(BUILD)/obj/trace.o: schema.sql

$(BUILD)/libanonvma.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

# Tests link the library and cmocka (tests/evbuild.h worlds run the invariant checkers).
$(BUILD)/tests/%: tests/%.c $(BUILD)/libanonvma.a | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests $< $(BUILD)/libanonvma.a $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

# Workload programs the end-to-end tests run (collected for real): static where
# observed.md's micro-tests need a program without a dynamic loader.
$(BUILD)/progs/%: tests/progs/%.c | $(BUILD)/progs
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g -static -pthread $< -o $@

# --- collector: BPF CO-RE side, skeleton, user side ---------------------------
$(BUILD)/vmlinux.h: | $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/%.bpf.o: src/%.bpf.c src/event.h $(BUILD)/vmlinux.h
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Isrc -c $< -o $@

$(BUILD)/collect.bpf.o: src/collect.h src/kabi.h

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

COLLECT_OBJS := $(COLLECT_SRCS:src/%.c=$(BUILD)/obj/%.o)
$(COLLECT_OBJS): $(BUILD)/collect.skel.h
$(BUILD)/anonvma-collect: $(COLLECT_OBJS) $(BUILD)/libanonvma.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lbpf -lelf -lz -o $@

$(BUILD) $(BUILD)/obj $(BUILD)/tests $(BUILD)/progs:
	mkdir -p $@

# --- test, check, demo, bench -------------------------------------------------
# SAN tells tests/run.sh which build it runs: tests marked "# check: normal-build-only"
# (heavy end-to-end runs whose code the sanitized build adds nothing to) run once.
test: all fuzz-bins
	SAN=$(SAN) tests/run.sh $(BUILD)

check: deps
	$(MAKE) test
	$(MAKE) BUILD=build/asan SAN=1 test

deps:
	scripts/deps.sh

demo: deps all
	scripts/demo.sh $(BUILD)

bench: all
	bench/run.sh $(BUILD)

clean:
	rm -rf build

# --- fuzzing (fuzz/README.md) --------------------------------------------------
# Every fuzz/fuzz_<name>.c is a libFuzzer harness linked against the library
# built with clang in $(FUZZ_BUILD).  `make fuzz-regress` (run by tests/run.sh,
# so by `make check`) replays fuzz/corpus/<name>/ and fuzz/regress/<name>/ once
# with -runs=0: it never explores, so a new random finding cannot fail an
# unrelated change.  `make fuzz` explores FUZZ_SECONDS per harness and saves
# what crashes into fuzz/regress/<name>/.
FUZZ_BUILD   ?= build/fuzz
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_SRCS    := $(wildcard fuzz/fuzz_*.c)
FUZZERS      := $(FUZZ_SRCS:fuzz/%.c=$(BUILD)/%)

fuzz-bins:
	$(MAKE) BUILD=$(FUZZ_BUILD) SAN=fuzz CC=$(FUZZ_CC) fuzz-harnesses

fuzz-harnesses: $(FUZZERS)

$(BUILD)/fuzz_%: fuzz/fuzz_%.c $(BUILD)/libanonvma.a
	$(CC) $(CFLAGS) -Ifuzz $< $(BUILD)/libanonvma.a $(LDFLAGS) $(LDLIBS) -o $@

fuzz-regress: fuzz-bins
	scripts/fuzz.sh regress $(FUZZ_BUILD)

fuzz: fuzz-bins
	scripts/fuzz.sh explore $(FUZZ_BUILD) $(FUZZ_SECONDS)

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/tests/*.d)

# --- validation workloads (tests/workloads/*.c, static like tests/progs) ------
WORKLOAD_SRCS := $(wildcard tests/workloads/*.c)
WORKLOADS     := $(WORKLOAD_SRCS:tests/workloads/%.c=$(BUILD)/workloads/%)
all: $(WORKLOADS)
$(BUILD)/workloads/%: tests/workloads/%.c | $(BUILD)/workloads
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g -static -pthread $< -o $@
$(BUILD)/workloads:
	mkdir -p $@

# --- version, install, .deb, man pages, README (docs/install.md) --------------
# One version string: the VERSION file, compiled into version.o only.
VERSION := $(shell cat VERSION)
$(BUILD)/obj/version.o: VERSION
$(BUILD)/obj/version.o: CFLAGS += -DAVM_VERSION='"$(VERSION)"'

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/anonvma
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/anonvma
# The tools find their data relative to their own directory (datadir.h), so
# no absolute path is compiled in: the same binaries work under any PREFIX,
# in a DESTDIR tree and in the .deb.  Only the BINDIR -> DATADIR step is.
DATADIR_REL := $(shell realpath -m --relative-to=$(BINDIR) $(DATADIR))
$(BUILD)/obj/datadir.o: CFLAGS += -DAVM_DATADIR_REL='"$(DATADIR_REL)"'
$(BUILD)/obj/datadir.o: $(BUILD)/datadir-rel
# Rewritten only when the relative path changes, so datadir.o rebuilds then.
$(BUILD)/datadir-rel: FORCE | $(BUILD)
	@echo '$(DATADIR_REL)' | cmp -s - $@ || echo '$(DATADIR_REL)' > $@
FORCE:

MAN_PAGES := $(wildcard man/*.1 man/*.5)
DATA_ARCH := $(wildcard configs/arch/*.yaml)
DATA_SCEN := $(wildcard configs/scenarios/*.yaml)
# systemd service and timer (contrib/systemd): installed as data, not enabled
SYSTEMD_UNITS := $(wildcard contrib/systemd/*.service contrib/systemd/*.timer)
DOCS      := README.md schema.sql $(wildcard docs/*.md docs/*.json)
INSTALLED_TOOLS := $(notdir $(TOOLS) $(COLLECTOR))

tools: $(TOOLS) $(COLLECTOR)

install: tools
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/arch $(DESTDIR)$(DATADIR)/scenarios \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR)
	install -m 0755 $(TOOLS) $(COLLECTOR) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(DATA_ARCH) $(DESTDIR)$(DATADIR)/arch/
	install -m 0644 $(DATA_SCEN) $(DESTDIR)$(DATADIR)/scenarios/
	install -m 0644 configs/default.yaml $(DESTDIR)$(DATADIR)/
	install -d $(DESTDIR)$(DATADIR)/systemd
	for u in $(SYSTEMD_UNITS); do \
		sed 's|@BINDIR@|$(BINDIR)|g' $$u > $(DESTDIR)$(DATADIR)/systemd/$$(basename $$u) && \
		chmod 0644 $(DESTDIR)$(DATADIR)/systemd/$$(basename $$u) || exit 1; \
	done
	install -m 0644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/

# Removes exactly the files install wrote, then the directories it made if empty.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALLED_TOOLS))
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/arch/,$(notdir $(DATA_ARCH)))
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/scenarios/,$(notdir $(DATA_SCEN)))
	rm -f $(DESTDIR)$(DATADIR)/default.yaml
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/systemd/,$(notdir $(SYSTEMD_UNITS)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MAN_PAGES))))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(filter %.5,$(MAN_PAGES))))
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)))
	rmdir $(DESTDIR)$(DATADIR)/arch $(DESTDIR)$(DATADIR)/scenarios \
		$(DESTDIR)$(DATADIR)/systemd $(DESTDIR)$(DATADIR) \
		$(DESTDIR)$(DOCDIR) 2>/dev/null || true

# The package installs to /usr; its Depends come from dpkg-shlibdeps.
deb: tools
	scripts/mkdeb.sh $(BUILD) $(VERSION)

man-lint:
	mandoc -T lint -W warning $(MAN_PAGES)

readme: deps all
	scripts/readme-demo.sh --update $(BUILD)
