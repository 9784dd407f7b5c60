/* SPDX-License-Identifier: Apache-2.0 */
/*
 * place_io: file handling for the placer's commands.  Outputs are built in
 * memory and land whole or not at all: on stdout after success, or in a
 * file through a temporary sibling and rename(2).  A symlink is followed
 * to its file; a path that exists and is neither a regular file nor a
 * directory (a device, a FIFO, /dev/stdout on a terminal or pipe) is
 * written in place, since renaming over it would replace it.
 */
#ifndef TAPESTRY_PLACE_IO_H
#define TAPESTRY_PLACE_IO_H

#include <stdbool.h>
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
	char *tmp;		/* staged file, until published or discarded */
	char *real;		/* path with its symlink followed, or NULL */
	const char *path;	/* where the output goes */
	bool direct;		/* path is written in place at publish */
};

int place_io_open(struct place_io_out *o);
/* Close the stream and write what it holds to path (stdout when NULL),
 * atomically for files.  Returns 0 or -errno; frees the buffer. */
int place_io_commit(struct place_io_out *o, const char *path);
/* The first half of committing to a file: close the stream and write its
 * bytes, fsynced, to a temporary sibling of path (of the file it links
 * to); path is not touched.  For a path written in place, only keep the
 * bytes.  Returns 0 or -errno (then nothing is left behind). */
int place_io_stage(struct place_io_out *o, const char *path);
/* The second half: rename the staged file over its path, or write the
 * bytes to a path written in place.  Returns 0 or -errno; the staged
 * file is gone either way. */
int place_io_publish(struct place_io_out *o);
/* Drop the output unwritten, staged file included; accepts a closed,
 * published or never opened (zeroed) one. */
void place_io_discard(struct place_io_out *o);

#endif /* TAPESTRY_PLACE_IO_H */
