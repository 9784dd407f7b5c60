/* SPDX-License-Identifier: Apache-2.0 */
#include "blktrace.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blktrace.skel.h"
#include "bpfsys.h"
#include "iosnap.h"
#include "log.h"

enum { M_EVENTS, M_CONFIG, M_READERS, M_COUNTERS, M_STATS, NR_MAPS };

/* Pin order: blk_stats last, so that a reader finding it finds all. */
static const char *const map_names[NR_MAPS] = {
	[M_EVENTS] = BLKTRACE_MAP_EVENTS,
	[M_CONFIG] = BLKTRACE_MAP_CONFIG,
	[M_READERS] = BLKTRACE_MAP_READERS,
	[M_COUNTERS] = BLKTRACE_MAP_COUNTERS,
	[M_STATS] = BLKTRACE_MAP_STATS,
};

struct blktrace {
	struct blktrace_bpf *skel;	/* NULL when opened from pins */
	int fd[NR_MAPS];		/* owned only when skel is NULL */
	uint32_t stats_id;		/* fd[M_STATS]'s map, from pins */
	const char *mode;
	unsigned int ncpu;
	size_t stride;			/* per-CPU value size, 8-aligned */
	void *vals;			/* ncpu * stride bytes */
	char pin_dir[PATH_MAX];
	bool pinned, made_dir;
	bool reader;			/* blktrace_slow_register()ed */
	__u64 reader_key;
	uint64_t reader_ns;
};

static const char *const tps[3] = {
	"block_rq_insert", "block_rq_issue", "block_rq_complete",
};

static int alloc_handle(struct blktrace **out)
{
	struct blktrace *t;
	int ncpu, i;

	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (i = 0; i < NR_MAPS; i++)
		t->fd[i] = -1;
	t->ncpu = (unsigned int)ncpu;
	t->stride = (sizeof(struct blk_stats) + 7) & ~(size_t)7;
	t->vals = calloc(t->ncpu, t->stride);
	if (!t->vals) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

/* Where struct request sits among tracepoint tp's arguments.  A BTF
 * without the btf_trace_ prototypes comes from a kernel older than the
 * prototypes (5.5), and on those block_rq_insert and block_rq_issue still
 * took the request_queue first. */
static int rq_arg(const struct btf *btf, const char *tp)
{
	struct bpfsys_arg args[BPFSYS_MAX_ARGS];
	int n;

	n = bpfsys_tp_args(btf, tp, args, BPFSYS_MAX_ARGS);
	if (n == -ENOENT)
		return strcmp(tp, "block_rq_complete") ? 1 : 0;
	if (n < 0)
		return n;
	return bpfsys_arg_find_ptr(args, n, "struct request");
}

static int choose_mode(const struct blktrace_opts *o, const struct btf *kbtf,
		       bool *use_btf)
{
	bool usable = true;
	unsigned int i;

	for (i = 0; i < 3; i++)
		usable = usable && bpfsys_tp_btf_usable(kbtf, tps[i]);
	switch (o->attach) {
	case BPFSYS_ATTACH_TP_BTF:
		if (!usable) {
			log_err("tp_btf cannot attach to the block tracepoints "
				"on this kernel (no kernel BTF prototypes or no "
				"BPF tracing programs); try --attach raw_tp");
			return -EOPNOTSUPP;
		}
		*use_btf = true;
		return 0;
	case BPFSYS_ATTACH_RAW_TP:
		*use_btf = false;
		return 0;
	default:
		*use_btf = usable;
		return 0;
	}
}

static void set_autoload(struct blktrace_bpf *s, bool btf)
{
	bpf_program__set_autoload(s->progs.blk_insert_btf, btf);
	bpf_program__set_autoload(s->progs.blk_issue_btf, btf);
	bpf_program__set_autoload(s->progs.blk_complete_btf, btf);
	bpf_program__set_autoload(s->progs.blk_insert_raw, !btf);
	bpf_program__set_autoload(s->progs.blk_issue_raw, !btf);
	bpf_program__set_autoload(s->progs.blk_complete_raw, !btf);
}

static int set_args(struct blktrace_bpf *s, const struct btf *btf)
{
	int a[3], i;

	for (i = 0; i < 3; i++) {
		a[i] = rq_arg(btf, tps[i]);
		if (a[i] < 0 || a[i] > 3) {
			log_err("tracepoint %s: no struct request argument in "
				"its BTF prototype", tps[i]);
			return -ENOENT;
		}
	}
	s->rodata->rq_arg_insert = (__u32)a[0];
	s->rodata->rq_arg_issue = (__u32)a[1];
	s->rodata->rq_arg_complete = (__u32)a[2];
	return 0;
}

static int load_skel(const struct blktrace_opts *o, struct blktrace *t)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = o->btf_path);
	struct btf *btf = NULL, *kbtf = NULL;
	bool use_btf = false;
	int err;

	err = bpfsys_load_btf(o->btf_path, &btf, &kbtf);
	if (err)
		return err;
	err = choose_mode(o, kbtf, &use_btf);
	if (err)
		goto out;
	t->skel = blktrace_bpf__open_opts(&oo);
	if (!t->skel) {
		err = -errno;
		log_err("blktrace: cannot open the BPF object: %s",
			strerror(-err));
		goto out;
	}
	err = set_args(t->skel, btf);
	if (err)
		goto out;
	set_autoload(t->skel, use_btf);
	err = blktrace_bpf__load(t->skel);
	if (err) {
		log_err("blktrace: loading the BPF programs failed: %s%s",
			strerror(-err), log_get_level() < LOG_DEBUG ?
			" (--verbose shows the verifier's log)" : "");
		goto out;
	}
	t->mode = use_btf ? "tp_btf" : "raw_tp";
