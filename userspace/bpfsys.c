/* SPDX-License-Identifier: Apache-2.0 */
#include "bpfsys.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static bool fs_is(const char *path, long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == magic;
}

static int mount_once(const char *src, const char *dir, const char *type,
		      long magic, const char *data)
{
	if (fs_is(dir, magic))
		return 0;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	if (mount(src, dir, type, 0, data))
		return errno == EBUSY && fs_is(dir, magic) ? 0 : -errno;
	return 0;
}

int bpfsys_mount_bpffs(void)
{
	return mount_once("bpf", BPFSYS_BPFFS, "bpf", BPF_FS_MAGIC,
			  "mode=0700");
}

int bpfsys_mount_tracefs(void)
{
	return mount_once("tracefs", BPFSYS_TRACEFS, "tracefs",
			  TRACEFS_MAGIC, NULL);
}

static int cap_last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

const char *bpfsys_caps_missing(enum bpfsys_need need)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &hdr, d))
		return "CAP_BPF";	/* cannot tell: ask for the key one */
	/* Before CAP_BPF and CAP_PERFMON (5.8), CAP_SYS_ADMIN did it all. */
	if (cap_last_cap() < CAP_BPF)
		return has_cap(d, CAP_SYS_ADMIN) ? NULL : "CAP_SYS_ADMIN";
	/* The kernel still honours CAP_SYS_ADMIN in place of either. */
	if (has_cap(d, CAP_SYS_ADMIN))
		return NULL;
	if (!has_cap(d, CAP_BPF))
		return "CAP_BPF";
	if (need == BPFSYS_LOAD_TRACING && !has_cap(d, CAP_PERFMON))
		return "CAP_PERFMON";
	return NULL;
}

int bpfsys_require_caps(const char *who, enum bpfsys_need need)
{
	const char *cap = bpfsys_caps_missing(need);

	if (!cap)
		return 0;
	log_err("%s: %smissing capability %s: %s needs %s; run as root or "
		"grant it (e.g. setcap cap_bpf,cap_perfmon+ep)", who,
		geteuid() ? "not root, and " : "", cap,
		need == BPFSYS_LOAD_TRACING ? "loading the BPF tracer" :
		"reading the BPF maps", cap);
	return -EPERM;
}

int bpfsys_btf_open(const char *custom, struct btf **out)
{
	struct btf *btf;
	int err;

	if (custom) {
		if (access(custom, R_OK))
			return -errno;
		btf = btf__parse(custom, NULL);
		err = btf ? 0 : -EINVAL;
	} else {
		btf = btf__load_vmlinux_btf();
		err = btf ? 0 : -ENOENT;
	}
	if (err)
		return err;
	*out = btf;
	return 0;
}

struct btf *bpfsys_kernel_btf(void)
{
	if (access(BPFSYS_KERNEL_BTF, R_OK))
		return NULL;
	return btf__parse(BPFSYS_KERNEL_BTF, NULL);
}

int bpfsys_attach_parse(const char *s, enum bpfsys_attach *out)
{
	if (!strcmp(s, "auto"))
		*out = BPFSYS_ATTACH_AUTO;
	else if (!strcmp(s, "tp_btf"))
		*out = BPFSYS_ATTACH_TP_BTF;
	else if (!strcmp(s, "raw_tp"))
		*out = BPFSYS_ATTACH_RAW_TP;
	else
		return -EINVAL;
	return 0;
}

int bpfsys_load_btf(const char *custom, struct btf **btf, struct btf **kbtf)
{
	int err;

	*kbtf = bpfsys_kernel_btf();
	if (!custom && *kbtf) {
		*btf = *kbtf;
		return 0;
	}
	err = bpfsys_btf_open(custom, btf);
	if (err == -ENOENT && !custom)
		log_err("no BTF for the running kernel: %s is missing (kernel "
			"built without CONFIG_DEBUG_INFO_BTF); pass --btf FILE",
			BPFSYS_KERNEL_BTF);
	else if (err == -ENOENT)
		log_err("no BTF: %s does not exist", custom);
	else if (err == -EINVAL)
		log_err("no BTF: %s is not a BTF file", custom);
	else if (err)
		log_err("no BTF: cannot read %s: %s", custom, strerror(-err));
	if (err) {
		btf__free(*kbtf);
		*kbtf = NULL;
	}
	return err;
}

