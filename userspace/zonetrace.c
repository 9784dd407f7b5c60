/* SPDX-License-Identifier: Apache-2.0 */
#include "zonetrace.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "zoneregistry.skel.h"
#include "zonesnap.h"
#include "zonetrace.skel.h"

/* Registry maps, in the order they are removed when empty. */
static const char *const registry_names[] = {
	ZONETRACE_MAP_PEER_REFS, ZONETRACE_MAP_PEERS, ZONETRACE_MAP_IDS,
	ZONETRACE_MAP_NAMES,
};
#define NR_REGISTRY_MAPS 4

enum { M_COUNTERS, M_RTT, M_STATS, NR_MAPS };

/* Pin order: zone_stats last, so a reader that finds it finds all. */
static const char *const map_names[NR_MAPS] = {
	[M_COUNTERS] = ZONETRACE_MAP_COUNTERS,
	[M_RTT] = ZONETRACE_MAP_RTT,
	[M_STATS] = ZONETRACE_MAP_STATS,
};

struct zonetrace {
	struct zonetrace_bpf *skel;	/* NULL when opened from pins */
	struct bpf_link *links[3];
	int fd[NR_MAPS];		/* owned only when skel is NULL */
	uint32_t stats_id;		/* fd[M_STATS]'s map, from pins */
	const char *mode;
	char pin_root[PATH_MAX];
	bool pinned, made_dir, loader;	/* loader: by zonetrace_load */
	unsigned int ncpu;
	void *vals;			/* ncpu * largest value */
};

static const char *root_of(const char *pin_root)
{
	return pin_root ? pin_root : BPFSYS_PIN_ROOT;
}

bool zonetrace_zone_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n >= ZONE_NAME_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '.' &&
		    name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

/* ---- the registry ---------------------------------------------------- */

/* The registry lock: an exclusive flock on the directory
 * root/ZONETRACE_REGISTRY_LOCK, taken by every call that may create the
 * registry or add to it and by the remover, so that the remover's "empty"
 * still holds when it unpins.  Not the pin root itself: a daemon holds
 * that one's flock for good (bpfsys_claim_dir).  The directory goes with
 * the registry, so a locker may find it removed under it: it checks that
 * the path still names the directory it locked, else tries again.
 * make_root: make root (and its parents) when missing, *made_root says
 * whether this call did; otherwise -ENOENT when root is missing.  On
 * failure a root this call made is removed again if it is still empty
 * (a lock directory left in it may be another locker's: it stays). */
static int registry_lock(const char *root, bool make_root, bool *made_root,
			 int *out)
{
	char path[PATH_MAX];
	struct stat a, b;
	bool made;
	int fd, err, try;

	*made_root = false;
	if (snprintf(path, sizeof(path), "%s/%s", root,
		     ZONETRACE_REGISTRY_LOCK) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	/* An engine may register its zones before any tapestryd ran. */
	if (make_root && !strncmp(root, BPFSYS_BPFFS "/",
				  strlen(BPFSYS_BPFFS) + 1))
		bpfsys_mount_bpffs();	/* if it fails, pin_dir says so */
	/* Not a lock directory in a root that can hold no registry. */
	if (!make_root && (err = bpfsys_dir_check(root)))
		return err;
	for (try = 0; try < 1000; try++) {
		if (make_root) {
			err = bpfsys_pin_dir(root, &made);
			if (err)
				goto err_rmdir_root;
			*made_root |= made;
		}
		/* ENOENT: root went (an rmdir by a tracer that made it). */
		if (mkdir(path, 0700) && errno != EEXIST) {
			if (errno == ENOENT && make_root)
				continue;
			err = -errno;
			goto err_rmdir_root;
		}
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0) {
			err = -errno;
			goto err_rmdir_root;
		}
		if (flock(fd, LOCK_EX)) {
			err = -errno;
			close(fd);
			goto err_rmdir_root;
		}
		if (!fstat(fd, &a) && !stat(path, &b) && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			*out = fd;
			return 0;
		}
		close(fd);	/* removed while we waited: again */
	}
	err = -EAGAIN;
err_rmdir_root:
	if (*made_root)
		rmdir(root);	/* fails, rightly, if another uses it */
	*made_root = false;
	return err;
}