out:
	if (btf != kbtf)
		btf__free(btf);
	btf__free(kbtf);
	return err;
}

int blktrace_load(const struct blktrace_opts *o, struct blktrace **out)
{
	struct blktrace *t;
	int err;

	err = alloc_handle(&t);
	if (err)
		return err;
	err = load_skel(o, t);
	if (err)
		goto err_destroy;
	t->fd[M_STATS] = bpf_map__fd(t->skel->maps.blk_stats);
	t->fd[M_COUNTERS] = bpf_map__fd(t->skel->maps.blk_counters);
	t->fd[M_CONFIG] = bpf_map__fd(t->skel->maps.blk_config);
	t->fd[M_READERS] = bpf_map__fd(t->skel->maps.blk_readers);
	t->fd[M_EVENTS] = bpf_map__fd(t->skel->maps.blk_events);
	err = blktrace_set_slow_ns(t, o->slow_ns);
	if (err)
		goto err_destroy;
	err = blktrace_bpf__attach(t->skel);
	if (err) {
		log_err("blktrace: attaching to the block tracepoints (%s) "
			"failed: %s", t->mode, strerror(-err));
		goto err_destroy;
	}
	*out = t;
	return 0;

err_destroy:
	blktrace_destroy(t);
	return err;
}

int blktrace_open_pinned(const char *dir, struct blktrace **out)
{
	struct blktrace *t;
	int err, i;

	err = alloc_handle(&t);
	if (err)
		return err;
	t->mode = "pinned";
	if (strlen(dir) >= sizeof(t->pin_dir)) {
		err = -ENAMETOOLONG;
		goto err_destroy;
	}
	strcpy(t->pin_dir, dir);	/* for blktrace_live(); not pinned */
	for (i = NR_MAPS - 1; i >= 0; i--) {
		t->fd[i] = bpfsys_pinned_fd(dir, map_names[i]);
		if (t->fd[i] < 0) {
			err = t->fd[i];
			goto err_destroy;
		}
	}
	t->stats_id = bpfsys_obj_id(t->fd[M_STATS]);
	*out = t;
	return 0;

err_destroy:
	blktrace_destroy(t);
	return err;
}

