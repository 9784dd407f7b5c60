/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the placer's JSON parsers.  The first byte picks
 * the parser; the rest is the file.  Whatever the bytes, a parser must
 * either succeed (and its document free cleanly) or fail with a message
 * and nothing allocated.  And for any valid JSON text, jsondup's fast key
 * count (64 bytes at a time) must equal a count made a byte at a time.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsondup.h"
#include "placer_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ':' outside strings, a byte at a time. */
static size_t ref_keys(const char *b, size_t len)
{
	size_t i, n = 0;
	int in = 0;

	for (i = 0; i < len; i++) {
		if (in && b[i] == '\\')
			i++;
		else if (b[i] == '"')
			in = !in;
		else if (!in && b[i] == ':')
			n++;
	}
	return n;
}

static void check_key_count(const char *b, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok || len > INT32_MAX)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, b, (int)len);
	if (o && json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) == len &&
	    jsondup_text_keys(b, len) != ref_keys(b, len))
		abort();
	json_object_put(o);
	json_tokener_free(tok);
}

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
	check_key_count((const char *)data + 1, size - 1);
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