/* Drop the lock; the lock directory goes when no registry map is left,
 * while we still hold it (later lockers of it then try again). */
static void registry_unlock(const char *root, int fd)
{
	char path[PATH_MAX];

	if (!bpfsys_pinned_count(root, registry_names, NR_REGISTRY_MAPS)) {
		snprintf(path, sizeof(path), "%s/%s", root,
			 ZONETRACE_REGISTRY_LOCK);
		rmdir(path);
	}
	close(fd);
}

/* Create the registry maps under root, or reuse the pinned ones; libbpf
 * does both by name (LIBBPF_PIN_BY_NAME).  The caller holds the registry
 * lock, so no remover runs meanwhile; a creator from before the lock (or
 * a tracer pinning zone_peers) may still win the race to pin: then the
 * pins exist and a second try reuses them. */
static int registry_ensure(const char *root)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = root);
	struct zoneregistry_bpf *skel;
	int err = 0, try;

	if (bpfsys_pinned_count(root, registry_names, NR_REGISTRY_MAPS) ==
	    NR_REGISTRY_MAPS)
		return 0;
	for (try = 0; try < 2; try++) {
		skel = zoneregistry_bpf__open_opts(&oo);
		if (!skel)
			return -errno;
		err = zoneregistry_bpf__load(skel);
		zoneregistry_bpf__destroy(skel);	/* the pins stay */
		if (!err)
			break;
	}
	return err;
}

struct registry {
	int names, ids, peers;
	int refs;	/* -1 in a registry from before zone_peer_refs */
};

static void registry_close(struct registry *r)
{
	if (r->refs >= 0)
		close(r->refs);
	if (r->names >= 0)
		close(r->names);
	if (r->ids >= 0)
		close(r->ids);
	if (r->peers >= 0)
		close(r->peers);
}

/* Open the pinned registry.  With lock, first take the registry lock
 * (*lock_fd, which the caller passes to registry_unlock()) and create the
 * registry if missing; on failure nothing is held. */
static int registry_open(const char *pin_root, int *lock_fd,
			 struct registry *r)
{
	const char *root = root_of(pin_root);
	bool made_root;
	int err;

	r->names = r->ids = r->peers = r->refs = -1;
	if (lock_fd) {
		err = registry_lock(root, true, &made_root, lock_fd);
		if (err)
			return err;
		err = registry_ensure(root);
		if (err)
			goto err_unlock;
	} else if ((err = bpfsys_dir_check(root))) {
		return err;	/* -ENOENT: no registry; off bpffs: say so */
	}
	r->names = bpfsys_pinned_fd(root, ZONETRACE_MAP_NAMES);
	r->ids = bpfsys_pinned_fd(root, ZONETRACE_MAP_IDS);
	r->peers = bpfsys_pinned_fd(root, ZONETRACE_MAP_PEERS);
	r->refs = bpfsys_pinned_fd(root, ZONETRACE_MAP_PEER_REFS);
	err = r->names < 0 ? r->names : r->ids < 0 ? r->ids :
	      r->peers < 0 ? r->peers : 0;
	if (!err && r->refs < 0 && lock_fd)	/* registry_ensure() made it */
		err = r->refs;
	if (!err)
		return 0;
	registry_close(r);
err_unlock:
	if (lock_fd) {
		registry_unlock(root, *lock_fd);
		if (made_root)
			rmdir(root);
	}
	return err;
}

static int to_key(const char *zone, struct zone_name *k)
{
	if (!zonetrace_zone_name_valid(zone))
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	memcpy(k->name, zone, strlen(zone));
	return 0;
}

/* Claim the lowest free id for k: an insert with BPF_NOEXIST is atomic,
 * so two processes never claim the same id. */
