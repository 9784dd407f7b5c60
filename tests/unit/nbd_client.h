/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers for the NBD server's unit tests: a server on a fake engine
 * and a uloop in the test's own thread, and a raw-socket client that pumps
 * that loop while it waits, so one thread plays both sides.  Every c_*
 * call fails the running cmocka test on a protocol error or a timeout of
 * a few seconds.
 */
#ifndef TAPESTRY_TEST_NBD_CLIENT_H
#define TAPESTRY_TEST_NBD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_engine.h"
#include "nbd.h"

#define SIZE (16 << 20)		/* the fake export's default size */

struct t {
	struct uloop *loop;
	struct engine *e;
	struct nbd_server *s;
	char dir[64], sock[96], addr[112];
};

/* A server named "vol" on a unix socket in a fresh temp dir.  NULL
 * options take defaults (a SIZE-byte fake engine). */
struct t *setup(const struct uloop_opts *lo,
		const struct fake_engine_opts *eo,
		const struct nbd_opts *no);
void teardown(struct t *t);

/* One loop iteration (waits up to 1 ms). */
void pump(struct t *t);
/* Pump until cond(t) or a few seconds pass; returns cond(t). */
bool pump_until(struct t *t, bool (*cond)(struct t *t));
bool no_conns(struct t *t);
bool one_conn(struct t *t);

int c_connect(struct t *t);
void c_send(struct t *t, int fd, const void *p, size_t n);
/* Exactly n bytes; false on EOF or after a few seconds. */
bool c_recv(struct t *t, int fd, void *p, size_t n);
/* The server closed this connection (EOF or reset) in time. */
bool c_closed(struct t *t, int fd);
void c_opt(struct t *t, int fd, uint32_t opt, const void *d, uint32_t len);
/* One option reply: its type; its data into d (up to max). */
uint32_t c_rep(struct t *t, int fd, void *d, uint32_t max);
/* Connect and GO (asking for block sizes); *size gets the export size. */
int c_open(struct t *t, bool structured, uint64_t *size);
void c_req(struct t *t, int fd, uint16_t flags, uint16_t type,
	   uint64_t handle, uint64_t off, uint32_t len);
/* A simple reply: returns its error; its handle into *h. */
uint32_t c_simple(struct t *t, int fd, uint64_t *h);
void pattern(uint8_t *b, size_t n, unsigned int seed);

#endif /* TAPESTRY_TEST_NBD_CLIENT_H */
