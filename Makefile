# Tapestry: one non-recursive Makefile.  Everything goes to $(BUILD).
#
#   make            build/bin/tapestry and build/bin/tapestryd
#   make check      unit tests, again under SAN=1, then integration tests
#   make demo       the 3-zone demo on this machine
#   make bench      benchmarks, results in bench/results/
#   make deps       install missing Debian packages
#   make V=1        show full commands
#   make SAN=1      ASan/UBSan build in build/san/

.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all

SAN ?= 0
V ?= 0
SANDIR := build/san
ifeq ($(SAN),1)
BUILD := $(SANDIR)
else
BUILD := build
endif

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2)
endif

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX := vmlinux/$(ARCH)

# Every goal but these needs the Debian packages.  The stamp is an included
# makefile, so make brings it up to date (installing what is missing) and
# then re-reads this file with pkg-config able to answer.
NODEPS_GOALS := clean deps help
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
include build/.deps.stamp
endif

build/.deps.stamp: scripts/deps.sh
	$(Q)scripts/deps.sh
	$(Q)mkdir -p $(@D) && echo '# deps present' > $@

PKGS := libbpf liburing json-c libisal libelf zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# CFLAGS and LDFLAGS are the user's (make CFLAGS="-O0 -g"); what the build
# needs is added with override, so that a command-line value keeps it.
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
	  -Iinclude -Iuserspace -I$(BUILD)/skel $(PKG_CFLAGS)
DEPFLAGS = -MMD -MP
LDLIBS := $(PKG_LIBS) -lpthread -lm

SAN_CFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	      -fno-sanitize-recover=undefined
SAN_LDFLAGS := -fsanitize=address,undefined
ifeq ($(SAN),1)
override CFLAGS += $(SAN_CFLAGS)
override LDFLAGS += $(SAN_LDFLAGS)
endif

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -I$(VMLINUX) -Iinclude

# ---------------------------------------------------------------------------
# Sources.  Each module adds its files in its own block, so that work on one
# module never touches the lines of another.

# BPF programs: bpf/<name>.bpf.c -> $(BUILD)/skel/<name>.skel.h
BPF_PROGS :=

# Sources shared by both binaries (and linked into integration helpers).
COMMON_SRCS := userspace/log.c userspace/hist.c userspace/crc.c \
	       userspace/uloop.c

# The node daemon's own sources, and the CLI's.
TAPESTRYD_SRCS := userspace/tapestryd.c
TAPESTRY_SRCS := tools/tapestry.c

# Unit tests: UNIT_TESTS += <name>; test_<name>_SRCS := the test and the
# module under test; test_<name>_WRAP := symbols to mock with --wrap.
UNIT_TESTS :=

# Fuzz targets (clang -fsanitize=fuzzer): FUZZ_TARGETS += <name>;
# fuzz_<name>_SRCS := tests/fuzz/fuzz_<name>.c plus the parser.
FUZZ_TARGETS :=

# Extra programs used only by integration tests and benchmarks.
TEST_PROGS :=

# --- foundation: log, hist, crc, uloop -------------------------------------
UNIT_TESTS += hist
test_hist_SRCS := tests/unit/test_hist.c userspace/hist.c userspace/log.c
UNIT_TESTS += crc
test_crc_SRCS := tests/unit/test_crc.c userspace/crc.c
UNIT_TESTS += uloop
test_uloop_SRCS := tests/unit/test_uloop.c userspace/uloop.c userspace/log.c

# --- tracer: blktrace, zonetrace, report ------------------------------------
BPF_PROGS += blktrace
# v3 (32-bit jumps, Linux 5.1+): ~10% fewer instructions on the hot path.
$(BUILD)/bpf/blktrace.bpf.o: BPF_CFLAGS += -mcpu=v3
BPF_PROGS += zonetrace
BPF_PROGS += zoneregistry
BPF_PROGS += benchfloor
TEST_PROGS += bench_floor
bench_floor_SRCS := bench/bench_floor.c
TRACER_SRCS := userspace/bpfsys.c userspace/blkdev.c userspace/blktrace.c \
	       userspace/iosnap.c userspace/report.c userspace/zonetrace.c \
	       userspace/zonesnap.c userspace/cliopt.c