static int claim_id(const struct registry *r, const struct zone_name *k,
		    __u32 *id)
{
	__u32 i;

	for (i = ZONE_ID_MIN; i <= ZONE_ID_MAX; i++) {
		if (!bpf_map_update_elem(r->names, &i, k, BPF_NOEXIST)) {
			*id = i;
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -ENOSPC;
}

int zonetrace_zone_register(const char *pin_root, const char *zone,
			    unsigned int *id)
{
	struct zone_name k;
	struct registry r;
	int err, lock;
	__u32 v;

	err = to_key(zone, &k);
	if (err)
		return err;
	err = registry_open(pin_root, &lock, &r);
	if (err)
		return err;
	if (!bpf_map_lookup_elem(r.ids, &k, &v))
		goto out;
	err = claim_id(&r, &k, &v);
	if (err)
		goto out;
	/* The name is the arbiter: if another process registered the same
	 * name between our lookup and now, its id wins and ours goes back. */
	if (bpf_map_update_elem(r.ids, &k, &v, BPF_NOEXIST)) {
		err = errno == EEXIST ? 0 : -errno;
		bpf_map_delete_elem(r.names, &v);
		if (!err && bpf_map_lookup_elem(r.ids, &k, &v))
			err = -errno;
	}
out:
	if (!err)
		*id = v;
	registry_close(&r);
	registry_unlock(root_of(pin_root), lock);
	return err;
}

int zonetrace_zone_lookup(const char *pin_root, const char *zone,
			  unsigned int *id)
{
	struct zone_name k;
	struct registry r;
	__u32 v;
	int err;

	err = to_key(zone, &k);
	if (err)
		return err;
	err = registry_open(pin_root, NULL, &r);
	if (err)
		return err == -ENOENT ? -ENOENT : err;
	err = bpf_map_lookup_elem(r.ids, &k, &v) ? -errno : 0;
	if (!err)
		*id = v;
	registry_close(&r);
	return err;
}

int zonetrace_names_open(const char *pin_root)
{
	int err = bpfsys_dir_check(root_of(pin_root));

	return err ? err : bpfsys_pinned_fd(root_of(pin_root),
					    ZONETRACE_MAP_NAMES);
}

int zonetrace_names_get(int fd, unsigned int id, char *buf, size_t len)
{
	struct zone_name v;
	__u32 k = id;

	if (bpf_map_lookup_elem(fd, &k, &v))
		return -errno;
	v.name[ZONE_NAME_LEN - 1] = '\0';
	if (strlen(v.name) >= len)
		return -ENOSPC;
	strcpy(buf, v.name);
	return 0;
}

int zonetrace_zone_name(const char *pin_root, unsigned int id, char *buf,
			size_t len)
{
	int fd = zonetrace_names_open(pin_root), err;

	if (fd < 0)
		return fd;
	err = zonetrace_names_get(fd, id, buf, len);
	close(fd);
	return err;
}

int zonetrace_peer_parse(const char *addr, struct zone_peer *out)
{
	char host[64], *end;
	const char *colon;
	unsigned long port;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (addr[0] == '[') {
		colon = strstr(addr, "]:");
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - addr - 1);
		colon++;
		addr++;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - addr);
	}
	if (!hl || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || !port || port > 65535)
		return -EINVAL;
	out->port = (__u16)port;
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = ZONE_AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = ZONE_AF_INET6;
	else
		return -EINVAL;
	/* The tracer keys a peer behind an IPv4-mapped address (::ffff:a.b.c.d,
	 * a dual-stack socket's view of an IPv4 peer) as IPv4: so must we. */
	if (out->family == ZONE_AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)out->addr)) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = ZONE_AF_INET;
	}
	return 0;
}

/* Add delta (1 or -1) to p's registrations in r->refs.  For 1: 0 or
 * -errno.  For -1: the registrations left (0: forget the peer, its count
 * is gone too), or -errno (nothing changed).  A registry from before zone_peer_refs, or a peer
 * registered before it was there, counts as one registration. */
