/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "abi/udata.h"
#include "zonesnap.h"
#include "zonetrace.h"

#define NCPU 2

static struct zone_stats vals[NCPU];
static struct hist rtts[NCPU];

static void fill(unsigned int cpu, unsigned int n, uint64_t ns,
		 unsigned int errors)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		hist_record(&vals[cpu].lat, ns);
	vals[cpu].count += n;
	vals[cpu].errors += errors;
}

static void add(struct zonesnap *s, unsigned int zone, unsigned int op)
{
	struct zone_key k = { .zone = zone, .op = op };

	assert_int_equal(zonesnap_add(s, &k, vals, NCPU, sizeof(vals[0])), 0);
}

static void test_zonesnap_add_and_diff(void **state)
{
	struct zonesnap a, b, d;

	(void)state;
	zonesnap_init(&a);
	zonesnap_init(&b);
	zonesnap_init(&d);
	memset(vals, 0, sizeof(vals));
	memset(rtts, 0, sizeof(rtts));
	fill(0, 10, 1000000, 1);
	fill(1, 10, 3000000, 0);
	add(&a, 2, UD_OP_WRITE);
	hist_record(&rtts[1], 50000);
	assert_int_equal(zonesnap_add_rtt(&a, 2, rtts, NCPU, sizeof(rtts[0])), 0);
	assert_int_equal(a.rows[0].count, 20);
	assert_int_equal(a.rows[0].errors, 1);
	assert_int_equal(a.rtts[0].rtt.count, 1);
	a.ts_ns = 100;
	a.unmatched_ends = 2;

	fill(0, 5, 8000000, 5);		/* 5 more, slow, all failed */
	add(&b, 2, UD_OP_WRITE);
	add(&b, 1, UD_OP_READ);		/* new */
	assert_int_equal(zonesnap_add_rtt(&b, 2, rtts, NCPU, sizeof(rtts[0])), 0);
	b.ts_ns = 2100;
	b.unmatched_ends = 3;

	assert_int_equal(zonesnap_diff(&d, &b, &a), 0);
	assert_int_equal(d.ts_ns, 2000);
	assert_int_equal(d.unmatched_ends, 1);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.rows[0].zone, 1);	/* sorted */
	assert_int_equal(d.rows[0].count, 25);
	assert_int_equal(d.rows[1].zone, 2);
	assert_int_equal(d.rows[1].count, 5);
	assert_int_equal(d.rows[1].errors, 5);
	assert_true(hist_percentile(&d.rows[1].lat, 50) > 7000000);
	assert_int_equal(d.nrtt, 0);		/* no new RTT samples */
	zonesnap_release(&a);
	zonesnap_release(&b);
	zonesnap_release(&d);
}

static int names(unsigned int id, char *buf, size_t len, void *arg)
{
	(void)arg;
	if (id != 2)
		return -ENOENT;
	snprintf(buf, len, "us-east-1b");
	return 0;
}

static struct zonesnap one(void)
{
	struct zonesnap s;

	memset(vals, 0, sizeof(vals));
	memset(rtts, 0, sizeof(rtts));
	fill(0, 100, 2000000, 3);
	hist_record(&rtts[0], 250000);
	zonesnap_init(&s);
	add(&s, 2, UD_OP_WRITE);
	add(&s, 7, UD_OP_FLUSH);
	assert_int_equal(zonesnap_add_rtt(&s, 2, rtts, NCPU, sizeof(rtts[0])), 0);
	zonesnap_name_zones(&s, names, NULL);
	return s;
}

static const double pcts[] = { 50, 99 };