TAPESTRY_SRCS += $(TRACER_SRCS)
TAPESTRY_SRCS += tools/cli.c
TAPESTRY_SRCS += tools/cmd_report.c
TAPESTRY_SRCS += tools/cmd_trace.c
TAPESTRY_SRCS += tools/cmd_zone.c
TAPESTRYD_SRCS += $(TRACER_SRCS)
TAPESTRYD_SRCS += userspace/node.c
UNIT_TESTS += node
test_node_SRCS := tests/unit/test_node.c userspace/node.c userspace/log.c \
		  userspace/cliopt.c
test_node_WRAP := bpfsys_mount_bpffs bpfsys_mount_tracefs bpfsys_pin_dir \
		  bpfsys_claim_dir bpfsys_pinned_count bpfsys_unpin \
		  bpfsys_quiet_libbpf bpfsys_require_caps blktrace_load \
		  blktrace_pin blktrace_destroy blktrace_mode \
		  bpfsys_attach_parse zonetrace_load zonetrace_pin \
		  zonetrace_destroy zonetrace_mode zonetrace_unpin_stale
TEST_PROGS += zt_load
zt_load_SRCS := tests/integration/zt_load.c userspace/zonetrace.c \
		userspace/zonesnap.c userspace/bpfsys.c userspace/report.c \
		userspace/cliopt.c userspace/hist.c userspace/log.c
UNIT_TESTS += iosnap
test_iosnap_SRCS := tests/unit/test_iosnap.c userspace/iosnap.c \
		    userspace/report.c userspace/hist.c userspace/blkdev.c \
		    userspace/cliopt.c userspace/log.c
test_iosnap_WRAP := realloc
UNIT_TESTS += zonesnap
test_zonesnap_SRCS := tests/unit/test_zonesnap.c userspace/zonesnap.c \
		      userspace/zonetrace.c userspace/bpfsys.c userspace/cliopt.c \
		      userspace/report.c userspace/hist.c userspace/log.c
test_zonesnap_WRAP := mkdir bpfsys_dir_check
UNIT_TESTS += report
test_report_SRCS := tests/unit/test_report.c userspace/report.c \
		    userspace/hist.c userspace/log.c userspace/cliopt.c
UNIT_TESTS += blkdev
test_blkdev_SRCS := tests/unit/test_blkdev.c userspace/blkdev.c
UNIT_TESTS += inflight
test_inflight_SRCS := tests/unit/test_inflight.c
UNIT_TESTS += cliopt
test_cliopt_SRCS := tests/unit/test_cliopt.c userspace/cliopt.c
UNIT_TESTS += bpfsys
test_bpfsys_SRCS := tests/unit/test_bpfsys.c userspace/bpfsys.c userspace/log.c

# --- placer -----------------------------------------------------------------
# The placer core is pure logic; its tests link it alone.
PLACER_CORE_SRCS := userspace/placer.c userspace/placer_fit.c \
		    userspace/placer_repair.c userspace/placer_shed.c \
		    userspace/placer_balance.c \
		    userspace/placer_plan.c userspace/iheap.c
TAPESTRY_SRCS += $(PLACER_CORE_SRCS)
TAPESTRY_SRCS += userspace/placer_json.c
TAPESTRY_SRCS += userspace/jsondup.c
TAPESTRY_SRCS += userspace/placer_json_write.c
TAPESTRY_SRCS += userspace/placer_sim.c
TAPESTRY_SRCS += tools/place_io.c
TAPESTRY_SRCS += tools/cmd_place.c
TAPESTRY_SRCS += tools/cmd_simulate.c
UNIT_TESTS += iheap
test_iheap_SRCS := tests/unit/test_iheap.c userspace/iheap.c
UNIT_TESTS += placer
test_placer_SRCS := tests/unit/test_placer.c tests/unit/placer_tc.c \
		    $(PLACER_CORE_SRCS)
UNIT_TESTS += placer_move
test_placer_move_SRCS := tests/unit/test_placer_move.c tests/unit/placer_tc.c \
			 $(PLACER_CORE_SRCS)
UNIT_TESTS += placer_json
test_placer_json_SRCS := tests/unit/test_placer_json.c \
			 userspace/placer_json.c userspace/placer_json_write.c \
			 userspace/jsondup.c $(PLACER_CORE_SRCS)
UNIT_TESTS += jsondup
test_jsondup_SRCS := tests/unit/test_jsondup.c userspace/jsondup.c
FUZZ_TARGETS += placer_json
fuzz_placer_json_SRCS := tests/fuzz/fuzz_placer_json.c userspace/placer_json.c \
			 userspace/jsondup.c