static int peer_ref(const struct registry *r, const struct zone_peer *p,
		    int delta)
{
	__u32 n = 0;

	if (r->refs < 0)
		return 0;
	if (bpf_map_lookup_elem(r->refs, p, &n))
		n = 0;
	if (delta < 0) {
		if (n <= 1) {
			bpf_map_delete_elem(r->refs, p);
			return 0;
		}
		/* Others still hold it: failing to count this one out must
		 * not forget the peer under them. */
		if (bpf_map_update_elem(r->refs, p, &(__u32){ n - 1 }, BPF_ANY))
			return -errno;
		return (int)(n - 1);
	}
	n++;
	if (bpf_map_update_elem(r->refs, p, &n, BPF_ANY))
		return errno == E2BIG ? -ENOSPC : -errno;
	return 0;
}

int zonetrace_peer_register(const char *pin_root, const char *addr,
			    unsigned int id)
{
	struct zone_peer p;
	struct zone_name n;
	struct registry r;
	int err, lock;
	__u32 v = id;

	if (id < ZONE_ID_MIN || id > ZONE_ID_MAX)
		return -EINVAL;
	err = zonetrace_peer_parse(addr, &p);
	if (err)
		return err;
	err = registry_open(pin_root, &lock, &r);
	if (err)
		return err;
	if (bpf_map_lookup_elem(r.names, &v, &n))
		err = -errno;
	else if (bpf_map_update_elem(r.peers, &p, &v, BPF_ANY))
		err = errno == E2BIG ? -ENOSPC : -errno;
	else
		err = peer_ref(&r, &p, 1);
	registry_close(&r);
	registry_unlock(root_of(pin_root), lock);
	return err;
}

int zonetrace_peer_unregister(const char *pin_root, const char *addr)
{
	const char *root = root_of(pin_root);
	struct zone_peer p;
	struct registry r;
	bool made;
	int err, lock, left;
	__u32 v;

	err = zonetrace_peer_parse(addr, &p);
	if (err)
		return err;
	/* Under the lock, as registering: the count and the peer change
	 * together.  Nothing is created: no registry, no peer. */
	err = registry_lock(root, false, &made, &lock);
	if (err)
		return err;
	err = registry_open(pin_root, NULL, &r);
	if (!err) {
		if (bpf_map_lookup_elem(r.peers, &p, &v))
			err = -errno;
		else if ((left = peer_ref(&r, &p, -1)) != 0)
			err = left < 0 ? left : 0;	/* >0: another holds it */
		else if (bpf_map_delete_elem(r.peers, &p))
			err = -errno;
		registry_close(&r);
	}
	registry_unlock(root, lock);
	return err;
}

int zonetrace_peer_lookup(const char *pin_root, const char *addr,
			  unsigned int *id, unsigned int *refs)
{
	struct zone_peer p;
	struct registry r;
	__u32 v, n = 1;
	int err;

	err = zonetrace_peer_parse(addr, &p);
	if (err)
		return err;
	err = registry_open(pin_root, NULL, &r);
	if (err)
		return err;
	err = bpf_map_lookup_elem(r.peers, &p, &v) ? -errno : 0;
	/* No count: registered before registrations were counted, once. */
	if (!err && r.refs >= 0 && bpf_map_lookup_elem(r.refs, &p, &n))
		n = 1;
	if (!err) {
		*id = v;
		*refs = n;
	}
	registry_close(&r);
	return err;
}

static bool map_empty(int fd, size_t key_size)
{
	char key[128];

	return key_size <= sizeof(key) &&
	       bpf_map_get_next_key(fd, NULL, key) && errno == ENOENT;
}

/* zonetrace_registry_remove_if_empty(), but blind to the programs with
 * the ids skip[0..nskip-1]: a tracer's own, on its way out. */
