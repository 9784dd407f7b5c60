/* SPDX-License-Identifier: Apache-2.0 */
#include "place_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int place_io_read(const char *path, char **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 1 << 16, n = 0, got;
	char *b = NULL, *nb;
	int rc = 0;

	*buf = NULL;
	*len = 0;
	if (!f)
		return -errno;
	for (;;) {
		if (!b || n == cap) {
			cap = b ? cap * 2 : cap;
			nb = realloc(b, cap + 1);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			b = nb;
		}
		errno = 0;
		got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				rc = errno ? -errno : -EIO;	/* e.g. EISDIR */
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (rc) {
		free(b);
		return rc;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

int place_io_open(struct place_io_out *o)
{
	o->buf = NULL;
	o->len = 0;
	o->tmp = NULL;
	o->real = NULL;
	o->path = NULL;
	o->direct = false;
	o->f = open_memstream(&o->buf, &o->len);
	return o->f ? 0 : -errno;
}

void place_io_discard(struct place_io_out *o)
{
	if (o->f)
		fclose(o->f);
	free(o->buf);
	if (o->tmp) {
		unlink(o->tmp);
		free(o->tmp);
	}
	free(o->real);
	o->f = NULL;
	o->buf = NULL;
	o->tmp = NULL;
	o->real = NULL;
	o->direct = false;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write buf to a fresh temporary sibling of path; *tmp names it. */
static int stage_file(const char *path, const char *buf, size_t len,
		      char **tmp)
{
	size_t plen = strlen(path);
	char *t = malloc(plen + sizeof(".tmp.XXXXXX"));
	mode_t um;
	int fd, rc;

	if (!t)
		return -ENOMEM;
	memcpy(t, path, plen);
	memcpy(t + plen, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
	fd = mkstemp(t);
	if (fd < 0) {
		rc = -errno;
		free(t);
		return rc;
	}
	/* mkstemp makes 0600; give the file the mode open(2) would. */
	um = umask(0);
	umask(um);
	rc = fchmod(fd, 0666 & ~um) ? -errno : 0;
	if (!rc)
		rc = write_all(fd, buf, len);
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (rc) {
		unlink(t);
		free(t);
		return rc;
	}
	*tmp = t;
	return 0;
}

/* Close the memory stream; -EIO (and the output dropped) if it failed. */
static int close_stream(struct place_io_out *o)
{
	int rc = fclose(o->f) ? -EIO : 0;

	o->f = NULL;
	if (rc)
		place_io_discard(o);
	return rc;
}

/* Where the output of path goes.  rename(2) replaces what path names: a
 * device node or a FIFO would become a regular file (as root,
 * "--output /dev/null" did that to /dev/null), and a symlink would become
 * a file beside its target.  So an existing path that is not a regular
 * file or a directory is written in place (*direct), and a symlink is
 * followed to the file it names (*real, which the caller frees). */
static int resolve(const char *path, bool *direct, char **real)
{
	struct stat st;

	*direct = false;
	*real = NULL;
	if (stat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		*direct = true;
		return 0;
	}
	if (lstat(path, &st))
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		*real = realpath(path, NULL);
		if (!*real)
			return -errno;
	}
	return 0;
}

int place_io_stage(struct place_io_out *o, const char *path)
{
	char *real;
	int rc = close_stream(o);

	if (!rc)
		rc = resolve(path, &o->direct, &real);
	if (rc) {
		place_io_discard(o);
		return rc;
	}
	o->path = path;
	if (o->direct)
		return 0;	/* written at publish time */
	rc = stage_file(real ? real : path, o->buf, o->len, &o->tmp);
	free(o->buf);
	o->buf = NULL;
	o->real = real;
	return rc;
}

static int write_direct(struct place_io_out *o)
{
	int fd = open(o->path, O_WRONLY | O_TRUNC | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = write_all(fd, o->buf, o->len);
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

int place_io_publish(struct place_io_out *o)
{
	int rc;

	if (o->direct) {
		rc = write_direct(o);
		o->direct = false;
		free(o->buf);
		o->buf = NULL;
		return rc;
	}
	rc = rename(o->tmp, o->real ? o->real : o->path) ? -errno : 0;
	if (rc)
		unlink(o->tmp);
	free(o->tmp);
	free(o->real);
	o->tmp = NULL;
	o->real = NULL;
	return rc;
}

int place_io_commit(struct place_io_out *o, const char *path)
{
	int rc;

	if (path) {
		rc = place_io_stage(o, path);
		return rc ? rc : place_io_publish(o);
	}
	rc = close_stream(o);
	if (rc)
		return rc;
	rc = write_all(STDOUT_FILENO, o->buf, o->len);
	place_io_discard(o);
	return rc;
}