# --- replication protocol and replica server --------------------------------
COMMON_SRCS += userspace/proto.c
COMMON_SRCS += userspace/seqmap.c
UNIT_TESTS += seqmap
test_seqmap_SRCS := tests/unit/test_seqmap.c userspace/seqmap.c
UNIT_TESTS += proto
test_proto_SRCS := tests/unit/test_proto.c userspace/proto.c userspace/crc.c
UNIT_TESTS += replica_rx
test_replica_rx_SRCS := tests/unit/test_replica_rx.c userspace/replica_rx.c \
			userspace/proto.c userspace/crc.c
UNIT_TESTS += replica_rules
test_replica_rules_SRCS := tests/unit/test_replica_rules.c \
			   userspace/replica_rules.c userspace/crc.c
UNIT_TESTS += replica_vol
test_replica_vol_SRCS := tests/unit/test_replica_vol.c userspace/replica_vol.c \
			 userspace/replica_rules.c userspace/seqmap.c \
			 userspace/uloop.c userspace/log.c userspace/crc.c
test_replica_vol_WRAP := syncfs
TAPESTRYD_SRCS += userspace/replica.c
TAPESTRYD_SRCS += userspace/replica_cli.c
TAPESTRYD_SRCS += userspace/replica_conn.c
TAPESTRYD_SRCS += userspace/replica_io.c
TAPESTRYD_SRCS += userspace/replica_rules.c
TAPESTRYD_SRCS += userspace/replica_rx.c
TAPESTRYD_SRCS += userspace/replica_vol.c
TEST_PROGS += tapestry-replctl
tapestry-replctl_SRCS := tests/tools/replctl.c userspace/proto.c userspace/crc.c \
			 userspace/replica_rules.c
TEST_PROGS += tapestry-faultproxy
TEST_PROGS += repl_stuck
repl_stuck_SRCS := tests/integration/repl_stuck.c userspace/proto.c userspace/crc.c
FUZZ_TARGETS += repl
fuzz_repl_SRCS := tests/fuzz/fuzz_repl.c userspace/replica_rx.c \
		  userspace/replica_rules.c userspace/proto.c userspace/crc.c
tapestry-faultproxy_SRCS := tests/tools/faultproxy.c

# --- engine -----------------------------------------------------------------
COMMON_SRCS += userspace/dirtymap.c
COMMON_SRCS += userspace/engine.c
COMMON_SRCS += userspace/engine_create.c
COMMON_SRCS += userspace/engine_req.c
COMMON_SRCS += userspace/engine_policy.c
COMMON_SRCS += userspace/engine_order.c
COMMON_SRCS += userspace/engine_local.c
COMMON_SRCS += userspace/engine_remote.c
COMMON_SRCS += userspace/engine_state.c
COMMON_SRCS += userspace/engine_resync.c
COMMON_SRCS += userspace/engine_recover.c
COMMON_SRCS += userspace/engine_sync.c
COMMON_SRCS += userspace/engine_stats.c
COMMON_SRCS += userspace/engine_args.c
COMMON_SRCS += userspace/engine_opts.c
COMMON_SRCS += userspace/engine_unsync.c
ENGINE_SRCS := userspace/engine.c userspace/engine_create.c \
	       userspace/engine_req.c userspace/engine_policy.c \
	       userspace/engine_order.c userspace/engine_local.c \
	       userspace/engine_remote.c userspace/engine_state.c \
	       userspace/engine_resync.c userspace/engine_recover.c \
	       userspace/engine_sync.c userspace/engine_stats.c \
	       userspace/engine_opts.c userspace/dirtymap.c \
	       userspace/seqmap.c userspace/proto.c userspace/crc.c \
	       userspace/uloop.c userspace/hist.c userspace/log.c
ENGINE_SRCS += userspace/engine_unsync.c
UNIT_TESTS += engine_policy
test_engine_policy_SRCS := tests/unit/test_engine_policy.c \
			   userspace/engine_policy.c
UNIT_TESTS += engine_order
test_engine_order_SRCS := tests/unit/test_engine_order.c \
			  userspace/engine_order.c
UNIT_TESTS += engine_state
test_engine_state_SRCS := tests/unit/test_engine_state.c \
			  userspace/engine_state.c userspace/uloop.c \
			  userspace/log.c
UNIT_TESTS += engine
test_engine_SRCS := tests/unit/test_engine.c $(ENGINE_SRCS)
test_engine_WRAP := engine_local_open engine_local_close engine_local_reopen \
		    engine_local_submit engine_remote_init engine_remote_free \
		    engine_remote_connect engine_remote_shutdown \
		    engine_remote_idle engine_remote_submit