static int remove_if_empty(const char *pin_root, const __u32 *skip,
			   unsigned int nskip)
{
	const char *root = root_of(pin_root);
	struct registry r;
	bool empty, busy, made;
	int err, lock, fds[3];

	/* Under the lock: no zone or peer can arrive between the check and
	 * the unpinning, in maps that would then be lost. */
	err = registry_lock(root, false, &made, &lock);
	if (err)
		return err == -ENOENT ? 0 : err;
	err = registry_open(pin_root, NULL, &r);
	if (err) {
		registry_unlock(root, lock);
		return err == -ENOENT ? 0 : err;
	}
	empty = map_empty(r.names, sizeof(__u32)) &&
		map_empty(r.ids, sizeof(struct zone_name)) &&
		map_empty(r.peers, sizeof(struct zone_peer));
	/* A running tracer's programs hold zone_peers (bound at load,
	 * under this lock): unpinned, it would go on with a map no
	 * registrar reaches, and never see a peer registered later. */
	fds[0] = r.names;
	fds[1] = r.ids;
	fds[2] = r.peers;
	busy = empty && bpfsys_maps_in_use(fds, 3, skip, nskip);
	registry_close(&r);
	if (empty && !busy)
		bpfsys_unpin(root, registry_names, NR_REGISTRY_MAPS);
	registry_unlock(root, lock);
	return !empty ? -ENOTEMPTY : busy ? -EBUSY : 0;
}

int zonetrace_registry_remove_if_empty(const char *pin_root)
{
	return remove_if_empty(pin_root, NULL, 0);
}

/* ---- the tracer --------------------------------------------------------- */

static const char *const fixed_tps[2] = {
	"io_uring_complete", "tcp_probe",
};

/* The first signed integer argument at or after from. */
static int find_signed(const struct bpfsys_arg *a, int n, int from)
{
	int i;

	for (i = from; i < n; i++)
		if (!a[i].ptr && a[i].is_signed && (a[i].size == 4 ||
						     a[i].size == 8))
			return i;
	return -ENOENT;
}

static int probe_submit(struct zonetrace_bpf *s, const struct btf *btf,
			const char **tp)
{
	struct bpfsys_arg a[BPFSYS_MAX_ARGS];
	int n, i;

	*tp = "io_uring_submit_req";		/* 6.0 and later */
	n = bpfsys_tp_args(btf, *tp, a, BPFSYS_MAX_ARGS);
	if (n == -ENOENT) {
		*tp = "io_uring_submit_sqe";	/* before */
		n = bpfsys_tp_args(btf, *tp, a, BPFSYS_MAX_ARGS);
	}
	if (n < 0)
		return n;
	i = bpfsys_arg_find_ptr(a, n, "struct io_kiocb");
	if (i >= 0) {
		s->rodata->submit_mode = 0;
	} else {
		i = bpfsys_arg_find_int(a, n, 0, 8);
		s->rodata->submit_mode = 1;
	}
	if (i < 0 || i > 5)
		return -ENOENT;
	s->rodata->submit_arg = (__u32)i;
	return 0;
}

static int probe_complete(struct zonetrace_bpf *s, const struct btf *btf)
{
	struct bpfsys_arg a[BPFSYS_MAX_ARGS];
	int n, i, r;

	n = bpfsys_tp_args(btf, "io_uring_complete", a, BPFSYS_MAX_ARGS);
	if (n < 0)
		return n;
	i = bpfsys_arg_find_ptr(a, n, "struct io_uring_cqe");
	if (i >= 0 && i <= 5) {
		s->rodata->complete_mode = 0;
		s->rodata->cqe_arg = (__u32)i;
		return 0;
	}
	/* (ctx, [req,] u64 user_data, int or long res, ...) */
	i = bpfsys_arg_find_int(a, n, 0, 8);
	r = i < 0 ? i : find_signed(a, n, i + 1);
	if (r < 0 || r > 5)
		return -ENOENT;
	s->rodata->complete_mode = 1;
	s->rodata->ud_arg = (__u32)i;
	s->rodata->res_arg = (__u32)r;
	s->rodata->res_size = a[r].size;
	return 0;
}

