/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsondup: find a key repeated in one JSON object.
 *
 * json-c keeps the last value of a repeated key and drops the others
 * without a word, so a strict reader must look for repeats itself.  The
 * check costs one pass over the text and one over the parsed tree, which
 * hold as many keys unless a key repeats; only then are the objects
 * counted one by one, and the one found to hold a repeat has its keys
 * decoded and sorted, to name the key (escapes count: "a" and "\u0061"
 * are the same key).
 */
#ifndef TAPESTRY_JSONDUP_H
#define TAPESTRY_JSONDUP_H

#include <stddef.h>

struct json_object;

/* buf[0..len) must be the text json-c parsed into root, without error.
 * Returns 0 if no object repeats a key; 1 if one does, with *at the
 * offset in buf of the first repeat (its opening quote) and *key the key,
 * decoded, in a string the caller frees; -ENOMEM. */
int jsondup_find(const char *buf, size_t len, struct json_object *root,
		 size_t *at, char **key);

/* The number of keys in buf[0..len), a valid JSON text, counting each
 * repeat. */
size_t jsondup_text_keys(const char *buf, size_t len);

#endif /* TAPESTRY_JSONDUP_H */
