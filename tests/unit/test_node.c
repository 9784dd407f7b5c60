/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestryd run with its system seams faked (-Wl,--wrap): option parsing,
 * and every way out of the daemon stops what was started and unpins.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bpfsys.h"
#include "node.h"
#include "zonetrace.h"

/* What the fakes saw, and how they should fail. */
static struct {
	int mount_err, pin_dir_err, claim_err, load_err, pin_err;
	int zload_err, zpin_err;
	bool caps_missing, made_dir, stop_on_pin, no_zones;
	int loads, pins, destroys, claims;
	int zloads, zpins, zdestroys;
	enum bpfsys_attach attach;
	uint64_t slow_ns;
	char pin_root[128];
} f;

static struct blktrace *fake_handle = (struct blktrace *)&f;

static void started(void);

int __wrap_bpfsys_mount_bpffs(void) { return f.mount_err; }
int __wrap_bpfsys_mount_tracefs(void) { return 0; }
void __wrap_bpfsys_quiet_libbpf(void) {}

int __wrap_bpfsys_require_caps(const char *who, enum bpfsys_need need)
{
	(void)who;
	assert_int_equal(need, BPFSYS_LOAD_TRACING);
	return f.caps_missing ? -EPERM : 0;
}

int __wrap_bpfsys_pin_dir(const char *dir, bool *created)
{
	snprintf(f.pin_root, sizeof(f.pin_root), "%s", dir);
	*created = f.made_dir;
	return f.pin_dir_err;
}

int __wrap_bpfsys_claim_dir(const char *dir, int *fd)
{
	(void)dir;
	if (f.claim_err)
		return f.claim_err;
	f.claims++;
	*fd = dup(0);
	return 0;
}

unsigned int __wrap_bpfsys_pinned_count(const char *dir,
					const char *const *names,
					unsigned int n)
{
	(void)dir, (void)names, (void)n;
	return 0;
}

void __wrap_bpfsys_unpin(const char *dir, const char *const *names,
			 unsigned int n)
{
	(void)dir, (void)names, (void)n;
}

int __wrap_bpfsys_attach_parse(const char *s, enum bpfsys_attach *out)
{
	if (!strcmp(s, "raw_tp"))
		*out = BPFSYS_ATTACH_RAW_TP;
	else if (!strcmp(s, "auto"))
		*out = BPFSYS_ATTACH_AUTO;
	else
		return -EINVAL;
	return 0;
}

int __wrap_blktrace_load(const struct blktrace_opts *o, struct blktrace **out)
{
	f.loads++;
	f.attach = o->attach;
	f.slow_ns = o->slow_ns;
	if (f.load_err)
		return f.load_err;
	*out = fake_handle;
	return 0;
}

int __wrap_blktrace_pin(struct blktrace *t, const char *dir)
{
	assert_ptr_equal(t, fake_handle);
	assert_string_equal(dir, f.pin_root);
	if (f.pin_err)
		return f.pin_err;
	f.pins++;
	if (f.no_zones)
		started();
	return 0;
}


static struct zonetrace *fake_zt = (struct zonetrace *)&f.zloads;

int __wrap_zonetrace_load(const struct zonetrace_opts *o, const char *root,
			  struct zonetrace **out)
{
	(void)o;
	assert_string_equal(root, f.pin_root);
	f.zloads++;
	if (f.zload_err)
		return f.zload_err;
	*out = fake_zt;
	return 0;
}

int __wrap_zonetrace_pin(struct zonetrace *t)
{
	assert_ptr_equal(t, fake_zt);
	if (f.zpin_err)
		return f.zpin_err;
	f.zpins++;
	started();
	return 0;
}

void __wrap_zonetrace_destroy(struct zonetrace *t)
{
	if (t) {
		assert_ptr_equal(t, fake_zt);
		f.zdestroys++;
	}
}

const char *__wrap_zonetrace_mode(const struct zonetrace *t)
{
	(void)t;
	return "fake";
}

void __wrap_zonetrace_unpin_stale(const char *root)
{
	(void)root;
}

/* The last service is up: SIGTERM, as if it came while running. */
static void started(void)
{
	if (f.stop_on_pin)
		raise(SIGTERM);
}

void __wrap_blktrace_destroy(struct blktrace *t)
{
	if (t) {
		assert_ptr_equal(t, fake_handle);
		f.destroys++;
	}
}

const char *__wrap_blktrace_mode(const struct blktrace *t)
{
	(void)t;
	return "fake";
}

static int reset(void **state)
{
	(void)state;
	memset(&f, 0, sizeof(f));
	f.stop_on_pin = true;
	return 0;
}

static int run(const char *first, ...)
{
	char *argv[16];
	const char *w;
	va_list ap;
	int argc = 0;

	argv[argc++] = "run";
	va_start(ap, first);
	for (w = first; w; w = va_arg(ap, const char *)) {
		argv[argc++] = (char *)w;
		if (!strcmp(w, "--no-zones"))
			f.no_zones = true;
	}
	va_end(ap);
	argv[argc] = NULL;
	return node_main(argc, argv);
}