static int probe_args(struct zonetrace_bpf *s, const struct btf *btf,
		      const char **submit_tp)
{
	struct bpfsys_arg a[BPFSYS_MAX_ARGS];
	int n, i;

	if (probe_submit(s, btf, submit_tp)) {
		log_err("zonetrace: no usable io_uring_submit_req or "
			"io_uring_submit_sqe prototype in BTF");
		return -ENOENT;
	}
	if (probe_complete(s, btf)) {
		log_err("zonetrace: no usable io_uring_complete prototype in "
			"BTF");
		return -ENOENT;
	}
	n = bpfsys_tp_args(btf, "tcp_probe", a, BPFSYS_MAX_ARGS);
	i = n < 0 ? n : bpfsys_arg_find_ptr(a, n, "struct sock");
	if (i < 0 || i > 5) {
		log_err("zonetrace: no usable tcp_probe prototype in BTF");
		return -ENOENT;
	}
	s->rodata->sk_arg = (__u32)i;
	return 0;
}

static int choose_mode(enum bpfsys_attach want, const struct btf *kbtf,
		       const char *submit_tp, bool *use_btf)
{
	bool ok = bpfsys_tp_btf_usable(kbtf, submit_tp) &&
		  bpfsys_tp_btf_usable(kbtf, fixed_tps[0]) &&
		  bpfsys_tp_btf_usable(kbtf, fixed_tps[1]);

	if (want == BPFSYS_ATTACH_TP_BTF && !ok) {
		log_err("tp_btf cannot attach to the io_uring and tcp "
			"tracepoints on this kernel; try --attach raw_tp");
		return -EOPNOTSUPP;
	}
	*use_btf = want == BPFSYS_ATTACH_RAW_TP ? false :
		   want == BPFSYS_ATTACH_TP_BTF ? true : ok;
	return 0;
}

static void set_autoload(struct zonetrace_bpf *s, bool btf)
{
	bpf_program__set_autoload(s->progs.zt_submit_btf, btf);
	bpf_program__set_autoload(s->progs.zt_complete_btf, btf);
	bpf_program__set_autoload(s->progs.zt_tcp_btf, btf);
	bpf_program__set_autoload(s->progs.zt_submit_raw, !btf);
	bpf_program__set_autoload(s->progs.zt_complete_raw, !btf);
	bpf_program__set_autoload(s->progs.zt_tcp_raw, !btf);
}

static int attach(struct zonetrace *t, bool btf, const char *submit_tp)
{
	struct bpf_program *p[3];
	const char *tps[3] = { submit_tp, fixed_tps[0], fixed_tps[1] };
	int i, err;

	p[0] = btf ? t->skel->progs.zt_submit_btf : t->skel->progs.zt_submit_raw;
	p[1] = btf ? t->skel->progs.zt_complete_btf :
		     t->skel->progs.zt_complete_raw;
	p[2] = btf ? t->skel->progs.zt_tcp_btf : t->skel->progs.zt_tcp_raw;
	for (i = 0; i < 3; i++) {
		t->links[i] = btf ? bpf_program__attach(p[i]) :
			bpf_program__attach_raw_tracepoint(p[i], tps[i]);
		if (!t->links[i]) {
			err = -errno;
			log_err("zonetrace: attaching to %s (%s) failed: %s",
				tps[i], btf ? "tp_btf" : "raw_tp",
				strerror(-err));
			return err;
		}
	}
	return 0;
}

static int alloc_handle(const char *pin_root, struct zonetrace **out)
{
	struct zonetrace *t;
	int ncpu, i;

	if (strlen(root_of(pin_root)) >= PATH_MAX)
		return -ENAMETOOLONG;
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ncpu = (unsigned int)ncpu;
	t->vals = calloc(t->ncpu, (sizeof(struct zone_stats) + 7) & ~7UL);
	if (!t->vals) {
		free(t);
		return -ENOMEM;
	}
	for (i = 0; i < NR_MAPS; i++)
		t->fd[i] = -1;
	strcpy(t->pin_root, root_of(pin_root));
	*out = t;
	return 0;
}

