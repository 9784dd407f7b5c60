/* SPDX-License-Identifier: Apache-2.0 */
/*
 * place_io: file handling for the placer's commands.  Outputs are built in
 * memory and land whole or not at all: on stdout after success, or in a
 * file through a temporary sibling and rename(2).
 */
#ifndef TAPESTRY_PLACE_IO_H
#define TAPESTRY_PLACE_IO_H

#include <stddef.h>
#include <stdio.h>

/* Read a whole file ("-" is stdin) into a fresh buffer.  Returns 0, or
 * -errno (the buffer is then NULL). */
int place_io_read(const char *path, char **buf, size_t *len);

/* A memory stream to build an output in. */
struct place_io_out {
	FILE *f;
	char *buf;
	size_t len;
};

int place_io_open(struct place_io_out *o);
/* Close the stream and write what it holds to path (stdout when NULL),
 * atomically for files.  Returns 0 or -errno; frees the buffer. */
int place_io_commit(struct place_io_out *o, const char *path);
/* Drop the output unwritten; accepts a closed or never opened one. */
void place_io_discard(struct place_io_out *o);

#endif /* TAPESTRY_PLACE_IO_H */