static void test_zonesnap_names_and_json(void **state)
{
	struct report_fmt fmt = { .pcts = pcts, .npcts = 2, .interval_s = 4,
				    .source = "pinned" };
	struct zonesnap s = one();
	struct json_object *o, *z, *v, *l;

	(void)state;
	assert_string_equal(s.rows[0].name, "us-east-1b");
	assert_string_equal(s.rows[1].name, "zone-7");
	o = zonesnap_to_json(&s, &fmt);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "zones", &v));
	assert_int_equal(json_object_array_length(v), 2);
	z = json_object_array_get_idx(v, 0);
	assert_true(json_object_object_get_ex(z, "zone", &v));
	assert_string_equal(json_object_get_string(v), "us-east-1b");
	assert_true(json_object_object_get_ex(z, "zone_id", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(z, "op", &v));
	assert_string_equal(json_object_get_string(v), "write");
	assert_true(json_object_object_get_ex(z, "count", &v));
	assert_int_equal(json_object_get_int(v), 100);
	assert_true(json_object_object_get_ex(z, "per_s", &v));
	assert_true(json_object_get_double(v) == 25.0);
	assert_true(json_object_object_get_ex(z, "errors", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(z, "latency", &l));
	assert_true(json_object_object_get_ex(l, "p99_us", &v));
	assert_true(json_object_get_double(v) > 1900.0);
	assert_true(json_object_object_get_ex(o, "rtt", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_true(json_object_object_get_ex(o, "lost", &v));
	json_object_put(o);
	zonesnap_release(&s);
}

static char *render(struct zonesnap *s, bool prom)
{
	struct report_fmt fmt = { .pcts = pcts, .npcts = 2, .interval_s = 1,
				    .hist_width = 10 };
	static char buf[1 << 16];
	FILE *f;

	memset(buf, 0, sizeof(buf));
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	assert_non_null(f);
	if (prom)
		assert_int_equal(zonesnap_print_prom(f, s), 0);
	else
		assert_int_equal(zonesnap_print_text(f, s, &fmt), 0);
	fclose(f);
	return buf;
}

static void test_zonesnap_prom_and_text(void **state)
{
	struct zonesnap s = one();
	char *out;

	(void)state;
	out = render(&s, true);
	assert_non_null(strstr(out, "# TYPE tapestry_zone_latency_seconds "
			       "histogram\n"));
	assert_non_null(strstr(out, "tapestry_zone_latency_seconds_count{"
			       "zone=\"us-east-1b\",op=\"write\"} 100\n"));
	assert_non_null(strstr(out, "tapestry_zone_requests_total{zone="
			       "\"zone-7\",op=\"flush\"} 100\n"));
	assert_non_null(strstr(out, "tapestry_zone_errors_total{zone="
			       "\"us-east-1b\",op=\"write\"} 3\n"));
	assert_non_null(strstr(out, "# TYPE tapestry_zone_rtt_seconds "
			       "histogram\n"));
	assert_non_null(strstr(out, "tapestry_zone_rtt_seconds_count{zone="
			       "\"us-east-1b\"} 1\n"));
	assert_non_null(strstr(out, "tapestry_zone_trace_lost_total{reason="
			       "\"unmatched_ends\"} 0\n"));
	out = render(&s, false);
	assert_non_null(strstr(out, "zone us-east-1b (2) write: 100 requests"));
	assert_non_null(strstr(out, "3 errors"));
	assert_non_null(strstr(out, "round-trip"));
	zonesnap_release(&s);
}

static void test_zonetrace_names_and_peers_parse(void **state)
{
	struct zone_peer p;

	(void)state;
	assert_true(zonetrace_zone_name_valid("us-east-1a"));
	assert_true(zonetrace_zone_name_valid("zone_B.2"));
	assert_false(zonetrace_zone_name_valid(""));
	assert_false(zonetrace_zone_name_valid("a b"));
	assert_false(zonetrace_zone_name_valid("a/b"));
	assert_false(zonetrace_zone_name_valid(
		"0123456789012345678901234567890123456789012345678901234567890123"));

	assert_int_equal(zonetrace_peer_parse("127.0.2.1:7000", &p), 0);
	assert_int_equal(p.family, ZONE_AF_INET);
	assert_int_equal(p.port, 7000);
	assert_int_equal(p.addr[0], 127);
	assert_int_equal(p.addr[2], 2);
	assert_int_equal(p.addr[4], 0);
	assert_int_equal(zonetrace_peer_parse("[::1]:80", &p), 0);
	assert_int_equal(p.family, ZONE_AF_INET6);
	assert_int_equal(p.addr[15], 1);
	assert_int_equal(zonetrace_peer_parse("127.0.0.1", &p), -EINVAL);
	assert_int_equal(zonetrace_peer_parse("127.0.0.1:0", &p), -EINVAL);
	assert_int_equal(zonetrace_peer_parse("127.0.0.1:65536", &p), -EINVAL);
	assert_int_equal(zonetrace_peer_parse("host:80", &p), -EINVAL);
	assert_int_equal(zonetrace_peer_parse("[::1:80", &p), -EINVAL);
	assert_int_equal(zonetrace_peer_parse(":80", &p), -EINVAL);
	assert_int_equal(zonetrace_zone_register(NULL, "bad name", NULL),
			 -EINVAL);
	assert_int_equal(zonetrace_peer_register(NULL, "127.0.0.1:1", 0),
			 -EINVAL);
	assert_int_equal(zonetrace_peer_register(NULL, "127.0.0.1:1", 255),
			 -EINVAL);
}

/* mkdir, wrapped: refuses the registry lock directory while fail_lock. */
static bool fail_lock;
int __real_mkdir(const char *path, mode_t mode);
int __wrap_mkdir(const char *path, mode_t mode)
{
	const char *lock = "/" ZONETRACE_REGISTRY_LOCK;
	size_t n = strlen(path), m = strlen(lock);

	if (fail_lock && n >= m && !strcmp(path + n - m, lock)) {
		errno = EROFS;
		return -1;
	}
	return __real_mkdir(path, mode);
}

/* A registry call that made the pin root and then could not take the
 * registry lock removes the root again: it leaves nothing behind.  Needs
 * root and a bpffs at /sys/fs/bpf (skipped otherwise). */
/* The tracer sees a peer reached through an IPv4-mapped IPv6 address as
 * IPv4 (zonetrace.bpf.c, peer_of): registered in its mapped form, it
 * must be keyed as IPv4 too, or its RTT samples never find their zone. */
static void test_zonetrace_peer_parse_v4_mapped(void **state)
{
	struct zone_peer p, q;

	(void)state;
	assert_int_equal(zonetrace_peer_parse("[::ffff:10.1.2.3]:7000", &p),
			 0);
	assert_int_equal(zonetrace_peer_parse("10.1.2.3:7000", &q), 0);
	assert_int_equal(p.family, ZONE_AF_INET);
	assert_memory_equal(&p, &q, sizeof(p));
	/* Not mapped: an IPv4-compatible or plain IPv6 address stays. */
	assert_int_equal(zonetrace_peer_parse("[::10.1.2.3]:7000", &p), 0);
	assert_int_equal(p.family, ZONE_AF_INET6);
}

static void test_zonetrace_failed_lock_removes_root(void **state)
{
	char root[64];
	struct statfs fs;
	struct stat st;
	unsigned int id;

	(void)state;
	if (geteuid() || statfs("/sys/fs/bpf", &fs) ||
	    fs.f_type != BPF_FS_MAGIC)
		skip();
	snprintf(root, sizeof(root), "/sys/fs/bpf/tapestry-unit-zt-%d",
		 (int)getpid());
	fail_lock = true;
	assert_int_equal(zonetrace_zone_register(root, "z", &id), -EROFS);
	fail_lock = false;
	if (!stat(root, &st)) {
		rmdir(root);
		fail_msg("%s left behind", root);
	}
	assert_int_equal(errno, ENOENT);
}

/* bpfsys_dir_check, wrapped: counts the pin-root checks. */
static unsigned int dir_checks;
int __real_bpfsys_dir_check(const char *dir);
int __wrap_bpfsys_dir_check(const char *dir)
{
	dir_checks++;
	return __real_bpfsys_dir_check(dir);
}

static void rm_registry(const char *root)
{
	static const char *const names[] = {
		ZONETRACE_MAP_NAMES, ZONETRACE_MAP_IDS, ZONETRACE_MAP_PEERS,
		ZONETRACE_MAP_PEER_REFS,
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%s", root, ZONETRACE_REGISTRY_LOCK);
	rmdir(path);
	rmdir(root);
}

/* Naming every id (`tapestry zone list`, a report's zones) checks the pin
 * root once and opens the names map once, not once per id; the names
 * come out as registered, an unknown id is -ENOENT, and without a
 * registry the open is -ENOENT.  Needs root and bpffs (skipped
 * otherwise). */
static void test_zonetrace_names_open_once(void **state)
{
	char root[64], name[ZONE_NAME_LEN];
	unsigned int a, b, id, found = 0;
	struct statfs fs;
	int fd;

	(void)state;
	if (geteuid() || statfs("/sys/fs/bpf", &fs) ||
	    fs.f_type != BPF_FS_MAGIC)
		skip();
	snprintf(root, sizeof(root), "/sys/fs/bpf/tapestry-unit-zn-%d",
		 (int)getpid());
	assert_int_equal(zonetrace_names_open(root), -ENOENT);
	assert_int_equal(zonetrace_zone_register(root, "zone-a", &a), 0);
	assert_int_equal(zonetrace_zone_register(root, "zone-b", &b), 0);
	dir_checks = 0;
	fd = zonetrace_names_open(root);
	if (fd < 0) {
		rm_registry(root);
		fail_msg("zonetrace_names_open: %s", strerror(-fd));
	}
	for (id = ZONE_ID_MIN; id <= ZONE_ID_MAX; id++) {
		if (zonetrace_names_get(fd, id, name, sizeof(name)))
			continue;
		found++;
		if (strcmp(name, id == a ? "zone-a" : "zone-b"))
			break;
	}
	close(fd);
	rm_registry(root);
	assert_int_equal(found, 2);
	assert_int_equal(dir_checks, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zonesnap_add_and_diff),
		cmocka_unit_test(test_zonesnap_names_and_json),
		cmocka_unit_test(test_zonesnap_prom_and_text),
		cmocka_unit_test(test_zonetrace_names_and_peers_parse),
		cmocka_unit_test(test_zonetrace_peer_parse_v4_mapped),
		cmocka_unit_test(test_zonetrace_failed_lock_removes_root),
		cmocka_unit_test(test_zonetrace_names_open_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