static int load_skel(const struct zonetrace_opts *o, struct zonetrace *t)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = o->btf_path,
		    .pin_root_path = t->pin_root);
	struct btf *btf = NULL, *kbtf = NULL;
	const char *submit_tp = NULL;
	bool use_btf = false;
	int err;

	err = bpfsys_load_btf(o->btf_path, &btf, &kbtf);
	if (err)
		return err;
	t->skel = zonetrace_bpf__open_opts(&oo);
	err = t->skel ? probe_args(t->skel, btf, &submit_tp) : -errno;
	if (!err)
		err = choose_mode(o->attach, kbtf, submit_tp, &use_btf);
	if (!err) {
		set_autoload(t->skel, use_btf);
		if (use_btf)
			bpf_program__set_attach_target(
				t->skel->progs.zt_submit_btf, 0, submit_tp);
		if (use_btf)
			bpf_program__set_attach_target(
				t->skel->progs.zt_complete_btf, 0,
				fixed_tps[0]);
		err = zonetrace_bpf__load(t->skel);
		if (err)
			log_err("zonetrace: loading the BPF programs failed: "
				"%s", strerror(-err));
	}
	if (!err)
		err = attach(t, use_btf, submit_tp);
	t->mode = use_btf ? "tp_btf" : "raw_tp";
	if (btf != kbtf)
		btf__free(btf);
	btf__free(kbtf);
	return err;
}

int zonetrace_load(const struct zonetrace_opts *o, const char *pin_root,
		   struct zonetrace **out)
{
	struct zonetrace *t;
	int err, lock;

	err = alloc_handle(pin_root, &t);
	if (err)
		return err;
	/* The lock stays held until the tracer has bound the registry's
	 * zone_peers, so a remover cannot swap it for a fresh one. */
	err = registry_lock(t->pin_root, true, &t->made_dir, &lock);
	if (!err) {
		err = registry_ensure(t->pin_root);
		if (err)
			registry_unlock(t->pin_root, lock);
		if (err && t->made_dir)
			rmdir(t->pin_root);
	}
	t->loader = !err;
	if (err) {
		log_err("zonetrace: cannot open or create the zone registry "
			"under %s: %s", t->pin_root, err == -EXDEV ?
			"it is not on a BPF filesystem (bpffs)" :
			strerror(-err));
		goto err_destroy;
	}
	err = load_skel(o, t);
	registry_unlock(t->pin_root, lock);
	if (err)
		goto err_destroy;
	t->fd[M_STATS] = bpf_map__fd(t->skel->maps.zone_stats);
	t->fd[M_RTT] = bpf_map__fd(t->skel->maps.zone_rtt);
	t->fd[M_COUNTERS] = bpf_map__fd(t->skel->maps.zone_counters);
	*out = t;
	return 0;

err_destroy:
	zonetrace_destroy(t);
	return err;
}

int zonetrace_pin(struct zonetrace *t)
{
	struct bpf_map *maps[NR_MAPS];
	bool made_dir;
	int err;

	if (!t->skel || t->pinned)
		return -EINVAL;
	err = bpfsys_pin_dir(t->pin_root, &made_dir);
	if (err)
		return err;
	maps[M_STATS] = t->skel->maps.zone_stats;
	maps[M_RTT] = t->skel->maps.zone_rtt;
	maps[M_COUNTERS] = t->skel->maps.zone_counters;
	err = bpfsys_pin_maps(t->pin_root, maps, map_names, NR_MAPS);
	if (!err)
		t->pinned = true;
	return err;
}

int zonetrace_open_pinned(const char *pin_root, struct zonetrace **out)
{
	struct zonetrace *t;
	int err, i;

	err = alloc_handle(pin_root, &t);
	if (err)
		return err;
	t->mode = "pinned";
	for (i = NR_MAPS - 1; i >= 0; i--) {
		t->fd[i] = bpfsys_pinned_fd(t->pin_root, map_names[i]);
		if (t->fd[i] < 0) {
			err = t->fd[i];
			zonetrace_destroy(t);
			return err;
		}
	}
	t->stats_id = bpfsys_obj_id(t->fd[M_STATS]);
	*out = t;
	return 0;
}

static void unpin(const char *root)
{
	const char *rev[NR_MAPS];
	int i;

	for (i = 0; i < NR_MAPS; i++)
		rev[i] = map_names[NR_MAPS - 1 - i];
	bpfsys_unpin(root, rev, NR_MAPS);
}