int blktrace_pin(struct blktrace *t, const char *dir)
{
	struct bpf_map *maps[NR_MAPS];
	int err;

	if (!t->skel || t->pinned)
		return -EINVAL;
	if (strlen(dir) >= sizeof(t->pin_dir))
		return -ENAMETOOLONG;
	err = bpfsys_pin_dir(dir, &t->made_dir);
	if (err)
		return err;
	maps[M_STATS] = t->skel->maps.blk_stats;
	maps[M_COUNTERS] = t->skel->maps.blk_counters;
	maps[M_CONFIG] = t->skel->maps.blk_config;
	maps[M_READERS] = t->skel->maps.blk_readers;
	maps[M_EVENTS] = t->skel->maps.blk_events;
	err = bpfsys_pin_maps(dir, maps, map_names, NR_MAPS);
	if (err) {
		if (t->made_dir)
			rmdir(dir);
		return err;
	}
	strcpy(t->pin_dir, dir);
	t->pinned = true;
	return 0;
}

void blktrace_unpin(struct blktrace *t)
{
	const char *rev[NR_MAPS];
	int i;

	if (!t || !t->pinned)
		return;
	for (i = 0; i < NR_MAPS; i++)
		rev[i] = map_names[NR_MAPS - 1 - i];
	bpfsys_unpin(t->pin_dir, rev, NR_MAPS);
	if (t->made_dir)
		rmdir(t->pin_dir);	/* fails, rightly, if others pinned */
	t->pinned = false;
}

void blktrace_destroy(struct blktrace *t)
{
	int i;

	if (!t)
		return;
	blktrace_slow_unregister(t);
	blktrace_unpin(t);
	if (t->skel)
		blktrace_bpf__destroy(t->skel);
	else
		for (i = 0; i < NR_MAPS; i++)
			if (t->fd[i] >= 0)
				close(t->fd[i]);
	free(t->vals);
	free(t);
}

const char *blktrace_mode(const struct blktrace *t)
{
	return t->mode;
}

bool blktrace_live(const struct blktrace *t)
{
	return t->skel || bpfsys_pin_live(t->pin_dir, map_names[M_STATS],
					  t->stats_id);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int read_counters(struct blktrace *t, struct iosnap *snap)
{
	size_t stride = sizeof(struct blk_counters);
	struct blk_counters *c;
	unsigned int i;
	__u32 key = 0;

	c = calloc(t->ncpu, stride);
	if (!c)
		return -ENOMEM;
	if (bpf_map_lookup_elem(t->fd[M_COUNTERS], &key, c)) {
		free(c);
		return -errno;
	}
	for (i = 0; i < t->ncpu; i++) {
		snap->events_dropped += c[i].events_dropped;
		snap->start_failed += c[i].start_failed;
		snap->stats_failed += c[i].stats_failed;
	}
	free(c);
	return 0;
}

int blktrace_snapshot(struct blktrace *t, struct iosnap *snap)
{
	struct blk_key key, next;
	void *prev = NULL;
	int err;

	snap->ts_ns = now_ns();
	while (!bpf_map_get_next_key(t->fd[M_STATS], prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(t->fd[M_STATS], &key, t->vals)) {
			if (errno == ENOENT)	/* never deleted; be safe */
				continue;
			return -errno;
		}
		err = iosnap_add(snap, &key, t->vals, t->ncpu, t->stride);
		if (err)
			return err;
	}
	if (errno != ENOENT)
		return -errno;
	err = read_counters(t, snap);
	if (err)
		return err;
	snap->prog_misses = blktrace_prog_misses(t);
	return 0;
}

int blktrace_get_slow_ns(struct blktrace *t, uint64_t *ns)
{
	struct blk_config c;
	__u32 key = 0;

	if (bpf_map_lookup_elem(t->fd[M_CONFIG], &key, &c))
		return -errno;
	*ns = c.slow_ns;
	return 0;
}

/* The lowest nonzero of a and b; 0 if both are. */
static uint64_t lowest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* The lowest threshold the live readers need (0: none), dropping the
 * readers silent for BLK_READER_STALE_NS. */
static uint64_t readers_lowest(struct blktrace *t)
{
	__u64 keys[BLK_MAX_READERS], key, *prev = NULL;
	uint64_t now = now_ns(), low = 0;
	unsigned int n = 0, i;
	struct blk_reader r;

	while (n < BLK_MAX_READERS &&
	       !bpf_map_get_next_key(t->fd[M_READERS], prev, &key)) {
		keys[n] = key;
		prev = &keys[n++];
	}
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(t->fd[M_READERS], &keys[i], &r))
			continue;	/* gone meanwhile */
		if (keys[i] != t->reader_key && now > r.beat_ns &&
		    now - r.beat_ns > BLK_READER_STALE_NS) {
			bpf_map_delete_elem(t->fd[M_READERS], &keys[i]);
			continue;
		}
		low = lowest(low, r.slow_ns);
	}
	return low;
}

