/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkdev.h"

static char root[64];

static void put(const char *rel, const char *content)
{
	char path[256], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void link_class(const char *name, const char *target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/class/block/%s", root, name);
	assert_int_equal(symlink(target, path), 0);
}

/* A symlink rel (under root) to target. */
static void link_at(const char *rel, const char *target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(symlink(target, path), 0);
}

/* A fake sysfs: loop0 (7:0) with a partition loop0p1 (259:0), laid out
 * as sysfs does (class/block/ links to the device directories, a
 * partition's inside its disk's), nvme0n1 (259:1) whose uevent lacks
 * nothing, and a partition orphan1 whose directory is in no disk's. */
static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_blkdev.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	put("devices/virtual/block/loop0/dev", "7:0\n");
	put("devices/virtual/block/loop0/loop0p1/dev", "259:0\n");
	put("devices/virtual/block/loop0/loop0p1/partition", "1\n");
	put("class/block/orphan1/dev", "259:9\n");
	put("class/block/orphan1/partition", "1\n");
	link_class("loop0", "../../devices/virtual/block/loop0");
	link_class("loop0p1", "../../devices/virtual/block/loop0/loop0p1");
	put("class/block/nvme0n1/dev", "259:1\n");
	put("class/block/junk/dev", "not a number\n");
	put("dev/block/7:0/uevent", "MAJOR=7\nMINOR=0\nDEVNAME=loop0\n"
	    "DEVTYPE=disk\n");
	put("dev/block/259:1/uevent", "MAJOR=259\nMINOR=1\n"
	    "DEVNAME=nvme0n1\n");
	/* Disks named by a symlink, as udev's /dev/disk/by-id/ ones are:
	 * the links point at /dev/null and /dev/zero, which exist on every
	 * machine, and the fake sysfs calls them a disk and a partition of
	 * loop0. */
	put("class/block/null/dev", "1:3\n");
	put("devices/virtual/block/loop0/zero/dev", "1:5\n");
	put("devices/virtual/block/loop0/zero/partition", "2\n");
	link_class("zero", "../../devices/virtual/block/loop0/zero");
	put("by-id/.keep", "");
	link_at("by-id/disk-a", "/dev/null");
	link_at("by-id/disk-a-part2", "/dev/zero");
	link_at("by-id/relative", "../../../dev/null");
	link_at("by-id/not-a-dev", "/tmp");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_blkdev_lookup_finds_disks(void **state)
{
	unsigned int ma = 0, mi = 0;

	(void)state;
	assert_int_equal(blkdev_lookup(root, "loop0", &ma, &mi), 0);
	assert_int_equal(ma, 7);
	assert_int_equal(mi, 0);
	assert_int_equal(blkdev_lookup(root, "/dev/nvme0n1", &ma, &mi), 0);
	assert_int_equal(ma, 259);
	assert_int_equal(mi, 1);
}

static void test_blkdev_lookup_refuses(void **state)
{
	unsigned int ma = 99, mi = 99;

	(void)state;
	assert_int_equal(blkdev_lookup(root, "sdz", &ma, &mi), -ENODEV);
	assert_int_equal(blkdev_lookup(root, "loop0p1", &ma, &mi), -EISDIR);
	assert_int_equal(blkdev_lookup(root, "", &ma, &mi), -EINVAL);
	assert_int_equal(blkdev_lookup(root, "/dev/", &ma, &mi), -EINVAL);
	assert_int_equal(blkdev_lookup(root, "..", &ma, &mi), -EINVAL);
	assert_int_equal(blkdev_lookup(root, "../block/loop0", &ma, &mi),
			 -EINVAL);
	assert_int_equal(blkdev_lookup(root, "junk", &ma, &mi), -EIO);
	assert_int_equal(blkdev_lookup(root, "a-name-far-too-long-for-a-disk-x",
				       &ma, &mi), -EINVAL);
	/* Nothing was written on failure. */
	assert_int_equal(ma, 99);
	assert_int_equal(mi, 99);
}

static void test_blkdev_name_resolves_and_falls_back(void **state)
{
	char buf[BLKDEV_NAME_MAX];

	(void)state;
	assert_int_equal(blkdev_name(root, 7, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "loop0");
	assert_int_equal(blkdev_name(root, 259, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "nvme0n1");
	assert_int_equal(blkdev_name(root, 8, 16, buf, sizeof(buf)), -ENODEV);
	assert_string_equal(buf, "8:16");
	assert_int_equal(blkdev_name(root, 7, 0, buf, 3), -ENOSPC);
}

/* A partition given where a disk is wanted: its disk is named, so the
 * user can be told what to trace instead. */
static void test_blkdev_disk_of_partition(void **state)
{
	char buf[BLKDEV_NAME_MAX];

	(void)state;
	assert_int_equal(blkdev_disk_of(root, "loop0p1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "loop0");
	memset(buf, 0, sizeof(buf));
	assert_int_equal(blkdev_disk_of(root, "/dev/loop0p1", buf,
					sizeof(buf)), 0);
	assert_string_equal(buf, "loop0");
	assert_int_equal(blkdev_disk_of(root, "loop0p1", buf, 5), -ENOSPC);
	assert_int_equal(blkdev_disk_of(root, "loop0", buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(blkdev_disk_of(root, "sdz1", buf, sizeof(buf)),
			 -ENODEV);
	assert_int_equal(blkdev_disk_of(root, "orphan1", buf, sizeof(buf)),
			 -ENODEV);
	assert_int_equal(blkdev_disk_of(root, "../x", buf, sizeof(buf)),
			 -EINVAL);
}

/* A disk named by a symlink to its /dev node (/dev/disk/by-id/...) is
 * that disk; a link to a partition is a partition, whose disk is named;
 * a link to something outside /dev is no disk. */
static void test_blkdev_lookup_follows_dev_links(void **state)
{
	char path[256], buf[BLKDEV_NAME_MAX];
	unsigned int ma = 0, mi = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/by-id/disk-a", root);
	assert_int_equal(blkdev_lookup(root, path, &ma, &mi), 0);
	assert_int_equal(ma, 1);
	assert_int_equal(mi, 3);
	snprintf(path, sizeof(path), "%s/by-id/disk-a-part2", root);
	assert_int_equal(blkdev_lookup(root, path, &ma, &mi), -EISDIR);
	assert_int_equal(blkdev_disk_of(root, path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "loop0");
	snprintf(path, sizeof(path), "%s/by-id/relative", root);
	assert_int_equal(blkdev_lookup(root, path, &ma, &mi), 0);
	assert_int_equal(mi, 3);
	snprintf(path, sizeof(path), "%s/by-id/not-a-dev", root);
	assert_int_equal(blkdev_lookup(root, path, &ma, &mi), -EINVAL);
	snprintf(path, sizeof(path), "%s/by-id/missing", root);
	assert_int_equal(blkdev_lookup(root, path, &ma, &mi), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blkdev_lookup_finds_disks),
		cmocka_unit_test(test_blkdev_lookup_refuses),
		cmocka_unit_test(test_blkdev_name_resolves_and_falls_back),
		cmocka_unit_test(test_blkdev_disk_of_partition),
		cmocka_unit_test(test_blkdev_lookup_follows_dev_links),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