static void test_node_parse_options(void **state)
{
	char *argv[] = { "run", "--pin-root", "/sys/fs/bpf/x", "--slow-ms",
			 "2.5", "--no-zones", "--attach", "raw_tp", "--btf",
			 "/b", "-v", NULL };
	struct node_opts o;
	char err[128];

	(void)state;
	assert_int_equal(node_parse(11, argv, &o, err, sizeof(err)), 0);
	assert_string_equal(o.pin_root, "/sys/fs/bpf/x");
	assert_int_equal(o.slow_ns, 2500000);
	assert_true(o.no_zones);
	assert_int_equal(o.attach, BPFSYS_ATTACH_RAW_TP);
	assert_string_equal(o.btf_path, "/b");
	assert_true(o.verbose);
	assert_int_equal(node_parse(1, argv, &o, err, sizeof(err)), 0);
	assert_string_equal(o.pin_root, BPFSYS_PIN_ROOT);
	assert_int_equal(o.slow_ns, 0);
}

static void test_node_parse_refuses(void **state)
{
	static const char *const bad[][3] = {
		{ "--bogus" }, { "--pin-root", "rel/dir" },
		{ "--slow-ms", "-1" }, { "--slow-ms", "x" },
		{ "--attach", "kprobe" }, { "stray" }, { "--pin-root" },
	};
	struct node_opts o;
	char err[128], *argv[4];
	unsigned int i;
	int argc;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		argc = 0;
		argv[argc++] = "run";
		argv[argc++] = (char *)bad[i][0];
		if (bad[i][1])
			argv[argc++] = (char *)bad[i][1];
		argv[argc] = NULL;
		assert_int_equal(node_parse(argc, argv, &o, err, sizeof(err)),
				 -EINVAL);
		assert_true(strlen(err) > 0);
	}
	assert_int_equal(run("--bogus", NULL), 2);
	assert_int_equal(f.loads, 0);
}

static void test_node_runs_and_stops_cleanly(void **state)
{
	(void)state;
	assert_int_equal(run("--pin-root", "/sys/fs/bpf/t", "--no-zones",
			     "--slow-ms", "1", NULL), 0);
	assert_int_equal(f.loads, 1);
	assert_int_equal(f.pins, 1);
	assert_int_equal(f.destroys, 1);
	assert_int_equal(f.slow_ns, 1000000);
	assert_string_equal(f.pin_root, "/sys/fs/bpf/t");
}

/* Each failure on the way up exits 1 and undoes what was done. */
static void test_node_failures_undo_everything(void **state)
{
	(void)state;
	f.caps_missing = true;
	assert_int_equal(run("--no-zones", NULL), 1);
	assert_int_equal(f.claims + f.loads, 0);

	reset(state);
	f.mount_err = -EPERM;
	assert_int_equal(run("--no-zones", NULL), 1);
	assert_int_equal(f.claims + f.loads, 0);

	reset(state);
	f.claim_err = -EBUSY;
	assert_int_equal(run("--no-zones", NULL), 1);
	assert_int_equal(f.loads, 0);

	reset(state);
	f.load_err = -ENOENT;
	assert_int_equal(run("--no-zones", NULL), 1);
	assert_int_equal(f.loads, 1);
	assert_int_equal(f.pins, 0);

	reset(state);
	f.pin_err = -EEXIST;
	assert_int_equal(run("--no-zones", NULL), 1);
	assert_int_equal(f.loads, 1);
	assert_int_equal(f.destroys, 1);	/* the loaded tracer went */
}

static void test_node_runs_both_tracers(void **state)
{
	(void)state;
	assert_int_equal(run("--pin-root", "/sys/fs/bpf/z", NULL), 0);
	assert_int_equal(f.pins, 1);
	assert_int_equal(f.zpins, 1);
	assert_int_equal(f.destroys, 1);
	assert_int_equal(f.zdestroys, 1);
}

/* The zone tracer failing takes the block tracer down with it. */
static void test_node_second_service_failure_stops_the_first(void **state)
{
	f.zload_err = -ENOENT;
	assert_int_equal(run(NULL), 1);
	assert_int_equal(f.pins, 1);
	assert_int_equal(f.destroys, 1);
	assert_int_equal(f.zdestroys, 0);

	reset(state);
	f.zpin_err = -EEXIST;
	assert_int_equal(run(NULL), 1);
	assert_int_equal(f.destroys, 1);
	assert_int_equal(f.zdestroys, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_node_parse_options, reset),
		cmocka_unit_test_setup(test_node_parse_refuses, reset),
		cmocka_unit_test_setup(test_node_runs_and_stops_cleanly, reset),
		cmocka_unit_test_setup(test_node_failures_undo_everything,
				       reset),
		cmocka_unit_test_setup(test_node_runs_both_tracers, reset),
		cmocka_unit_test_setup(
			test_node_second_service_failure_stops_the_first,
			reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
