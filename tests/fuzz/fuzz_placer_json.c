/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the placer's JSON parsers.  The first byte picks
 * the parser; the rest is the file.  Whatever the bytes, a parser must
 * either succeed (and its document free cleanly) or fail with a message
 * and nothing allocated.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "placer_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int (*const parsers[])(const char *, const char *, size_t,
				      struct placer_input *,
				      struct placer_doc **, char *, size_t) = {
		placer_json_topology, placer_json_volumes, placer_json_stats,
		placer_json_placement,
	};
	struct placer_input in = { 0 };
	struct placer_doc *doc = NULL;
	char err[512];
	int rc;

	if (!size)
		return 0;
	rc = parsers[data[0] % 4]("fuzz.json", (const char *)data + 1,
				  size - 1, &in, &doc, err, sizeof(err));
	if (rc) {
		if (doc || !err[0])
			abort();
	} else if (!doc) {
		abort();
	}
	placer_doc_free(doc);
	return 0;
}
