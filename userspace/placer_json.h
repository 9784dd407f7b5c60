/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_json: the placer's files (topology, volumes, stats, placement,
 * plan) to and from the placer's structs.  docs/placement.md is the schema.
 *
 * Parsing is strict: unknown fields, wrong types, negative or oversized
 * numbers, empty or duplicate names are errors.  A message names the file
 * (the label the caller passes) and either a line and column (syntax) or
 * the path of the bad field, e.g.
 *   topology.json:3:17: unexpected character
 *   volumes.json: volumes[2].size_bytes: must not be negative (got -5)
 * Parsers never touch the file system; callers hand them the bytes.
 */
#ifndef TAPESTRY_PLACER_JSON_H
#define TAPESTRY_PLACER_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "placer.h"

/* Everything one parsed file owns: names, labels, arrays. */
struct placer_doc;

void placer_doc_free(struct placer_doc *d);

/* Each parser reads len bytes of buf, fills its own fields of *in (nodes;
 * volumes; node_stats and zone_stats; current) and leaves the rest alone.
 * On success it returns 0 and *doc, which owns what *in now points to.
 * On failure it returns -EINVAL with a message in err, or -ENOMEM; *doc is
 * NULL and *in is unchanged. */
int placer_json_topology(const char *label, const char *buf, size_t len,
			 struct placer_input *in, struct placer_doc **doc,
			 char *err, size_t errlen);
int placer_json_volumes(const char *label, const char *buf, size_t len,
			struct placer_input *in, struct placer_doc **doc,
			char *err, size_t errlen);
int placer_json_stats(const char *label, const char *buf, size_t len,
		      struct placer_input *in, struct placer_doc **doc,
		      char *err, size_t errlen);
int placer_json_placement(const char *label, const char *buf, size_t len,
			  struct placer_input *in, struct placer_doc **doc,
			  char *err, size_t errlen);

/* Writers.  Output is one record per line, deterministic.  They return 0,
 * or -EIO if the stream reports an error. */
int placer_json_write_placement(FILE *f, const struct placer_input *in,
				const struct placer_result *r);
int placer_json_write_plan(FILE *f, const struct placer_input *in,
			   const struct placer_result *r);
int placer_json_write_topology(FILE *f, const struct placer_input *in);
int placer_json_write_volumes(FILE *f, const struct placer_input *in);
int placer_json_write_stats(FILE *f, const struct placer_input *in);
/* A JSON string literal, quotes included. */
void placer_json_put_string(FILE *f, const char *s);

#endif /* TAPESTRY_PLACER_JSON_H */