bool bpfsys_tp_btf_usable(const struct btf *kbtf, const char *tp)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o,
		    .expected_attach_type = BPF_TRACE_RAW_TP);
	char name[128];
	int id, fd;

	if (!kbtf)
		return false;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(kbtf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return false;
	/* libbpf's own probe for BPF_PROG_TYPE_TRACING guesses from error
	 * codes that kernels have changed; loading a real, empty tp_btf
	 * program for this very tracepoint is the answer itself. */
	o.attach_btf_id = (__u32)id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "tp_btf_probe", "GPL",
			   insns, 2, &o);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Skip const/volatile/restrict and typedefs. */
static const struct btf_type *resolve(const struct btf *btf, __u32 id,
				      __u32 *out_id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	while (t && (btf_is_mod(t) || btf_is_typedef(t))) {
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	if (out_id)
		*out_id = id;
	return t;
}

static void describe(const struct btf *btf, __u32 id, struct bpfsys_arg *a)
{
	const struct btf_type *t = resolve(btf, id, NULL);
	const char *kind = "", *name;

	memset(a, 0, sizeof(*a));
	if (!t) {
		snprintf(a->target, sizeof(a->target), "?");
		return;
	}
	if (btf_is_ptr(t)) {
		a->ptr = true;
		a->size = 8;
		t = resolve(btf, t->type, &id);
		if (!id || !t) {
			snprintf(a->target, sizeof(a->target), "void");
			return;
		}
	} else if (btf_is_int(t)) {
		a->size = t->size;
		a->is_signed = btf_int_encoding(t) & BTF_INT_SIGNED;
	} else if (btf_is_enum(t)) {
		a->size = t->size;
	}
	if (btf_is_struct(t))
		kind = "struct ";
	else if (btf_is_union(t))
		kind = "union ";
	else if (btf_is_enum(t))
		kind = "enum ";
	name = btf__name_by_offset(btf, t->name_off);
	snprintf(a->target, sizeof(a->target), "%s%s", kind,
		 name && *name ? name : "?");
}

int bpfsys_tp_args(const struct btf *btf, const char *tp,
		   struct bpfsys_arg *args, unsigned int max)
{
	const struct btf_type *t;
	const struct btf_param *p;
	unsigned int i, n;
	char name[128];
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return -ENOENT;
	t = resolve(btf, id, NULL);
	if (!t || !btf_is_ptr(t))
		return -ENOENT;
	t = resolve(btf, t->type, NULL);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1)
		return -ENOENT;
	p = btf_params(t);
	n = btf_vlen(t) - 1;	/* the first is the probe's void *data */
	for (i = 0; i < n && i < max; i++)
		describe(btf, p[i + 1].type, &args[i]);
	return (int)i;
}

int bpfsys_arg_find_ptr(const struct bpfsys_arg *args, int n,
			const char *target)
{
	int i;

	for (i = 0; i < n; i++)
		if (args[i].ptr && !strcmp(args[i].target, target))
			return i;
	return -ENOENT;
}

int bpfsys_arg_find_int(const struct bpfsys_arg *args, int n, int from,
			unsigned int size)
{
	int i;

	for (i = from < 0 ? 0 : from; i < n; i++)
		if (!args[i].ptr && args[i].size == size &&
		    strncmp(args[i].target, "struct ", 7))
			return i;
	return -ENOENT;
}

int bpfsys_dir_check(const char *dir)
{
	struct stat st;

	if (stat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return fs_is(dir, BPF_FS_MAGIC) ? 0 : -EXDEV;
}

int bpfsys_pin_dir(const char *dir, bool *created)
{
	char path[PATH_MAX], *p;
	struct stat st;
	size_t len;

	*created = false;
	len = strlen(dir);
	if (!len || len >= sizeof(path) || dir[0] != '/')
		return -EINVAL;
	memcpy(path, dir, len + 1);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	if (!stat(path, &st))
		return bpfsys_dir_check(path);
	/* Walk down from the root, creating what is missing, and insist that
	 * every directory made here is made on bpffs. */
	for (p = path + 1;; p++) {
		char save = *p, *slash;
		bool on_bpffs;

		if (save != '/' && save != '\0')
			continue;
		*p = '\0';
		if (stat(path, &st)) {
			if (errno != ENOENT)
				return -errno;
			slash = strrchr(path, '/');
			*slash = '\0';
			on_bpffs = fs_is(slash == path ? "/" : path,
					 BPF_FS_MAGIC);
			*slash = '/';
			if (!on_bpffs)
				return -EXDEV;
			if (mkdir(path, 0700) && errno != EEXIST)
				return -errno;
			if (save == '\0')
				*created = true;
		} else if (!S_ISDIR(st.st_mode)) {
			return -ENOTDIR;
		}
		*p = save;
		if (save == '\0')
			break;
	}
	return 0;
}

int bpfsys_pin_maps(const char *dir, struct bpf_map *const *maps,
		    const char *const *names, unsigned int n)
{
	char path[PATH_MAX];
	unsigned int i;
	int err = 0;

	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >=
		    (int)sizeof(path)) {
			err = -ENAMETOOLONG;
			break;
		}
		err = bpf_obj_pin(bpf_map__fd(maps[i]), path);
		if (err) {
			err = err < 0 ? err : -errno;
			break;
		}
	}
	if (err)
		bpfsys_unpin(dir, names, i);
	return err;
}

