/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestry-slowfs: a FUSE passthrough filesystem over a directory whose
 * fsync and fdatasync take as long as asked: a busy disk, for tests (the
 * kernel here has no dm-delay).  Everything else passes straight to the
 * backing directory.
 *
 *   tapestry-slowfs --backing DIR --mount DIR [--fsync-delay MS]
 *
 * The delay can be changed while mounted by writing a number of ms to the
 * file .slowfs at the top of the mount; reading it gives the delay and
 * the number of fsyncs so far.  Writing "eio OFF LEN" there makes every
 * write to a *.img file that overlaps [OFF, OFF + LEN) fail with EIO (a
 * bad stretch of disk; "eio 0 0" heals it).  Runs in the foreground until unmounted
 * (umount MOUNT) or killed; multi-threaded, so an fsync that sleeps holds
 * up only its own caller (the kernel may still serialise other requests
 * on the same file behind it, as FUSE takes the inode lock for fsync).
 *
 * With --no-punch it is a file system that cannot punch holes: a
 * FALLOC_FL_PUNCH_HOLE fails with EOPNOTSUPP, and FALLOC_FL_ZERO_RANGE is
 * carried out by writing zeroes (as a file system without unwritten
 * extents would), whatever the backing directory can do.
 */
#define FUSE_USE_VERSION 35
#include <fuse.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define CTL "/.slowfs"

static int backing = -1;		/* the backing directory */
static _Atomic unsigned int delay_ms;
static _Atomic unsigned long long fsyncs;
static _Atomic unsigned long long bad_off, bad_len;	/* "eio OFF LEN" */

/* A write to an image over the bad stretch fails, as a bad sector would. */
static bool bad_write(const char *path, size_t len, off_t off)
{
	size_t n = strlen(path);
	unsigned long long bo = bad_off, bl = bad_len;

	return bl && n > 4 && !strcmp(path + n - 4, ".img") &&
	       (unsigned long long)off < bo + bl &&
	       bo < (unsigned long long)off + len;
}

/* Paths are relative to the backing directory ("/" -> "."). */
static const char *rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

static int ctl_attr(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = 64;
	return 0;
}

static int sf_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	if (!strcmp(path, CTL))
		return ctl_attr(st);
	if (fi)
		return fstat((int)fi->fh, st) ? -errno : 0;
	return fstatat(backing, rel(path), st, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int sf_access(const char *path, int mask)
{
	if (!strcmp(path, CTL))
		return 0;
	return faccessat(backing, rel(path), mask, 0) ? -errno : 0;
}

static int sf_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct dirent *de;
	DIR *d;
	int fd;

	(void)off;
	(void)fi;
	(void)flags;
	fd = openat(backing, rel(path), O_RDONLY | O_DIRECTORY);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		if (fill(buf, de->d_name, NULL, 0, 0))
			break;
	closedir(d);
	return 0;
}

static int sf_mkdir(const char *path, mode_t mode)
{
	return mkdirat(backing, rel(path), mode) ? -errno : 0;
}

static int sf_unlink(const char *path)
{
	return unlinkat(backing, rel(path), 0) ? -errno : 0;
}

static int sf_rmdir(const char *path)
{
	return unlinkat(backing, rel(path), AT_REMOVEDIR) ? -errno : 0;
}

static int sf_rename(const char *from, const char *to, unsigned int flags)
{
	if (flags)
		return -EINVAL;
	return renameat(backing, rel(from), backing, rel(to)) ? -errno : 0;
}

static int sf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	if (fi)
		return fchmod((int)fi->fh, mode) ? -errno : 0;
	return fchmodat(backing, rel(path), mode, 0) ? -errno : 0;
}

static int sf_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int fd, err = 0;

	if (fi)
		return ftruncate((int)fi->fh, size) ? -errno : 0;
	fd = openat(backing, rel(path), O_WRONLY);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size))
		err = -errno;
	close(fd);
	return err;
}