UNIT_TESTS += engine_local
test_engine_local_SRCS := tests/unit/test_engine_local.c $(ENGINE_SRCS)
test_engine_local_WRAP := engine_local_cqe
test_engine_local_WRAP += engine_remote_init engine_remote_free
test_engine_local_WRAP += engine_remote_connect engine_remote_shutdown
test_engine_local_WRAP += engine_remote_idle engine_remote_submit
test_engine_local_WRAP += dirtymap_sync seqmap_sync
UNIT_TESTS += engine_remote
test_engine_remote_SRCS := tests/unit/test_engine_remote.c $(ENGINE_SRCS)
test_engine_remote_WRAP := log_msg
UNIT_TESTS += engine_args
test_engine_args_SRCS := tests/unit/test_engine_args.c userspace/engine_args.c \
			 userspace/engine_opts.c
TAPESTRY_SRCS += tools/cmd_bench_volume.c
TAPESTRY_SRCS += tools/bench_volume.c
TAPESTRY_SRCS += tools/volcheck.c
UNIT_TESTS += volcheck
test_volcheck_SRCS := tests/unit/test_volcheck.c tools/volcheck.c
UNIT_TESTS += dirtymap
test_dirtymap_SRCS := tests/unit/test_dirtymap.c userspace/dirtymap.c
# A FUSE passthrough with slow fsync: a busy disk for the engine's tests.
TEST_PROGS += tapestry-slowfs
tapestry-slowfs_SRCS := tests/tools/slowfs.c
$(BUILD)/obj/tests/tools/slowfs.o: override CFLAGS += $(shell pkg-config --cflags fuse3 2>/dev/null)
$(BUILD)/bin/tapestry-slowfs: LDLIBS += $(shell pkg-config --libs fuse3 2>/dev/null)

# --- nbd frontend -----------------------------------------------------------
COMMON_SRCS += userspace/nbdproto.c
TAPESTRYD_SRCS += userspace/nbd.c
TAPESTRYD_SRCS += userspace/nbdconn.c
TAPESTRYD_SRCS += userspace/nbdsend.c
TAPESTRYD_SRCS += userspace/nbdsock.c
TAPESTRYD_SRCS += userspace/volume.c
TEST_PROGS += nbd_abuse
nbd_abuse_SRCS := tests/integration/nbd_abuse.c
UNIT_TESTS += nbdproto
test_nbdproto_SRCS := tests/unit/test_nbdproto.c userspace/nbdproto.c
FUZZ_TARGETS += nbd
fuzz_nbd_SRCS := tests/fuzz/fuzz_nbd.c userspace/nbdproto.c
FUZZ_TARGETS += nbdserver
fuzz_nbdserver_SRCS := tests/fuzz/fuzz_nbdserver.c tests/unit/fake_engine.c \
	userspace/nbd.c userspace/nbdconn.c userspace/nbdsend.c \
	userspace/nbdsock.c userspace/nbdproto.c userspace/uloop.c userspace/log.c userspace/hist.c
UNIT_TESTS += nbd
test_nbd_SRCS := tests/unit/test_nbd.c tests/unit/nbd_client.c \
	tests/unit/fake_engine.c userspace/nbdconn.c userspace/nbdsend.c \
	userspace/nbd.c userspace/nbdproto.c userspace/nbdsock.c \
	userspace/uloop.c userspace/log.c userspace/hist.c
UNIT_TESTS += nbdconn
test_nbdconn_SRCS := tests/unit/test_nbdconn.c tests/unit/nbd_client.c \
	tests/unit/fake_engine.c userspace/nbdconn.c userspace/nbdsend.c \
	userspace/nbd.c userspace/nbdproto.c userspace/nbdsock.c \
	userspace/uloop.c userspace/log.c userspace/hist.c

# --- stallprobe: the stalled-receive probe of the nbd and replica servers ---
# After the nbd block: it adds itself to that block's test sources.
TAPESTRYD_SRCS += userspace/stallprobe.c
test_nbd_SRCS += userspace/stallprobe.c
test_nbdconn_SRCS += userspace/stallprobe.c
fuzz_nbdserver_SRCS += userspace/stallprobe.c
UNIT_TESTS += stallprobe
test_stallprobe_SRCS := tests/unit/test_stallprobe.c userspace/stallprobe.c \
			userspace/uloop.c userspace/log.c
test_stallprobe_WRAP := uloop_get_sqe

# --- daemon -----------------------------------------------------------------