/* Put the threshold in force right: the lowest of base_ns and the live
 * readers'.  Readers do this at the same time without a lock: each reads
 * the readers before blk_config, and after writing reads both again and
 * writes again if they changed, so whoever wrote last saw the readers as
 * they are; the loop is bounded, and the next refresh finishes the job.
 * With base set, base_ns becomes *base first.  0 or -errno. */
static int slow_apply(struct blktrace *t, const uint64_t *base)
{
	struct blk_config c;
	uint64_t want;
	__u32 key = 0;
	int i;

	for (i = 0; i < 16; i++) {
		want = readers_lowest(t);
		if (bpf_map_lookup_elem(t->fd[M_CONFIG], &key, &c))
			return -errno;
		if (base) {
			c.base_ns = *base;
			base = NULL;
		} else if (c.slow_ns == lowest(c.base_ns, want)) {
			return 0;
		}
		c.slow_ns = lowest(c.base_ns, want);
		if (bpf_map_update_elem(t->fd[M_CONFIG], &key, &c, BPF_ANY))
			return -errno;
	}
	return 0;
}

int blktrace_set_slow_ns(struct blktrace *t, uint64_t ns)
{
	return slow_apply(t, &ns);
}

/* Write this reader's entry, now alive.  0 or -errno. */
static int reader_beat(struct blktrace *t, __u64 flags)
{
	struct blk_reader r = { .slow_ns = t->reader_ns, .beat_ns = now_ns() };

	if (bpf_map_update_elem(t->fd[M_READERS], &t->reader_key, &r, flags))
		return errno == E2BIG ? -ENOSPC : -errno;
	return 0;
}

int blktrace_slow_register(struct blktrace *t, uint64_t ns)
{
	int err, try;

	if (t->skel || t->reader || !ns)
		return -EINVAL;
	t->reader_ns = ns;
	for (try = 0; try < 4; try++) {
		if (getrandom(&t->reader_key, sizeof(t->reader_key), 0) !=
		    sizeof(t->reader_key))
			return -errno;
		err = reader_beat(t, BPF_NOEXIST);
		if (err != -EEXIST)
			break;
	}
	if (err)
		return err;
	t->reader = true;
	err = slow_apply(t, NULL);
	if (err)
		blktrace_slow_unregister(t);
	return err;
}

int blktrace_slow_refresh(struct blktrace *t)
{
	int err;

	if (!t->reader)
		return 0;
	/* BPF_ANY: back in if another dropped it while we were stopped. */
	err = reader_beat(t, BPF_ANY);
	return err ?: slow_apply(t, NULL);
}

void blktrace_slow_unregister(struct blktrace *t)
{
	if (!t->reader)
		return;
	bpf_map_delete_elem(t->fd[M_READERS], &t->reader_key);
	t->reader = false;
	t->reader_key = 0;
	slow_apply(t, NULL);
}

int blktrace_events_fd(const struct blktrace *t)
{
	return t->fd[M_EVENTS];
}

static int map_id(int fd, __u32 *id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

/* Sum recursion_misses over the loaded programs that use blk_counters
 * (all three do): they are ours, whoever loaded them. */
uint64_t blktrace_prog_misses(const struct blktrace *t)
{
	__u32 id = 0, stats_id = 0, ids[8], i;
	struct bpf_prog_info info;
	uint64_t sum = 0;
	__u32 len;
	int fd;

	if (map_id(t->fd[M_COUNTERS], &stats_id))
		return 0;
	while (!bpf_prog_get_next_id(id, &id)) {
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		info.nr_map_ids = 8;
		info.map_ids = (__u64)(unsigned long)ids;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			for (i = 0; i < info.nr_map_ids && i < 8; i++)
				if (ids[i] == stats_id)
					sum += info.recursion_misses;
		close(fd);
	}
	return sum;
}
