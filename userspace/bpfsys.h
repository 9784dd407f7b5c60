/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bpfsys: what every Tapestry BPF loader needs from the system around the
 * programs: the BPF and trace filesystems, the capabilities, the kernel's
 * BTF and what it says about tracepoint prototypes, and pinning a set of
 * maps all or nothing.
 *
 * Functions return 0 or -errno and log nothing, except the two whose job
 * is the message every loader would otherwise repeat in its own words:
 * bpfsys_require_caps() and bpfsys_load_btf().
 */
#ifndef TAPESTRY_BPFSYS_H
#define TAPESTRY_BPFSYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btf;
struct bpf_map;

#define BPFSYS_PIN_ROOT "/sys/fs/bpf/tapestry"
#define BPFSYS_BPFFS "/sys/fs/bpf"
#define BPFSYS_TRACEFS "/sys/kernel/tracing"
#define BPFSYS_KERNEL_BTF "/sys/kernel/btf/vmlinux"

/* Mount bpffs on /sys/fs/bpf (resp. tracefs on /sys/kernel/tracing) unless
 * one is already there.  -EPERM without CAP_SYS_ADMIN. */
int bpfsys_mount_bpffs(void);
int bpfsys_mount_tracefs(void);

/* What the caller is about to do. */
enum bpfsys_need {
	BPFSYS_READ_MAPS,	/* open pinned maps, read and write them */
	BPFSYS_LOAD_TRACING,	/* load and attach tracing programs */
};

/* The name of the first capability the process lacks for need, such as
 * "CAP_BPF", or NULL when it has them all (CAP_SYS_ADMIN stands in for
 * both, as the kernel allows).  On kernels that predate CAP_BPF and
 * CAP_PERFMON the answer is "CAP_SYS_ADMIN". */
const char *bpfsys_caps_missing(enum bpfsys_need need);

/* bpfsys_caps_missing(), and when something is missing, log an error
 * that names it, prefixed with who.  The one function here that logs: every
 * caller wants the same words.  Returns 0 or -EPERM. */
int bpfsys_require_caps(const char *who, enum bpfsys_need need);

/* Open the BTF that describes the running kernel: custom if given (a BTF
 * file for a kernel built without CONFIG_DEBUG_INFO_BTF), else the
 * kernel's own (/sys/kernel/btf/vmlinux, or a vmlinux image libbpf finds).
 * -ENOENT when there is none, -EINVAL when custom is not BTF.  The caller
 * frees *out with btf__free(). */
int bpfsys_btf_open(const char *custom, struct btf **out);

/* What a loader needs: *btf describes the kernel's types (custom, or the
 * kernel's own), *kbtf is the kernel's own or NULL (tp_btf needs it).
 * They may be the same object: free *btf only if it differs from *kbtf,
 * then *kbtf.  Logs "no BTF ..." in words that say what to do; returns
 * bpfsys_btf_open()'s errors. */
int bpfsys_load_btf(const char *custom, struct btf **btf, struct btf **kbtf);

/* The kernel's own BTF, which tp_btf attachment needs, or NULL when the
 * kernel exposes none (then only raw_tp can attach).  Free with
 * btf__free(). */
struct btf *bpfsys_kernel_btf(void);

/* How a loader attaches its tracepoint programs. */
enum bpfsys_attach {
	BPFSYS_ATTACH_AUTO,	/* tp_btf where the kernel's BTF allows */
	BPFSYS_ATTACH_TP_BTF,
	BPFSYS_ATTACH_RAW_TP,
};

/* Parse "auto", "tp_btf" or "raw_tp".  -EINVAL otherwise. */
int bpfsys_attach_parse(const char *s, enum bpfsys_attach *out);

/* Whether tp_btf programs can attach to tracepoint tp: kbtf (the kernel's
 * own BTF, may be NULL) has the btf_trace_<tp> prototype, and the kernel
 * loads BPF_PROG_TYPE_TRACING programs. */
bool bpfsys_tp_btf_usable(const struct btf *kbtf, const char *tp);

/* One tracepoint argument, as its BTF prototype gives it. */
struct bpfsys_arg {
	bool ptr;		/* a pointer; target names what to */
	bool is_signed;		/* integers */
	unsigned int size;	/* bytes; 8 for pointers */
	char target[48];	/* "struct request", "void", "int", ... */
};

