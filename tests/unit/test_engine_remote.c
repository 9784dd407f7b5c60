/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine_remote: engine_remote's use of the loop's SQ, on a real
 * uloop with a hand-built engine (only the fields engine_remote reads).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "dirtymap.h"
#include "engine_int.h"
#include "log.h"
#include "proto.h"
#include "uloop.h"

/* Lines logged that say a HELLO was refused. */
static unsigned int said_refused;

void __real_log_msg(enum log_level level, const char *fmt, ...);
void __wrap_log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strstr(buf, "refused hello"))
		said_refused++;
	__real_log_msg(level, "%s", buf);
}

struct seen {
	unsigned int n, stale;
};

static void on_other(void *ctx, const struct io_uring_cqe *cqe)
{
	struct seen *s = ctx;

	s->n++;
	if (ud_index(cqe->user_data) < 100)
		s->stale++;
}

/* A connect queued when the SQ is nearly full: the SQ slots it takes still
 * hold SQEs that were submitted long ago.  None of them may go to the
 * kernel again (here a NOP, in real life an old write), and the connect
 * and its link timeout must both go out. */
static void test_engine_remote_connect_near_full_sq(void **state)
{
	struct uloop_opts lo = {
		.entries = 8, .nr_small = 1, .small_size = 4096,
		.nr_large = 1, .large_size = 65536, .max_timers = 4,
	};
	struct io_uring_sqe *sqe;
	struct engine *e;
	struct erepl *r;
	struct seen s = { 0 };
	unsigned int i, spins;

	(void)state;
	e = calloc(1, sizeof(*e));
	assert_non_null(e);
	assert_int_equal(uloop_create(&lo, &e->loop), 0);
	uloop_set_handler(e->loop, UD_CLS_OTHER, on_other, &s);
	strcpy(e->name, "vol");
	e->hard_ns = 1000000000ULL;
	r = &e->repl[0];
	r->e = e;
	strcpy(r->zone, "z1");
	/* Nothing listens on port 1 of 127.0.0.1: the connect is refused. */
	assert_int_equal(engine_remote_init(r, "127.0.0.1:1"), 0);

	/* Every SQ slot once held a NOP (index < 100), now reaped. */
	for (i = 0; i < 8; i++) {
		sqe = uloop_get_sqe(e->loop);
		io_uring_prep_nop(sqe);
		sqe->user_data = ud_make(UD_CLS_OTHER, 0, 0, 0, i);
	}
	for (spins = 0; s.n < 8 && spins < 20; spins++)
		uloop_run_once(e->loop, 100000000ULL);
	assert_int_equal(s.n, 8);
	s.stale = 0;
	/* Four fresh ones queued: four slots left. */
	for (i = 0; i < 4; i++) {
		sqe = uloop_get_sqe(e->loop);
		io_uring_prep_nop(sqe);
		sqe->user_data = ud_make(UD_CLS_OTHER, 0, 0, 0, 100 + i);
	}
	assert_int_equal(engine_remote_connect(r), 0);
	for (spins = 0; spins < 20 && (s.n < 12 ||
				       uloop_dropped(e->loop) < 2); spins++)
		uloop_run_once(e->loop, 100000000ULL);
	assert_int_equal(s.stale, 0);
	assert_int_equal(s.n, 12);
	/* the connect's and the timeout's CQEs (no REPL_RX handler here) */
	assert_int_equal(uloop_dropped(e->loop), 2);
	engine_remote_free(r);
	uloop_destroy(e->loop);
	free(e);
}

/* A hand-built engine of nregions regions with one remote replica whose
 * dirty and missed maps are real files in dir. */
static struct engine *unsync_engine_n(char *dir, uint64_t nregions)
{
	char path[PATH_MAX];
	struct engine *e = calloc(1, sizeof(*e));
	struct erepl *r;

	assert_non_null(e);
	assert_non_null(mkdtemp(dir));
	strcpy(e->name, "vol");
	e->size = nregions * EREGION;
	e->bs = 4096;
	r = &e->repl[0];
	r->e = e;
	strcpy(r->zone, "z2");
	snprintf(path, sizeof(path), "%s/dirty", dir);
	assert_int_equal(dirtymap_open(path, nregions, EREGION, true,
				       &r->dirty), 0);
	snprintf(path, sizeof(path), "%s/missed", dir);
	assert_int_equal(dirtymap_open(path, nregions, EREGION, true,
				       &r->missed), 0);
	assert_int_equal(engine_unsync_init(&r->unsync, e->size), 0);
	return e;
}

