/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsondup.c: the text says how many keys each object has; json-c's tree
 * says how many it kept.  A document with no repeat has as many keys in
 * the tree as in the text, and that sum is all the common case needs:
 * one pass over the text and one over the tree.  Only when the sums
 * differ are the keys counted per object.  The objects are met in the
 * same order both ways (json-c keeps keys in insertion order), so the
 * first object whose counts differ is the first to repeat a key.
 */
#include "jsondup.h"

#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* json-c refuses documents nested deeper than 32; room to spare. */
#define MAX_DEPTH 64
#define NONE SIZE_MAX

/* Index just past the string whose opening quote is at i.  The text is
 * valid JSON, so every backslash starts a two-character escape or \u. */
static size_t skip_string(const char *b, size_t len, size_t i)
{
	for (i++; i < len && b[i] != '"'; i++)
		if (b[i] == '\\')
			i++;
	return i + 1;
}

/* Keys in b[0..len) from state *in (inside a string) and *esc (the next
 * character is escaped), one character at a time: esc is set only inside
 * a string, on an unescaped backslash. */
static size_t keys_slow(const unsigned char *b, size_t len,
			unsigned int *in, unsigned int *esc)
{
	unsigned int c, e;
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		c = b[i];
		n += (c == ':') & !*in;
		e = *in & !*esc & (c == '\\');
		*in ^= (c == '"') & !*esc;
		*esc = e;
	}
	return n;
}

#define ONES 0x0101010101010101ull
#define LOW7 0x7f7f7f7f7f7f7f7full

/* One bit per byte of the word w (first byte lowest) that equals c. */
static unsigned int eq_bits(uint64_t w, unsigned char c)
{
	uint64_t t = w ^ (ONES * c);

	t = ~(((t & LOW7) + LOW7) | t | LOW7);	/* 0x80 where t's byte is 0 */
	return (unsigned int)((t >> 7) * 0x0102040810204080ull >> 56);
}

/* One ':' outside strings per key, in a valid document.  64 bytes at a
 * time: which colons lie inside strings is the running parity of the
 * quotes before them.  A block with a backslash, or one that starts
 * escaped, goes a character at a time. */
size_t jsondup_text_keys(const char *buf, size_t len)
{
	const unsigned char *b = (const unsigned char *)buf;
	unsigned int in = 0, esc = 0, k;
	uint64_t w, q, col, bs, inside;
	size_t i, n = 0;

	for (i = 0; i + 64 <= len; i += 64) {
		q = col = bs = 0;
		for (k = 0; k < 8; k++) {
			memcpy(&w, b + i + 8 * k, 8);
			w = le64toh(w);
			q |= (uint64_t)eq_bits(w, '"') << 8 * k;
			col |= (uint64_t)eq_bits(w, ':') << 8 * k;
			bs |= (uint64_t)eq_bits(w, '\\') << 8 * k;
		}
		if (bs || esc) {
			n += keys_slow(b + i, 64, &in, &esc);
			continue;
		}
		inside = q;
		inside ^= inside << 1;
		inside ^= inside << 2;
		inside ^= inside << 4;
		inside ^= inside << 8;
		inside ^= inside << 16;
		inside ^= inside << 32;
		if (in)
			inside = ~inside;
		n += (size_t)__builtin_popcountll(col & ~inside);
		in ^= (unsigned int)__builtin_popcountll(q) & 1;
	}
	return n + keys_slow(b + i, len - i, &in, &esc);
}

static size_t tree_keys(struct json_object *o);

/* Keys kept in v, which may be NULL (a JSON null): json-c's calls, one
 * per value, are most of the walk, so leaves take only the type's. */
static size_t value_keys(struct json_object *v)
{
	enum json_type t = json_object_get_type(v);

	return t == json_type_object || t == json_type_array ?
	       tree_keys(v) : 0;
}

/* Keys json-c kept, in all objects under the object or array o. */
static size_t tree_keys(struct json_object *o)
{
	struct array_list *a = json_object_get_array(o);
	struct lh_entry *e;
	size_t i, k = 0;

	if (a) {
		for (i = 0; i < a->length; i++)
			k += value_keys(a->array[i]);
		return k;
	}
	for (e = json_object_get_object(o)->head; e; e = e->next, k++)
		k += value_keys((struct json_object *)lh_entry_v(e));
	return k;
}

struct scan {
	size_t *count;		/* keys per object, in order of '{' */
	size_t *at;		/* offset of each object's '{' */
	size_t n;
};

/* One pass: count the objects (count == NULL) or fill in their keys. */
static bool scan_pass(const char *b, size_t len, struct scan *s)
{
	bool obj[MAX_DEPTH], want_key[MAX_DEPTH];
	size_t idx[MAX_DEPTH], i, d = 0;

	s->n = 0;
	for (i = 0; i < len; i++) {
		switch (b[i]) {
		case '"':
			if (d && obj[d - 1] && want_key[d - 1]) {
				if (s->count)
					s->count[idx[d - 1]]++;
				want_key[d - 1] = false;
			}
			i = skip_string(b, len, i) - 1;
			break;
		case '{':
		case '[':
			if (d == MAX_DEPTH)
				return false;
			obj[d] = want_key[d] = b[i] == '{';
			if (obj[d]) {
				if (s->count) {
					s->count[s->n] = 0;
					s->at[s->n] = i;
				}
				idx[d] = s->n++;
			}
			d++;
			break;
		case '}':
		case ']':
			d -= d > 0;
			break;
		case ',':
			if (d && obj[d - 1])
				want_key[d - 1] = true;
			break;
		}
	}
	return true;
}

