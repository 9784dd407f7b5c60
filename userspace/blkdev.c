/* SPDX-License-Identifier: Apache-2.0 */
#include "blkdev.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		err = -EIO;
	fclose(f);
	if (!err)
		buf[strcspn(buf, "\n")] = '\0';
	return err;
}

/* The kernel's name of the device that name gives: "loop0" for "loop0" or
 * "/dev/loop0", and for a symlink to a /dev node, as udev's
 * /dev/disk/by-id/ ones are, the name of the node it resolves to.
 * "/dev/NAME" that does not resolve is NAME (sysfs then decides: tests
 * use fake sysfs trees).  Returns name itself or buf (BLKDEV_NAME_MAX
 * bytes); NULL with *err -EINVAL for a path that leads outside /dev or
 * cannot be resolved, -ENODEV for one that does not exist. */
static const char *bare_name(const char *name, char *buf, int *err)
{
	char real[PATH_MAX];

	if (name[0] == '/' && realpath(name, real)) {
		if (strncmp(real, "/dev/", 5) ||
		    strlen(real + 5) >= BLKDEV_NAME_MAX) {
			*err = -EINVAL;
			return NULL;
		}
		strcpy(buf, real + 5);
		return buf;
	}
	if (!strncmp(name, "/dev/", 5) && !strchr(name + 5, '/'))
		return name + 5;
	if (name[0] == '/') {
		*err = errno == ENOENT ? -ENODEV : -EINVAL;
		return NULL;
	}
	return name;
}

int blkdev_lookup(const char *sysfs, const char *name, unsigned int *major,
		  unsigned int *minor)
{
	char path[PATH_MAX], line[64], bare[BLKDEV_NAME_MAX];
	unsigned int ma, mi;
	char end;
	int err = -EINVAL;

	name = bare_name(name, bare, &err);
	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..") || strlen(name) >= BLKDEV_NAME_MAX)
		return name ? -EINVAL : err;
	snprintf(path, sizeof(path), "%s/class/block/%s/dev", sysfs, name);
	err = read_line(path, line, sizeof(line));
	if (err)
		return err == -ENOENT || err == -ENOTDIR ? -ENODEV : err;
	if (sscanf(line, "%u:%u%c", &ma, &mi, &end) != 2)
		return -EIO;
	snprintf(path, sizeof(path), "%s/class/block/%s/partition", sysfs,
		 name);
	if (!access(path, F_OK))
		return -EISDIR;
	*major = ma;
	*minor = mi;
	return 0;
}

int blkdev_disk_of(const char *sysfs, const char *part, char *buf,
		   size_t len)
{
	char path[PATH_MAX], real[PATH_MAX], bare[BLKDEV_NAME_MAX], *base;
	unsigned int ma, mi;
	int err;

	err = blkdev_lookup(sysfs, part, &ma, &mi);
	if (err != -EISDIR)
		return err ? err : -EINVAL;	/* 0: a whole disk */
	part = bare_name(part, bare, &err);
	if (!part)
		return err;
	/* sysfs keeps a partition's directory inside its disk's. */
	snprintf(path, sizeof(path), "%s/class/block/%s/..", sysfs, part);
	if (!realpath(path, real))
		return -errno;
	base = strrchr(real, '/');
	base = base ? base + 1 : real;
	err = blkdev_lookup(sysfs, base, &ma, &mi);
	if (err)
		return err == -EISDIR ? -ENODEV : err;
	if (strlen(base) >= len)
		return -ENOSPC;
	strcpy(buf, base);
	return 0;
}

int blkdev_name(const char *sysfs, unsigned int major, unsigned int minor,
		char *buf, size_t len)
{
	char path[PATH_MAX], line[256];
	FILE *f;
	int n, err = -ENODEV;

	snprintf(path, sizeof(path), "%s/dev/block/%u:%u/uevent", sysfs,
		 major, minor);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "DEVNAME=", 8))
			continue;
		line[strcspn(line, "\n")] = '\0';
		n = snprintf(buf, len, "%s", line + 8);
		err = n < 0 || (size_t)n >= len ? -ENOSPC : 0;
		break;
	}
	if (f)
		fclose(f);
	if (err == -ENODEV) {
		n = snprintf(buf, len, "%u:%u", major, minor);
		if (n < 0 || (size_t)n >= len)
			err = -ENOSPC;
	}
	return err;
}