void zonetrace_unpin_stale(const char *pin_root)
{
	unpin(root_of(pin_root));
}

/* The ids of t's loaded programs, which the kernel still lists for an
 * RCU grace period after they are closed. */
static unsigned int own_progs(const struct zonetrace *t, __u32 *ids,
			      unsigned int max)
{
	struct bpf_program *p;
	unsigned int n = 0;

	if (!t->skel)
		return 0;
	bpf_object__for_each_program(p, t->skel->obj)
		if (n < max && (ids[n] = bpfsys_obj_id(bpf_program__fd(p))))
			n++;
	return n;
}

void zonetrace_destroy(struct zonetrace *t)
{
	unsigned int nown;
	__u32 own[8];
	int i;

	if (!t)
		return;
	nown = own_progs(t, own, 8);
	if (t->pinned)
		unpin(t->pin_root);
	for (i = 0; i < 3; i++)
		bpf_link__destroy(t->links[i]);
	if (t->skel)
		zonetrace_bpf__destroy(t->skel);
	else
		for (i = 0; i < NR_MAPS; i++)
			if (t->fd[i] >= 0)
				close(t->fd[i]);
	/* An empty registry holds no ids worth keeping, whoever made it (a
	 * killed daemon leaves one behind). */
	if (t->loader && !remove_if_empty(t->pin_root, own, nown) &&
	    t->made_dir)
		rmdir(t->pin_root);	/* fails, rightly, if others use it */
	free(t->vals);
	free(t);
}

const char *zonetrace_mode(const struct zonetrace *t)
{
	return t->mode;
}

bool zonetrace_live(const struct zonetrace *t)
{
	return t->skel || bpfsys_pin_live(t->pin_root, map_names[M_STATS],
					  t->stats_id);
}

const char *zonetrace_pin_root(const struct zonetrace *t)
{
	return t->pin_root;
}

static int read_stats(struct zonetrace *t, struct zonesnap *snap)
{
	size_t stride = (sizeof(struct zone_stats) + 7) & ~7UL;
	struct zone_key key, next;
	void *prev = NULL;
	int err;

	while (!bpf_map_get_next_key(t->fd[M_STATS], prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(t->fd[M_STATS], &key, t->vals))
			continue;	/* never deleted, but be safe */
		err = zonesnap_add(snap, &key, t->vals, t->ncpu, stride);
		if (err)
			return err;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int read_rtt(struct zonetrace *t, struct zonesnap *snap)
{
	size_t stride = (sizeof(struct hist) + 7) & ~7UL;
	__u32 key, next;
	void *prev = NULL;
	int err;

	while (!bpf_map_get_next_key(t->fd[M_RTT], prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(t->fd[M_RTT], &key, t->vals))
			continue;
		err = zonesnap_add_rtt(snap, key, t->vals, t->ncpu, stride);
		if (err)
			return err;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int read_counters(struct zonetrace *t, struct zonesnap *snap)
{
	struct zone_counters *c;
	unsigned int i;
	__u32 key = 0;

	c = calloc(t->ncpu, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (bpf_map_lookup_elem(t->fd[M_COUNTERS], &key, c)) {
		free(c);
		return -errno;
	}
	for (i = 0; i < t->ncpu; i++) {
		snap->inflight_failed += c[i].inflight_failed;
		snap->unmatched_ends += c[i].unmatched_ends;
		snap->stats_failed += c[i].stats_failed;
		snap->rtt_failed += c[i].rtt_failed;
	}
	free(c);
	return 0;
}

int zonetrace_snapshot(struct zonetrace *t, struct zonesnap *snap)
{
	struct timespec ts;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snap->ts_ns = (uint64_t)ts.tv_sec * 1000000000ULL +
		      (uint64_t)ts.tv_nsec;
	err = read_stats(t, snap);
	err = err ?: read_rtt(t, snap);
	err = err ?: read_counters(t, snap);
	return err;
}