static struct engine *unsync_engine(char *dir)
{
	return unsync_engine_n(dir, 16);
}

static void unsync_engine_free(struct engine *e, const char *dir)
{
	char path[PATH_MAX];

	engine_unsync_free(&e->repl[0].unsync);
	dirtymap_close(e->repl[0].dirty);
	dirtymap_close(e->repl[0].missed);
	snprintf(path, sizeof(path), "%s/dirty", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/missed", dir);
	unlink(path);
	rmdir(dir);
	free(e);
}

/* Regions 0 and 1 are written and covered by a good FLUSH; region 2
 * before a second FLUSH, region 3 while it is out (not covered by it),
 * region 4 after it succeeded.  The replica's server then comes back
 * saying it holds less than it acked (it lost its page cache, and the
 * record of that second flush had not landed: it vouches for seq 2
 * only): regions 3 and 4, written since the start of its last good
 * flush, are missed and dirty; 0 to 2, which the flushes made durable,
 * are not (the server zeroed the seq of region 2's block, over data
 * that is on disk). */
static void test_engine_remote_lost_page_cache_marks_since_last_flush(
	void **state)
{
	char dir[] = "/tmp/test_engine_remote.XXXXXX";
	struct engine *e = unsync_engine(dir);
	struct erepl *r = &e->repl[0];
	struct eunsync *u = &r->unsync;
	uint64_t i;

	(void)state;
	engine_unsync_write(u, 0, 2 * EREGION);
	engine_unsync_acked(u, 2);
	engine_unsync_flush_sent(u, 100);
	engine_unsync_flush_done(u, 100, 0, 0);
	engine_unsync_write(u, 2 * EREGION + 4096, 4096);
	engine_unsync_acked(u, 3);
	engine_unsync_flush_sent(u, 101);
	engine_unsync_write(u, 3 * EREGION, 4096);
	engine_unsync_acked(u, 4);
	/* A second flush while 101 is out is not tracked: it clears nothing */
	engine_unsync_flush_sent(u, 102);
	engine_unsync_flush_done(u, 102, 0, 0);
	engine_unsync_flush_done(u, 101, 0, 0);
	engine_unsync_write(u, 4 * EREGION, 4096);
	engine_unsync_acked(u, 5);
	/* A blip: the server acked nothing it does not still hold. */
	assert_int_equal(engine_unsync_hello(r, 5), 0);
	assert_int_equal(dirtymap_count(r->dirty), 0);
	/* A restart after a power loss: it vouches for seq 2 only. */
	assert_int_equal(engine_unsync_hello(r, 2), 2);
	for (i = 0; i < 16; i++) {
		assert_int_equal(dirtymap_test(r->missed, i), i == 3 || i == 4);
		assert_int_equal(dirtymap_test(r->dirty, i), i == 3 || i == 4);
	}
	/* Marked once: the next HELLO saying the same adds nothing. */
	assert_int_equal(engine_unsync_hello(r, 2), 0);
	/* A flush succeeded: the regions marked are not all it held. */
	assert_false(engine_unsync_all(r, 2));
	unsync_engine_free(e, dir);
}

/* A FLUSH that failed, or whose connection went (a HELLO comes before
 * its reply), clears nothing: what it was to cover waits for the next
 * good one. */
static void test_engine_remote_failed_flush_clears_nothing(void **state)
{
	char dir[] = "/tmp/test_engine_remote.XXXXXX";
	struct engine *e = unsync_engine(dir);
	struct erepl *r = &e->repl[0];
	struct eunsync *u = &r->unsync;

	(void)state;
	engine_unsync_write(u, 5 * EREGION, EREGION);
	engine_unsync_acked(u, 7);
	engine_unsync_flush_sent(u, 200);
	engine_unsync_flush_done(u, 200, -EIO, 0);
	engine_unsync_flush_sent(u, 201);
	assert_int_equal(engine_unsync_hello(r, 7), 0);	/* a blip */
	engine_unsync_flush_done(u, 201, 0, 0);	/* not this connection's */
	engine_unsync_write(u, 6 * EREGION, 1);
	engine_unsync_acked(u, 8);
	assert_int_equal(engine_unsync_hello(r, 6), 2);
	assert_true(dirtymap_test(r->missed, 5));
	assert_true(dirtymap_test(r->missed, 6));
	/* No flush ever succeeded there, and the volume held nothing before
	 * this run: what was marked is all it ever held, so a HELLO saying
	 * it holds no write (every seq zeroed) needs no full copy.  Unless
	 * some replica held data from before the run. */
	assert_true(engine_unsync_all(r, 2));
	assert_false(engine_unsync_all(r, 0));
	e->had_data = true;
	assert_false(engine_unsync_all(r, 2));
	unsync_engine_free(e, dir);
}

/* A FLUSH costs what was written since the last one, not the volume's
 * size: on 1 TiB (2^24 regions, 2^18 words per bitmap) three small
 * writes far apart, a flush sent and its good reply read a few words.
 * A bitmap walk of the whole volume read 3 * 2^18. */
static void test_engine_remote_flush_costs_what_was_written(void **state)
{
	struct eunsync u;
	uint64_t tib = 1ULL << 40;

	(void)state;
	assert_int_equal(engine_unsync_init(&u, tib), 0);
	assert_int_equal(u.words, 1ULL << 18);
	engine_unsync_write(&u, 0, 4096);
	engine_unsync_write(&u, tib / 2, 4096);
	engine_unsync_write(&u, tib - 4096, 4096);
	engine_unsync_flush_sent(&u, 1);
	engine_unsync_flush_done(&u, 1, 0, 0);
	/* the sum words from the first to the last, plus three words */
	assert_int_equal(u.visited, u.sumwords + 3);
	/* Only the words written, when they lie close. */
	u.visited = 0;
	engine_unsync_write(&u, 5 * EREGION, 4096);
	engine_unsync_write(&u, 300 * EREGION, 4096);
	engine_unsync_flush_sent(&u, 2);
	engine_unsync_flush_done(&u, 2, 0, 0);
	assert_int_equal(u.visited, 1 + 2);
	/* A failed flush leaves its words for the next: the two merge. */
	u.visited = 0;
	engine_unsync_write(&u, 5 * EREGION, 4096);
	engine_unsync_flush_sent(&u, 3);
	engine_unsync_flush_done(&u, 3, -EIO, 0);
	engine_unsync_write(&u, 70 * EREGION, 4096);
	engine_unsync_flush_sent(&u, 4);
	engine_unsync_flush_done(&u, 4, 0, 0);
	assert_int_equal(u.visited, (1 + 1) + (1 + 2));
	engine_unsync_free(&u);
}

/* The bits kept where they are: across words and sum words, a long
 * write, a flush that failed and one lost with its connection, writes
 * while a flush is out.  The replica then says it lost what it acked:
 * exactly the regions written since the start of the last good flush
 * are marked. */
static void test_engine_remote_unsync_marks_exact_regions(void **state)
{
	char dir[] = "/tmp/test_engine_remote.XXXXXX";
	uint64_t nregions = 3 * 64 * 64, i;
	struct engine *e = unsync_engine_n(dir, nregions);
	struct erepl *r = &e->repl[0];
	struct eunsync *u = &r->unsync;

	(void)state;
	/* made durable by the good flush 10 */
	engine_unsync_write(u, 4000 * EREGION, 4096);
	engine_unsync_flush_sent(u, 10);
	/* 4095, 4096: across words and sum words; not covered by 10 */
	engine_unsync_write(u, 4095 * EREGION, 2 * EREGION);
	engine_unsync_flush_done(u, 10, 0, 0);
	/* flush 11 fails; 12 is lost with its connection (a blip) */
	engine_unsync_write(u, 60 * EREGION + 1, 140 * EREGION);  /* 60-200 */
	engine_unsync_flush_sent(u, 11);
	engine_unsync_write(u, 8191 * EREGION, 1);
	engine_unsync_flush_done(u, 11, -EIO, 0);
	engine_unsync_write(u, (nregions - 1) * EREGION, EREGION);
	engine_unsync_acked(u, 9);
	engine_unsync_flush_sent(u, 12);
	assert_int_equal(engine_unsync_hello(r, 9), 0);
	engine_unsync_flush_done(u, 12, 0, 0);
	engine_unsync_write(u, 5000 * EREGION, 4096);
	engine_unsync_acked(u, 10);
	/* a restart after a power loss */
	assert_int_equal(engine_unsync_hello(r, 1),
			 (200 - 60 + 1) + 2 + 1 + 1 + 1);
	for (i = 0; i < nregions; i++) {
		bool want = (i >= 60 && i <= 200) || i == 4095 ||
			    i == 4096 || i == 5000 || i == 8191 ||
			    i == nregions - 1;

		if (dirtymap_test(r->missed, i) != want)
			fail_msg("region %llu: missed %d, want %d",
				 (unsigned long long)i,
				 dirtymap_test(r->missed, i), want);
	}
	/* and nothing is left behind */
	assert_true(u->old.lo >= u->old.hi && u->cur.lo >= u->cur.hi);
	for (i = 0; i < u->words; i++)
		assert_int_equal(u->old.w[i] | u->cur.w[i], 0);
	for (i = 0; i < u->sumwords; i++)
		assert_int_equal(u->old.sum[i] | u->cur.sum[i], 0);
	unsync_engine_free(e, dir);
}

static int io_full(int fd, void *buf, size_t n, bool out)
{
	uint8_t *p = buf;
	ssize_t k;

	while (n) {
		k = out ? write(fd, p, n) : read(fd, p, n);
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* A replica server that answers each HELLO (one per connection) with
 * status[i], as an older server answers flags it does not know: a reply
 * with EPROTO, then it closes. */
static void fake_server(int lfd, const uint32_t *status, unsigned int n)
{
	uint8_t in[REPL_HDR_SIZE + sizeof(struct repl_hello)];
	uint8_t out[REPL_HDR_SIZE];
	struct repl_hdr h, rh;
	unsigned int i;
	int fd;

	alarm(20);	/* not left behind should the test fail */
	for (i = 0; i < n; i++) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0 || io_full(fd, in, sizeof(in), false) ||
		    proto_decode(in, REPL_MAX_PAYLOAD, &h) ||
		    h.op != REPL_OP_HELLO)
			_exit(1);
		memset(&rh, 0, sizeof(rh));
		rh.op = REPL_OP_HELLO;
		rh.flags = REPL_F_REPLY;
		rh.status = status[i];
		rh.tag = h.tag;
		rh.payload_crc = proto_payload_crc(out, 0);
		proto_encode(&rh, out);
		if (io_full(fd, out, sizeof(out), true))
			_exit(1);
		close(fd);
	}
	_exit(0);
}

static void on_rx(void *ctx, const struct io_uring_cqe *cqe)
{
	engine_remote_conn_cqe(ctx, cqe);
}

static void retry_fired(struct uloop_timer *t)
{
	(void)t;
}

/* A server that refuses the HELLO (an old one that does not know the
 * flags sent: EPROTO) answers the same at every retry.  It is said once,
 * and again only when the answer changes, and the retries back off to
 * ERETRY_REFUSED_NS, not ERETRY_MAX_NS.  Before, each of the 12 refusals
 * below was logged, and the retries came every 1 s for ever. */
static void test_engine_remote_refused_hello_said_once(void **state)
{
	static const uint32_t status[] = {
		EPROTO, EPROTO, EPROTO, EPROTO, EPROTO, EPROTO, EPROTO,
		ESTALE, ESTALE, ENOTRECOVERABLE, ENOTRECOVERABLE, EPROTO,
	};
	unsigned int n = sizeof(status) / sizeof(status[0]);
	struct uloop_opts lo = {
		.entries = 16, .nr_small = 1, .small_size = 4096,
		.nr_large = 1, .large_size = 65536, .max_timers = 4,
	};
	char dir[] = "/tmp/test_engine_remote.XXXXXX";
	struct engine *e = unsync_engine(dir);
	struct erepl *r = &e->repl[0];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	char addr[64];
	unsigned int i, spins;
	int lfd, wst;
	pid_t pid;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		fake_server(lfd, status, n);
	close(lfd);

	assert_int_equal(uloop_create(&lo, &e->loop), 0);
	uloop_set_handler(e->loop, UD_CLS_REPL_RX, on_rx, e);
	e->nr = 1;
	e->hard_ns = 1000000000ULL;
	e->st.epoch = 1;
	e->st.epoch_limit = e->st.seq_limit = 1ULL << 40;
	e->st.next_seq = 1;
	r->retry.fn = retry_fired;
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	engine_unsync_free(&r->unsync);	/* engine_remote_init makes its own */
	assert_int_equal(engine_remote_init(r, addr), 0);
	said_refused = 0;
	for (i = 0; i < n; i++) {
		uloop_timer_cancel(e->loop, &r->retry);
		assert_int_equal(engine_remote_connect(r), 0);
		for (spins = 0; spins < 500 && (!engine_remote_idle(r) ||
						!uloop_timer_armed(&r->retry));
		     spins++)
			uloop_run_once(e->loop, 10000000ULL);
		/* refused, closed, and a retry scheduled */
		assert_true(engine_remote_idle(r));
		assert_true(uloop_timer_armed(&r->retry));
		if (i == 6)	/* 0.1 s doubled 7 times, capped */
			assert_int_equal(r->backoff_ns, ERETRY_REFUSED_NS);
	}
	/* EPROTO, ESTALE, ENOTRECOVERABLE, EPROTO again: 4 lines, not 12 */
	assert_int_equal(said_refused, 4);
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
	uloop_timer_cancel(e->loop, &r->retry);
	engine_remote_free(r);
	uloop_destroy(e->loop);
	unsync_engine_free(e, dir);
}

/* The rollback bound is the synced seq a good FLUSH's reply said its
 * server had recorded, not the seqs acked when it was sent (its record
 * lags by up to a tick, and an unclean restart before it zeroes them: a
 * container's server killed is no rollback).  A failed FLUSH's reply
 * says nothing; a server older than that echoes the request's 0: nothing
 * known.  A HELLO below the bound says the replica was rolled back (a
 * backup put back); one at or above it is a blip or a restart. */
static void test_engine_remote_rollback_below_recorded_seq(void **state)
{
	char dir[] = "/tmp/test_engine_remote.XXXXXX";
	struct engine *e = unsync_engine(dir);
	struct eunsync *u = &e->repl[0].unsync;

	(void)state;
	engine_unsync_acked(u, 10);
	engine_unsync_flush_sent(u, 300);
	engine_unsync_acked(u, 12);	/* sent after the flush */
	assert_int_equal(engine_unsync_rollback(u, 0), 0);	/* not done */
	engine_unsync_flush_done(u, 300, 0, 0);	/* an older server */
	assert_int_equal(engine_unsync_rollback(u, 0), 0);
	engine_unsync_acked(u, 20);
	engine_unsync_flush_sent(u, 301);
	engine_unsync_flush_done(u, 301, 0, 6);	/* record lags: 6, not 12 */
	/* a restart that zeroed all above its record: no rollback */
	assert_int_equal(engine_unsync_rollback(u, 6), 0);
	assert_int_equal(engine_unsync_rollback(u, 5), 6);
	/* What it says now is the baseline: said again, nothing new. */
	assert_int_equal(engine_unsync_rollback(u, 5), 0);
	engine_unsync_flush_sent(u, 302);
	engine_unsync_flush_done(u, 302, -EIO, 30);	/* failed: no bound */
	assert_int_equal(engine_unsync_rollback(u, 5), 0);
	/* Any good FLUSH counts, tracked or not: 303 is sent while 304
	 * is out; the highest said is kept. */
	engine_unsync_flush_sent(u, 304);
	engine_unsync_flush_sent(u, 303);
	engine_unsync_flush_done(u, 303, 0, 15);
	engine_unsync_flush_done(u, 304, 0, 12);
	assert_int_equal(engine_unsync_rollback(u, 15), 0);
	assert_int_equal(engine_unsync_rollback(u, 14), 15);
	unsync_engine_free(e, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_remote_connect_near_full_sq),
		cmocka_unit_test(
			test_engine_remote_lost_page_cache_marks_since_last_flush),
		cmocka_unit_test(test_engine_remote_failed_flush_clears_nothing),
		cmocka_unit_test(
			test_engine_remote_rollback_below_recorded_seq),
		cmocka_unit_test(
			test_engine_remote_flush_costs_what_was_written),
		cmocka_unit_test(test_engine_remote_unsync_marks_exact_regions),
		cmocka_unit_test(test_engine_remote_refused_hello_said_once),
	};

	return cmocka_run_group_tests_name("engine_remote", tests, NULL, NULL);
}