void bpfsys_unpin(const char *dir, const char *const *names, unsigned int n)
{
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
}

unsigned int bpfsys_pinned_count(const char *dir, const char *const *names,
				 unsigned int n)
{
	char path[PATH_MAX];
	unsigned int i, found = 0;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!access(path, F_OK))
			found++;
	}
	return found;
}

int bpfsys_pinned_fd(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return fd == -1 ? -errno : fd;
	return fd;
}

/* Whether the program with this id uses a map among ids[0..n-1]; true
 * when it cannot be told, false for a program gone meanwhile. */
static bool prog_uses(__u32 prog_id, const __u32 *ids, unsigned int n)
{
	__u32 used[64], len, i, j;	/* 64: the kernel's MAX_USED_MAPS */
	struct bpf_prog_info info;
	int fd, err;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return errno != ENOENT;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(used) / sizeof(used[0]);
	info.map_ids = (__u64)(unsigned long)used;
	len = sizeof(info);
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err || info.nr_map_ids > sizeof(used) / sizeof(used[0]))
		return true;
	for (i = 0; i < info.nr_map_ids; i++)
		for (j = 0; j < n; j++)
			if (used[i] == ids[j])
				return true;
	return false;
}

uint32_t bpfsys_obj_id(int fd)
{
	/* Both kinds of info start with type, then id. */
	union {
		struct bpf_prog_info prog;
		struct bpf_map_info map;
	} info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ?
	       info.prog.id : 0;
}

static bool skipped(uint32_t id, const uint32_t *skip, unsigned int nskip)
{
	unsigned int i;

	for (i = 0; i < nskip; i++)
		if (skip[i] == id)
			return true;
	return false;
}

bool bpfsys_maps_in_use(const int *fds, unsigned int n, const uint32_t *skip,
			unsigned int nskip)
{
	__u32 ids[8], id = 0;
	unsigned int i;

	if (n > sizeof(ids) / sizeof(ids[0]))
		return true;
	for (i = 0; i < n; i++)
		if (!(ids[i] = bpfsys_obj_id(fds[i])))
			return true;
	while (!bpf_prog_get_next_id(id, &id))
		if (!skipped(id, skip, nskip) && prog_uses(id, ids, n))
			return true;
	return errno != ENOENT;
}

/* How long a claim waits for the lock.  bpfsys_dir_claimed() holds a
 * shared lock for an open and a close, so a daemon that starts just then
 * finds the lock taken by a reader, not by another daemon: wait that out.
 * A live daemon holds it for good, and is refused after this. */
#define CLAIM_TRIES 100
#define CLAIM_STEP_NS (2 * 1000 * 1000)

int bpfsys_claim_dir(const char *dir, int *fd)
{
	const struct timespec step = { .tv_nsec = CLAIM_STEP_NS };
	int d, err, i;

	d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return -errno;
	for (i = 0;; i++) {
		if (!flock(d, LOCK_EX | LOCK_NB))
			break;
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (err != -EBUSY || i + 1 == CLAIM_TRIES) {
			close(d);
			return err;
		}
		nanosleep(&step, NULL);
	}
	*fd = d;
	return 0;
}

bool bpfsys_dir_claimed(const char *dir)
{
	bool claimed = false;
	int d;

	d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return false;
	if (flock(d, LOCK_SH | LOCK_NB))
		claimed = errno == EWOULDBLOCK;
	close(d);	/* drops our shared lock, if we got it */
	return claimed;
}

bool bpfsys_pin_live(const char *dir, const char *name, uint32_t id)
{
	int pfd;
	bool same;

	if (!id)
		return false;
	pfd = bpfsys_pinned_fd(dir, name);
	if (pfd < 0)
		return false;
	same = bpfsys_obj_id(pfd) == id;
	close(pfd);
	return same && bpfsys_dir_claimed(dir);
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* Verifier logs are long and multi-line: straight to stderr. */
	if (level == LIBBPF_DEBUG || log_get_level() < LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void bpfsys_quiet_libbpf(void)
{
	libbpf_set_print(print_libbpf);
}