#define BPFSYS_MAX_ARGS 12

/* The arguments of tracepoint tp (without the leading context pointer
 * every btf_trace_<tp> prototype has), from the btf_trace_<tp> typedef in
 * btf.  Returns how many were stored (at most max), -ENOENT if btf has no
 * prototype for tp. */
int bpfsys_tp_args(const struct btf *btf, const char *tp,
		   struct bpfsys_arg *args, unsigned int max);

/* Index of the first argument that points to target (e.g. "struct
 * request"), or -ENOENT. */
int bpfsys_arg_find_ptr(const struct bpfsys_arg *args, int n,
			const char *target);
/* Index of the first integer argument of the given size at or after
 * from, or -ENOENT. */
int bpfsys_arg_find_int(const struct bpfsys_arg *args, int n, int from,
			unsigned int size);

/* Whether dir is an existing directory on a BPF filesystem: 0 if so,
 * -ENOENT if it is missing, -ENOTDIR if it (or a component) is not a
 * directory, -EXDEV if it is off bpffs, else the -errno of stat. */
int bpfsys_dir_check(const char *dir);

/* Make dir (and its parents) on a BPF filesystem.  -ENOTDIR if an existing
 * component is not a directory, -EXDEV if dir would not be on bpffs.
 * *created says whether dir itself was made here. */
int bpfsys_pin_dir(const char *dir, bool *created);

/* Pin maps[i] at dir/names[i] for every i, all or nothing: on failure the
 * pins made so far are removed again and dir is as it was.  An existing
 * pin of the same name is -EEXIST. */
int bpfsys_pin_maps(const char *dir, struct bpf_map *const *maps,
		    const char *const *names, unsigned int n);

/* Remove dir/names[i] for every i, ignoring those already gone. */
void bpfsys_unpin(const char *dir, const char *const *names, unsigned int n);

/* How many of dir/names[i] exist. */
unsigned int bpfsys_pinned_count(const char *dir, const char *const *names,
				 unsigned int n);

/* Open the pinned map dir/name.  -ENOENT if absent. */
int bpfsys_pinned_fd(const char *dir, const char *name);

/* Whether a loaded BPF program other than those with the ids
 * skip[0..nskip-1] uses any of the maps behind fds[0..n-1] (n <= 8): the
 * kernel's own record (each program's map ids), so a process that was
 * killed with its programs holds nothing.  skip: the caller's own
 * programs, which the kernel frees only after an RCU grace period.
 * When it cannot be told (walking the programs needs CAP_SYS_ADMIN) the
 * answer is true: callers use it to keep a map pinned, and keeping one
 * is the safe mistake. */
bool bpfsys_maps_in_use(const int *fds, unsigned int n, const uint32_t *skip,
			unsigned int nskip);

/* The kernel's id of the BPF program or map behind fd, or 0. */
uint32_t bpfsys_obj_id(int fd);

/* A daemon's claim on its pin directory: an exclusive flock on the
 * directory, held as long as *fd stays open.  Readers use it to tell pins
 * of a live daemon from those a killed one left behind.  A reader's
 * momentary lock (bpfsys_dir_claimed()) is waited out; -EBUSY when a live
 * process still holds it after 200 ms. */
int bpfsys_claim_dir(const char *dir, int *fd);

/* Whether a live process holds the claim on dir. */
bool bpfsys_dir_claimed(const char *dir);

/* Whether the map with kernel id id (bpfsys_obj_id() of the caller's
 * descriptor, taken once when it opened the pin) is still the one pinned
 * at dir/name, in a directory a live process claims: false once the
 * daemon that pinned it has stopped (pins removed, or left by a killed
 * daemon) or another has taken its place, and for id 0.  A reader that
 * holds a daemon's maps open asks this now and then: nothing updates
 * them after the daemon is gone. */
bool bpfsys_pin_live(const char *dir, const char *name, uint32_t id);

/* libbpf's messages go to log at debug level (warnings too: the callers
 * report what failed in their own words). */
void bpfsys_quiet_libbpf(void);

#endif /* TAPESTRY_BPFSYS_H */
