/* SPDX-License-Identifier: Apache-2.0 */
/*
 * blkdev: block device names <-> whole-disk device numbers, read from
 * sysfs.  sysfs is the sysfs mount ("/sys"); tests point it at a fake tree.
 */
#ifndef TAPESTRY_BLKDEV_H
#define TAPESTRY_BLKDEV_H

#include <stddef.h>

#define BLKDEV_NAME_MAX 32

/* The device numbers of disk name ("loop0", "/dev/loop0", or an absolute
 * path that resolves to a /dev node, as /dev/disk/by-id/... does).
 * Refuses an empty name, a relative one with a '/', a path that leads
 * outside /dev, or "." and ".." (-EINVAL), a partition (-EISDIR: Tapestry
 * traces whole disks), and a name sysfs does not know or a path that does
 * not exist (-ENODEV). */
int blkdev_lookup(const char *sysfs, const char *name, unsigned int *major,
		  unsigned int *minor);

/* The whole disk that holds partition part ("loop0" for "loop0p1",
 * "/dev/loop0p1" or a symlink to it) into buf.  -EINVAL for a bad name or
 * a whole disk, -ENODEV when sysfs knows no such partition or no disk holding it,
 * -ENOSPC if buf is too small, another -errno if sysfs cannot be read. */
int blkdev_disk_of(const char *sysfs, const char *part, char *buf,
		   size_t len);

/* The kernel's name for disk major:minor into buf ("loop0").  When sysfs
 * does not know it (the disk is gone) the name is "MAJOR:MINOR" and the
 * return is -ENODEV; -ENOSPC if buf is too small for either. */
int blkdev_name(const char *sysfs, unsigned int major, unsigned int minor,
		char *buf, size_t len);

#endif /* TAPESTRY_BLKDEV_H */