# ---------------------------------------------------------------------------
# Rules.

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
SKELS := $(patsubst %,$(BUILD)/skel/%.skel.h,$(BPF_PROGS))
BPF_OBJS := $(patsubst %,$(BUILD)/bpf/%.bpf.o,$(BPF_PROGS))
# Reached only through pattern rules, these would count as intermediate
# and be deleted after each build, then remade (and everything including
# a skeleton recompiled) by the next.
.SECONDARY: $(SKELS) $(BPF_OBJS)

BINS := $(BUILD)/bin/tapestry $(BUILD)/bin/tapestryd
UNIT_BINS := $(patsubst %,$(BUILD)/tests/test_%,$(UNIT_TESTS))
TEST_BINS := $(patsubst %,$(BUILD)/bin/%,$(TEST_PROGS))
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))

.PHONY: all
all: $(BINS) $(TEST_BINS)

$(BUILD)/bin/tapestry: $(call obj,$(TAPESTRY_SRCS) $(COMMON_SRCS))
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/tapestryd: $(call obj,$(TAPESTRYD_SRCS) $(COMMON_SRCS))
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

define test_prog_rule
$(BUILD)/bin/$(1): $(call obj,$($(1)_SRCS))
	$$(call msg,LINK,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(TEST_PROGS),$(eval $(call test_prog_rule,$(t))))

# $(1): test name, $(2): build dir, $(3): extra link flags
define unit_test_rule
$(2)/tests/test_$(1): $(patsubst %.c,$(2)/obj/%.o,$(test_$(1)_SRCS))
	$$(call msg,LINK,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$$(CC) $$(LDFLAGS) $(3) -o $$@ $$^ \
		$$(foreach s,$(test_$(1)_WRAP),-Wl,--wrap=$$(s)) \
		$$(CMOCKA_LIBS) $$(LDLIBS)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_test_rule,$(t),$(BUILD),)))

# make check also runs the unit tests under ASan/UBSan.  Those objects live
# in $(SANDIR), the same place a SAN=1 build puts them, built the same way.
ifneq ($(SAN),1)
SAN_UNIT_BINS := $(patsubst %,$(SANDIR)/tests/test_%,$(UNIT_TESTS))
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_test_rule,$(t),$(SANDIR),$(SAN_LDFLAGS))))

$(SANDIR)/obj/%.o: %.c | $(SKELS)
	$(call msg,CC-SAN,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_CFLAGS) $(DEPFLAGS) -c -o $@ $<
endif

# Skeleton headers must exist before any C file that may include one is
# compiled; after the first build the .d files carry the exact edges.
$(BUILD)/obj/%.o: %.c | $(SKELS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c
	$(call msg,BPF,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/skel/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# libFuzzer harnesses are built with clang, apart from the main build.
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Werror -Iinclude \
	       -Iuserspace -I$(BUILD)/skel $(PKG_CFLAGS) \
	       -fsanitize=fuzzer,address,undefined
$(BUILD)/fuzzobj/%.o: %.c
	$(call msg,CC-FUZZ,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<

define fuzz_rule
$(BUILD)/fuzz/fuzz_$(1): $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(fuzz_$(1)_SRCS))
	$$(call msg,LINK,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$$(CLANG) -fsanitize=fuzzer,address,undefined -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

.PHONY: fuzz
fuzz: $(FUZZ_BINS)

# ---------------------------------------------------------------------------
# Tests, demo, benchmarks.

.PHONY: unit
unit: $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)

.PHONY: integration
integration: all $(FUZZ_BINS)
	$(Q)BUILD=$(BUILD) tests/run-integration.sh

# make check: unit tests, the same again under ASan/UBSan, then the
# integration tests against the normal build.
.PHONY: check
check: all $(UNIT_BINS) $(SAN_UNIT_BINS) $(FUZZ_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(SAN_UNIT_BINS)
	$(Q)BUILD=$(BUILD) tests/run-integration.sh

.PHONY: demo
demo: all
	$(Q)BUILD=$(BUILD) scripts/demo.sh

.PHONY: bench
bench: all
	$(Q)BUILD=$(BUILD) bench/run.sh

.PHONY: deps
deps:
	$(Q)scripts/deps.sh
	$(Q)mkdir -p build && echo '# deps present' > build/.deps.stamp

.PHONY: clean
clean:
	$(Q)rm -rf build

.PHONY: help
help:
	@sed -n '2,10s/^# \{0,1\}//p' Makefile

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