static int sf_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	if (fi)
		return futimens((int)fi->fh, tv) ? -errno : 0;
	return utimensat(backing, rel(path), tv, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int sf_open(const char *path, struct fuse_file_info *fi)
{
	int fd;

	if (!strcmp(path, CTL)) {
		fi->fh = (uint64_t)-1;
		fi->direct_io = 1;
		return 0;
	}
	fd = openat(backing, rel(path), fi->flags & ~O_DIRECT);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int sf_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int fd = openat(backing, rel(path), (fi->flags & ~O_DIRECT) | O_CREAT,
			mode);

	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int sf_read(const char *path, char *buf, size_t len, off_t off,
		   struct fuse_file_info *fi)
{
	char txt[64];
	ssize_t n;
	int m;

	if (!strcmp(path, CTL)) {
		m = snprintf(txt, sizeof(txt), "%u %llu\n", delay_ms,
			     (unsigned long long)fsyncs);
		if (off >= m)
			return 0;
		if (len > (size_t)(m - off))
			len = (size_t)(m - off);
		memcpy(buf, txt + off, len);
		return (int)len;
	}
	n = pread((int)fi->fh, buf, len, off);
	return n < 0 ? -errno : (int)n;
}

static int sf_write(const char *path, const char *buf, size_t len, off_t off,
		    struct fuse_file_info *fi)
{
	char txt[64];
	unsigned long long bo, bl;
	ssize_t n;

	if (!strcmp(path, CTL)) {
		snprintf(txt, sizeof(txt), "%.*s",
			 (int)(len < sizeof(txt) - 1 ? len : sizeof(txt) - 1),
			 buf);
		if (sscanf(txt, "eio %llu %llu", &bo, &bl) == 2) {
			bad_len = 0;
			bad_off = bo;
			bad_len = bl;
		} else {
			delay_ms = (unsigned int)strtoul(txt, NULL, 10);
		}
		return (int)len;
	}
	if (bad_write(path, len, off))
		return -EIO;
	n = pwrite((int)fi->fh, buf, len, off);
	return n < 0 ? -errno : (int)n;
}

static int sf_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	return fstatvfs(backing, st) ? -errno : 0;
}

static int sf_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	if (fi->fh != (uint64_t)-1)
		close((int)fi->fh);
	return 0;
}

/* The point of it all. */
static int sf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	unsigned int ms = delay_ms;
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	(void)path;
	fsyncs++;
	while (ms && nanosleep(&ts, &ts))
		;
	if (fi->fh == (uint64_t)-1)
		return 0;
	return (datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh)) ?
	       -errno : 0;
}

static bool no_punch;

/* --no-punch's ZERO_RANGE: zeroes written over [off, off + len). */
static int write_zeroes(int fd, off_t off, off_t len)
{
	static const char zero[65536];
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, zero, len < (off_t)sizeof(zero) ?
				     (size_t)len : sizeof(zero), off);
		if (n < 0)
			return -errno;
		off += n;
		len -= n;
	}
	return 0;
}

static int sf_fallocate(const char *path, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	(void)path;
	if (no_punch && (mode & FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if (no_punch && (mode & FALLOC_FL_ZERO_RANGE))
		return write_zeroes((int)fi->fh, off, len);
	return fallocate((int)fi->fh, mode, off, len) ? -errno : 0;
}

static void *sf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = sf_init,
	.getattr = sf_getattr,
	.access = sf_access,
	.readdir = sf_readdir,
	.mkdir = sf_mkdir,
	.unlink = sf_unlink,
	.rmdir = sf_rmdir,
	.rename = sf_rename,
	.chmod = sf_chmod,
	.truncate = sf_truncate,
	.utimens = sf_utimens,
	.open = sf_open,
	.create = sf_create,
	.read = sf_read,
	.write = sf_write,
	.statfs = sf_statfs,
	.release = sf_release,
	.fsync = sf_fsync,
	.fallocate = sf_fallocate,
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: tapestry-slowfs --backing DIR --mount DIR [--fsync-delay MS]\n"
"                       [--no-punch]\n"
"A FUSE passthrough whose fsync/fdatasync sleep MS first.  Write a number\n"
"of ms to MOUNT/.slowfs to change the delay; read it for the delay and\n"
"the fsync count; write \"eio OFF LEN\" to fail every write to a *.img\n"
"file over [OFF, OFF + LEN) with EIO (\"eio 0 0\" heals it).  Stays in\n"
"the foreground until unmounted.  --no-punch: PUNCH_HOLE fails with\n"
"EOPNOTSUPP and ZERO_RANGE writes zeroes (no hole punching).\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "backing", required_argument, NULL, 'b' },
		{ "mount", required_argument, NULL, 'm' },
		{ "fsync-delay", required_argument, NULL, 'd' },
		{ "no-punch", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *back = NULL, *mnt = NULL;
	char *fargv[6];
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': back = optarg; break;
		case 'm': mnt = optarg; break;
		case 'd': delay_ms = (unsigned int)atoi(optarg); break;
		case 'p': no_punch = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!back || !mnt) {
		usage(stderr);
		return 2;
	}
	backing = open(back, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (backing < 0) {
		perror(back);
		return 1;
	}
	umask(0);
	fargv[0] = argv[0];
	fargv[1] = "-f";
	fargv[2] = "-o";
	/* Threads enough that fsyncs sleeping in some never keep the
	 * others from serving reads and writes. */
	fargv[3] = "default_permissions,fsname=tapestry-slowfs,max_threads=128";
	fargv[4] = (char *)mnt;
	fargv[5] = NULL;
	return fuse_main(5, fargv, &ops, NULL);
}