/* Index of the first object (in scan order) whose kept keys differ from
 * its keys in the text, or NONE. */
static size_t walk(struct json_object *o, const struct scan *s, size_t *next)
{
	size_t me, r, i, n;

	switch (json_object_get_type(o)) {
	case json_type_object:
		me = (*next)++;
		if (me >= s->n ||
		    (size_t)json_object_object_length(o) != s->count[me])
			return me;
		json_object_object_foreach(o, key, val) {
			(void)key;
			r = walk(val, s, next);
			if (r != NONE)
				return r;
		}
		return NONE;
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			r = walk(json_object_array_get_idx(o, i), s, next);
			if (r != NONE)
				return r;
		}
		return NONE;
	default:
		return NONE;
	}
}

static unsigned int hex4(const char *p)
{
	unsigned int v = 0, i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v = v << 4 | (unsigned int)(c <= '9' ? c - '0' :
					    (c | 0x20) - 'a' + 10);
	}
	return v;
}

static size_t put_utf8(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The string whose opening quote is at b[i], decoded into a fresh
 * string (no longer than its text); NULL on ENOMEM. */
static char *decode(const char *b, size_t len, size_t i)
{
	size_t end = skip_string(b, len, i) - 1, n = 0;
	char *o = malloc(end - i), c;
	unsigned int cp, lo;

	if (!o)
		return NULL;
	for (i++; i < end; i++) {
		if (b[i] != '\\') {
			o[n++] = b[i];
			continue;
		}
		c = b[++i];
		if (c != 'u') {
			o[n++] = c == 'b' ? '\b' : c == 'f' ? '\f' :
				 c == 'n' ? '\n' : c == 'r' ? '\r' :
				 c == 't' ? '\t' : c;
			continue;
		}
		cp = hex4(b + i + 1);
		i += 4;
		if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < end &&
		    b[i + 1] == '\\' && b[i + 2] == 'u' &&
		    (lo = hex4(b + i + 3)) >= 0xdc00 && lo < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i += 6;
		}
		n += put_utf8(o + n, cp);
	}
	o[n] = '\0';
	return o;
}

struct key {
	char *s;
	size_t at;
};

static int cmp_key(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = strcmp(x->s, y->s);

	return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* The keys of the object whose '{' is at b[i] (its own, not its
 * children's), decoded; nk of them. */
static struct key *object_keys(const char *b, size_t len, size_t i,
			       size_t nk)
{
	struct key *k = calloc(nk ? nk : 1, sizeof(*k));
	size_t n = 0, d = 0;
	bool want = true;

	if (!k)
		return NULL;
	for (; i < len && n < nk; i++) {
		switch (b[i]) {
		case '"':
			if (d == 1 && want) {
				k[n].at = i;
				k[n].s = decode(b, len, i);
				if (!k[n++].s)
					goto fail;
				want = false;
			}
			i = skip_string(b, len, i) - 1;
			break;
		case '{':
		case '[':
			d++;
			break;
		case '}':
		case ']':
			d--;
			break;
		case ',':
			want |= d == 1;
			break;
		}
	}
	return k;
fail:
	while (n--)
		free(k[n].s);
	free(k);
	return NULL;
}

/* In the object at s->at[o], the repeat that comes first in the text. */
static int name_repeat(const char *b, size_t len, const struct scan *s,
		       size_t o, size_t *at, char **key)
{
	size_t nk = s->count[o], i, best = NONE;
	struct key *k = object_keys(b, len, s->at[o], nk);

	if (!k)
		return -ENOMEM;
	qsort(k, nk, sizeof(*k), cmp_key);
	for (i = 1; i < nk; i++)
		if (!strcmp(k[i - 1].s, k[i].s) &&
		    (best == NONE || k[i].at < k[best].at))
			best = i;
	if (best == NONE) {	/* cannot be: json-c kept fewer */
		best = 0;
		*at = s->at[o];
	} else {
		*at = k[best].at;
	}
	*key = k[best].s;
	k[best].s = NULL;
	for (i = 0; i < nk; i++)
		free(k[i].s);
	free(k);
	return 1;
}

int jsondup_find(const char *buf, size_t len, struct json_object *root,
		 size_t *at, char **key)
{
	struct scan s = { NULL, NULL, 0 };
	size_t next = 0, bad;
	int rc = 0;

	*key = NULL;
	if (jsondup_text_keys(buf, len) == value_keys(root))
		return 0;
	if (!scan_pass(buf, len, &s) || !s.n)
		return 0;	/* deeper than json-c takes, or no object */
	s.count = malloc(s.n * sizeof(*s.count));
	s.at = malloc(s.n * sizeof(*s.at));
	if (!s.count || !s.at) {
		rc = -ENOMEM;
		goto out;
	}
	scan_pass(buf, len, &s);
	bad = walk(root, &s, &next);
	if (bad != NONE)
		rc = name_repeat(buf, len, &s, bad, at, key);
out:
	free(s.count);
	free(s.at);
	return rc;
}
