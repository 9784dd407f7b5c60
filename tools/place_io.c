/* SPDX-License-Identifier: Apache-2.0 */
#include "place_io.h"

#include <errno.h>
#include <fcntl.h>
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
	o->f = open_memstream(&o->buf, &o->len);
	return o->f ? 0 : -errno;
}

void place_io_discard(struct place_io_out *o)
{
	if (o->f)
		fclose(o->f);
	free(o->buf);
	o->f = NULL;
	o->buf = NULL;
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

static int commit_file(const char *path, const char *buf, size_t len)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + sizeof(".tmp.XXXXXX"));
	mode_t um;
	int fd, rc;

	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		free(tmp);
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
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int place_io_commit(struct place_io_out *o, const char *path)
{
	int rc;

	if (fclose(o->f)) {
		o->f = NULL;
		place_io_discard(o);
		return -EIO;
	}
	o->f = NULL;
	if (path) {
		rc = commit_file(path, o->buf, o->len);
	} else {
		rc = write_all(STDOUT_FILENO, o->buf, o->len);
	}
	place_io_discard(o);
	return rc;
}
