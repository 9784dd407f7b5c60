/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_json.c: the parsing half of placer_json (writers are in
 * placer_json_write.c).  json-c's strict tokener finds syntax errors and
 * where they are; the typed accessors below find everything else and say
 * which field.
 */
#include "placer_json.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsondup.h"

/* --- the document: an arena of everything one file yields -------------- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct placer_doc {
	struct chunk *chunks;
};

void placer_doc_free(struct placer_doc *d)
{
	struct chunk *c, *next;

	if (!d)
		return;
	for (c = d->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(d);
}

#define CHUNK_SIZE (64 * 1024)

/* Zeroed, aligned memory that lives as long as the document. */
static void *doc_alloc(struct placer_doc *d, size_t size)
{
	size_t need = (size + sizeof(max_align_t) - 1) &
		      ~(sizeof(max_align_t) - 1);
	struct chunk *c = d->chunks;
	void *p;

	if (!c || c->cap - c->used < need) {
		size_t cap = need > CHUNK_SIZE ? need : CHUNK_SIZE;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		if (need > CHUNK_SIZE && d->chunks) {
			/* A big array gets its own chunk, behind the current
			 * one, so the current one keeps serving strings. */
			c->next = d->chunks->next;
			d->chunks->next = c;
		} else {
			c->next = d->chunks;
			d->chunks = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += need;
	memset(p, 0, size);
	return p;
}

static const char *doc_strdup(struct placer_doc *d, const char *s, size_t len)
{
	char *p = doc_alloc(d, len + 1);

	if (p)
		memcpy(p, s, len);
	return p;
}

/* --- parse context and messages ---------------------------------------- */

/* One step of the path to the value being read: a field, or an element
 * name[idx].  The steps become text ("nodes[3].labels.zone") only when a
 * message is written: a file of 100000 volumes read without a fault
 * formatted a million paths no one saw. */
struct jstep {
	const char *name;	/* borrowed: a literal or a key of the tree */
	size_t idx;		/* NO_IDX for a field */
};

#define NO_IDX SIZE_MAX
#define PATH_STEPS 4	/* nodes[i].labels.<key> is the deepest */
#define PATH_TEXT 160	/* longer paths are cut to PATH_TEXT - 1 bytes */

struct jctx {
	const char *label;
	char *err;
	size_t errlen;
	struct placer_doc *doc;
	struct jstep path[PATH_STEPS];
	size_t depth;
};

/* The path as text: the steps joined by '.', from the first non-empty
 * one (an empty field name at the top adds no '.'), cut to size - 1. */
static void path_text(const struct jctx *c, char *out, size_t size)
{
	size_t i, n = 0;
	int w;

	out[0] = '\0';
	for (i = 0; i < c->depth && n + 1 < size; i++) {
		if (c->path[i].idx == NO_IDX)
			w = snprintf(out + n, size - n, "%s%s", n ? "." : "",
				     c->path[i].name);
		else
			w = snprintf(out + n, size - n, "%s%s[%zu]",
				     n ? "." : "", c->path[i].name,
				     c->path[i].idx);
		if (w < 0)
			break;
		n += (size_t)w < size - n ? (size_t)w : size - n - 1;
	}
}

static int jfail(struct jctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "<label>: <path>: <message>" (no path at the top level). */
static int jfail(struct jctx *c, const char *fmt, ...)
{
	char path[PATH_TEXT];
	va_list ap;
	int n;

	if (!c->err || !c->errlen)
		return -EINVAL;
	path_text(c, path, sizeof(path));
	n = snprintf(c->err, c->errlen, "%s: %s%s", c->label, path,
		     path[0] ? ": " : "");
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* The path becomes name[idx], then field f if not NULL. */
static void set_path(struct jctx *c, const char *name, size_t idx,
		     const char *f)
{
	c->path[0] = (struct jstep){ name, idx };
	c->depth = 1;
	if (f)
		c->path[c->depth++] = (struct jstep){ f, NO_IDX };
}

/* Line and column (1-based, in bytes) of offset off in buf. */
static void line_col(const char *buf, size_t off, size_t *line, size_t *col)
{
	size_t i, start = 0;

	*line = 1;
	for (i = 0; i < off; i++)
		if (buf[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	*col = off - start + 1;
}

static int syntax(struct jctx *c, const char *buf, size_t off,
		  const char *what)
{
	size_t line, col;

	line_col(buf, off, &line, &col);
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s:%zu:%zu: %s", c->label, line,
			 col, what);
	return -EINVAL;
}

/* Offset of the first escaped NUL ("\u0000") in a parsed document, or
 * len.  json-c keeps object keys as C strings, so "name\u0000x" would
 * arrive as "name": NUL is refused everywhere, values too.  Backslashes
 * occur only in strings of a valid document, each starting one escape. */
static size_t find_nul(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\\')
			continue;
		if (buf[i + 1] == 'u' && i + 5 < len &&
		    !memcmp(buf + i + 2, "0000", 4))
			return i;
		i++;	/* the escaped character */
	}
	return len;
}

/* json-c keeps the last value of a repeated key and drops the others:
 * "capacity_bytes": 1000, "capacity_bytes": 5 would be taken as 5. */
static int no_repeated_key(struct jctx *c, const char *buf, size_t len,
			   struct json_object *root)
{
	char what[128], *key;
	size_t at;
	int rc = jsondup_find(buf, len, root, &at, &key);

	if (rc <= 0)
		return rc;
	snprintf(what, sizeof(what), "duplicate key \"%s\"", key ? key : "");
	free(key);
	return syntax(c, buf, at, what);
}

static int parse_root(struct jctx *c, const char *buf, size_t len,
		      struct json_object **root)
{
	struct json_tokener *tok;
	enum json_tokener_error e;
	size_t end;
	int rc = 0;

	*root = NULL;
	if (len > INT32_MAX)
		return jfail(c, "file too large");
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	/* JSON text is UTF-8; a stray byte would be written back out. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				    JSON_TOKENER_VALIDATE_UTF8);
	*root = json_tokener_parse_ex(tok, buf, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (e == json_tokener_continue || (!*root && e == json_tokener_success))
		rc = syntax(c, buf, len, "unexpected end of input");
	else if (e != json_tokener_success)
		rc = syntax(c, buf, end, json_tokener_error_desc(e));
	else {
		for (; end < len; end++)
			if (buf[end] != ' ' && buf[end] != '\t' &&
			    buf[end] != '\r' && buf[end] != '\n') {
				rc = syntax(c, buf, end, "unexpected data "
					    "after the document");
				break;
			}
		end = find_nul(buf, len);
		if (!rc && end < len)
			rc = syntax(c, buf, end, "\\u0000 (NUL) is not allowed");
		if (!rc)
			rc = no_repeated_key(c, buf, len, *root);
	}
	json_tokener_free(tok);
	if (rc) {
		json_object_put(*root);
		*root = NULL;
	}
	return rc;
}

/* --- typed field access -------------------------------------------------- */

/* Reject fields not in the NULL-terminated list allowed. */
static int only_fields(struct jctx *c, struct json_object *o,
		       const char *const *allowed)
{
	const char *const *a;

	json_object_object_foreach(o, key, val) {
		(void)val;
		for (a = allowed; *a && strcmp(*a, key); a++)
			;
		if (!*a)
			return jfail(c, "unknown field \"%s\"", key);
	}
	return 0;
}

/* Add step name[idx] (idx NO_IDX: field name) to the path; *saved is
 * what pop_path() takes to remove it. */
static void push_step(struct jctx *c, const char *name, size_t idx,
		      size_t *saved)
{
	*saved = c->depth;
	if (c->depth < PATH_STEPS)
		c->path[c->depth++] = (struct jstep){ name, idx };
}

static void push_path(struct jctx *c, const char *f, size_t *saved)
{
	push_step(c, f, NO_IDX, saved);
}

static void pop_path(struct jctx *c, size_t saved)
{
	c->depth = saved;
}

/* Field f of o, or NULL; with must, a missing field is an error.  A null
 * value is refused: no field takes one, and taking it for "absent" would
 * turn e.g. "used_bytes": null into 0 bytes used. */
static int field(struct jctx *c, struct json_object *o, const char *f,
		 bool must, struct json_object **out)
{
	size_t saved;
	int rc;

	if (!json_object_object_get_ex(o, f, out)) {
		*out = NULL;
		return must ? jfail(c, "missing field \"%s\"", f) : 0;
	}
	if (!*out) {
		push_path(c, f, &saved);
		rc = jfail(c, "must not be null");
		pop_path(c, saved);
		return rc;
	}
	return 0;
}

/* The string at step name[idx] (idx NO_IDX: field name), copied into the
 * document. */
static int get_string_at(struct jctx *c, struct json_object *v,
			 const char *name, size_t idx, bool nonempty,
			 const char **out)
{
	size_t saved;
	int rc = 0;

	push_step(c, name, idx, &saved);
	if (!json_object_is_type(v, json_type_string)) {
		rc = jfail(c, "must be a string");
	} else {
		const char *s = json_object_get_string(v);
		size_t len = (size_t)json_object_get_string_len(v);

		if (strlen(s) != len)
			rc = jfail(c, "must not contain NUL");
		else if (nonempty && !len)
			rc = jfail(c, "must not be empty");
		else if (!(*out = doc_strdup(c->doc, s, len)))
			rc = -ENOMEM;
	}
	pop_path(c, saved);
	return rc;
}

static int get_string(struct jctx *c, struct json_object *v, const char *f,
		      bool nonempty, const char **out)
{
	return get_string_at(c, v, f, NO_IDX, nonempty, out);
}

/* A byte count: an integer in [min, PLACER_MAX_BYTES]. */
static int get_bytes(struct jctx *c, struct json_object *v, const char *f,
		     uint64_t min, uint64_t *out)
{
	size_t saved;
	int64_t x;
	int rc = 0;

	push_path(c, f, &saved);
	if (!json_object_is_type(v, json_type_int)) {
		rc = jfail(c, "must be an integer");
		goto out;
	}
	x = json_object_get_int64(v);
	if (x < 0)
		rc = jfail(c, "must not be negative (got %" PRId64 ")", x);
	else if ((uint64_t)x < min)
		rc = jfail(c, "must be positive");
	else if ((uint64_t)x > PLACER_MAX_BYTES)
		rc = jfail(c, "must be at most %llu",
			   (unsigned long long)PLACER_MAX_BYTES);
	else
		*out = (uint64_t)x;
out:
	pop_path(c, saved);
	return rc;
}

static int get_latency(struct jctx *c, struct json_object *v, const char *f,
		       double *out)
{
	size_t saved;
	int rc = 0;

	push_path(c, f, &saved);
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		rc = jfail(c, "must be a number");
	else if (!isfinite(*out = json_object_get_double(v)))
		rc = jfail(c, "must be a finite number");
	else if (*out < 0)
		rc = jfail(c, "must not be negative");
	pop_path(c, saved);
	return rc;
}

static int get_array(struct jctx *c, struct json_object *o, const char *f,
		     bool must, struct json_object **arr, size_t *n)
{
	size_t saved;
	int rc;

	*n = 0;
	rc = field(c, o, f, must, arr);
	if (rc || !*arr)
		return rc;
	if (!json_object_is_type(*arr, json_type_array)) {
		push_path(c, f, &saved);
		rc = jfail(c, "must be an array");
		pop_path(c, saved);
		return rc;
	}
	*n = json_object_array_length(*arr);
	return 0;
}

/* The element i of array name: must be an object; sets the path. */
static int element(struct jctx *c, struct json_object *arr, const char *name,
		   size_t i, struct json_object **o)
{
	set_path(c, name, i, NULL);
	*o = json_object_array_get_idx(arr, i);
	if (!json_object_is_type(*o, json_type_object))
		return jfail(c, "must be an object");
	return 0;
}

/* --- duplicates ---------------------------------------------------------- */

struct named {
	const char *name;
	size_t idx;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Report the first repeated name, in file order: "<arr>[j].<f>: duplicate
 * <what> "x" (also <arr>[i])". */
static int no_dups(struct jctx *c, const char *arr, const char *f,
		   const char *what, const char *(*name_at)(const void *,
							    size_t),
		   const void *base, size_t n)
{
	struct named *v;
	size_t i, first = 0, second = SIZE_MAX;

	if (n < 2)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		v[i] = (struct named){ name_at(base, i), i };
	qsort(v, n, sizeof(*v), cmp_named);
	for (i = 1; i < n; i++)
		if (!strcmp(v[i - 1].name, v[i].name) && v[i].idx < second) {
			second = v[i].idx;
			first = v[i - 1].idx;
			while (i + 1 < n && !strcmp(v[i].name, v[i + 1].name))
				i++;
		}
	free(v);
	if (second == SIZE_MAX)
		return 0;
	set_path(c, arr, second, f);
	return jfail(c, "duplicate %s \"%s\" (also %s[%zu])", what,
		     name_at(base, second), arr, first);
}

static const char *node_name_at(const void *b, size_t i)
{
	return ((const struct placer_node *)b)[i].name;
}

static const char *vol_name_at(const void *b, size_t i)
{
	return ((const struct placer_volume *)b)[i].name;
}

static const char *nstat_name_at(const void *b, size_t i)
{
	return ((const struct placer_node_stat *)b)[i].name;
}

static const char *zstat_name_at(const void *b, size_t i)
{
	return ((const struct placer_zone_stat *)b)[i].zone;
}

static const char *assign_name_at(const void *b, size_t i)
{
	return ((const struct placer_assignment *)b)[i].volume;
}

/* --- files --------------------------------------------------------------- */

typedef int (*parse_fn)(struct jctx *c, struct json_object *root,
			struct placer_input *out);

static int parse_file(const char *label, const char *buf, size_t len,
		      parse_fn fn, struct placer_input *in,
		      struct placer_doc **doc, char *err, size_t errlen)
{
	struct jctx c = { .label = label, .err = err, .errlen = errlen };
	struct placer_input tmp = *in;
	struct json_object *root;
	int rc;

	*doc = NULL;
	if (err && errlen)
		err[0] = '\0';
	c.doc = calloc(1, sizeof(*c.doc));
	if (!c.doc)
		return -ENOMEM;
	rc = parse_root(&c, buf, len, &root);
	if (!rc && !json_object_is_type(root, json_type_object))
		rc = jfail(&c, "top level must be an object");
	if (!rc)
		rc = fn(&c, root, &tmp);
	json_object_put(root);
	if (rc) {
		if (rc == -ENOMEM && err && errlen)
			snprintf(err, errlen, "%s: out of memory", label);
		placer_doc_free(c.doc);
		return rc;
	}
	*in = tmp;
	*doc = c.doc;
	return 0;
}

static int parse_labels(struct jctx *c, struct json_object *o,
			struct placer_node *n)
{
	struct placer_label *l;
	size_t i = 0, saved;
	int rc;

	if (!json_object_is_type(o, json_type_object)) {
		push_path(c, "labels", &saved);
		return jfail(c, "must be an object");
	}
	n->nlabels = (size_t)json_object_object_length(o);
	l = doc_alloc(c->doc, (n->nlabels ? n->nlabels : 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	push_path(c, "labels", &saved);
	json_object_object_foreach(o, key, val) {
		l[i].key = doc_strdup(c->doc, key, strlen(key));
		if (!l[i].key)
			return -ENOMEM;
		rc = get_string(c, val, key, false, &l[i].value);
		if (rc)
			return rc;
		i++;
	}
	pop_path(c, saved);
	n->labels = l;
	return 0;
}

static int parse_node(struct jctx *c, struct json_object *o,
		      struct placer_node *n)
{
	static const char *const allowed[] = { "name", "labels",
		"capacity_bytes", "used_bytes", "schedulable", NULL };
	struct json_object *v;
	int rc;

	n->schedulable = true;
	if ((rc = only_fields(c, o, allowed)) ||
	    (rc = field(c, o, "name", true, &v)) ||
	    (rc = get_string(c, v, "name", true, &n->name)) ||
	    (rc = field(c, o, "capacity_bytes", true, &v)) ||
	    (rc = get_bytes(c, v, "capacity_bytes", 0, &n->capacity_bytes)))
		return rc;
	if ((rc = field(c, o, "used_bytes", false, &v)) ||
	    (v && (rc = get_bytes(c, v, "used_bytes", 0, &n->used_bytes))))
		return rc;
	if ((rc = field(c, o, "labels", false, &v)) ||
	    (v && (rc = parse_labels(c, v, n))))
		return rc;
	if ((rc = field(c, o, "schedulable", false, &v)))
		return rc;
	if (v) {
		if (!json_object_is_type(v, json_type_boolean)) {
			size_t saved;

			push_path(c, "schedulable", &saved);
			return jfail(c, "must be true or false");
		}
		n->schedulable = json_object_get_boolean(v);
	}
	return 0;
}

static int topology_fn(struct jctx *c, struct json_object *root,
		       struct placer_input *out)
{
	static const char *const allowed[] = { "nodes", NULL };
	struct json_object *arr, *o;
	struct placer_node *nodes;
	size_t n, i;
	int rc;

	if ((rc = only_fields(c, root, allowed)) ||
	    (rc = get_array(c, root, "nodes", true, &arr, &n)))
		return rc;
	nodes = doc_alloc(c->doc, (n ? n : 1) * sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if ((rc = element(c, arr, "nodes", i, &o)) ||
		    (rc = parse_node(c, o, &nodes[i])))
			return rc;
	rc = no_dups(c, "nodes", "name", "node name", node_name_at, nodes, n);
	if (rc)
		return rc;
	out->nodes = nodes;
	out->nnodes = n;
	return 0;
}

int placer_json_topology(const char *label, const char *buf, size_t len,
			 struct placer_input *in, struct placer_doc **doc,
			 char *err, size_t errlen)
{
	return parse_file(label, buf, len, topology_fn, in, doc, err, errlen);
}

static int parse_spread(struct jctx *c, struct json_object *v,
			struct placer_volume *vol)
{
	const char *s = NULL;
	size_t saved;
	int rc;

	rc = get_string(c, v, "spread", false, &s);
	if (rc)
		return rc;
	if (!strcmp(s, "hard")) {
		vol->spread = PLACER_SPREAD_HARD;
	} else if (!strcmp(s, "soft")) {
		vol->spread = PLACER_SPREAD_SOFT;
	} else {
		push_path(c, "spread", &saved);
		return jfail(c, "must be \"hard\" or \"soft\" (got \"%s\")", s);
	}
	return 0;
}

static int parse_replicas(struct jctx *c, struct json_object *v,
			  struct placer_volume *vol)
{
	size_t saved;
	int64_t r;

	push_path(c, "replicas", &saved);
	if (!json_object_is_type(v, json_type_int))
		return jfail(c, "must be an integer");
	r = json_object_get_int64(v);
	if (r < 1 || r > PLACER_MAX_REPLICAS)
		return jfail(c, "must be 1 to %d (got %" PRId64 ")",
			     PLACER_MAX_REPLICAS, r);
	pop_path(c, saved);
	vol->replicas = (unsigned int)r;
	return 0;
}

static int parse_volume(struct jctx *c, struct json_object *o,
			struct placer_volume *vol)
{
	static const char *const allowed[] = { "name", "size_bytes",
		"replicas", "spread", "spread_key", "preferred_zone", NULL };
	struct json_object *v;
	int rc;

	vol->spread = PLACER_SPREAD_HARD;
	if ((rc = only_fields(c, o, allowed)) ||
	    (rc = field(c, o, "name", true, &v)) ||
	    (rc = get_string(c, v, "name", true, &vol->name)) ||
	    (rc = field(c, o, "size_bytes", true, &v)) ||
	    (rc = get_bytes(c, v, "size_bytes", 1, &vol->size_bytes)) ||
	    (rc = field(c, o, "replicas", true, &v)) ||
	    (rc = parse_replicas(c, v, vol)))
		return rc;
	if ((rc = field(c, o, "spread", false, &v)) ||
	    (v && (rc = parse_spread(c, v, vol))))
		return rc;
	if ((rc = field(c, o, "spread_key", false, &v)) ||
	    (v && (rc = get_string(c, v, "spread_key", true,
				   &vol->spread_key))))
		return rc;
	if ((rc = field(c, o, "preferred_zone", false, &v)) ||
	    (v && (rc = get_string(c, v, "preferred_zone", true,
				   &vol->preferred_zone))))
		return rc;
	return 0;
}

static int volumes_fn(struct jctx *c, struct json_object *root,
		      struct placer_input *out)
{
	static const char *const allowed[] = { "volumes", NULL };
	struct placer_volume *vols;
	struct json_object *arr, *o;
	size_t n, i;
	int rc;

	if ((rc = only_fields(c, root, allowed)) ||
	    (rc = get_array(c, root, "volumes", true, &arr, &n)))
		return rc;
	vols = doc_alloc(c->doc, (n ? n : 1) * sizeof(*vols));
	if (!vols)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if ((rc = element(c, arr, "volumes", i, &o)) ||
		    (rc = parse_volume(c, o, &vols[i])))
			return rc;
	rc = no_dups(c, "volumes", "name", "volume name", vol_name_at, vols, n);
	if (rc)
		return rc;
	out->volumes = vols;
	out->nvolumes = n;
	return 0;
}

int placer_json_volumes(const char *label, const char *buf, size_t len,
			struct placer_input *in, struct placer_doc **doc,
			char *err, size_t errlen)
{
	return parse_file(label, buf, len, volumes_fn, in, doc, err, errlen);
}

static int parse_nstat(struct jctx *c, struct json_object *o,
		       struct placer_node_stat *s)
{
	static const char *const allowed[] = { "name", "p99_write_us",
					       "p50_write_us", NULL };
	struct json_object *v;
	int rc;

	if ((rc = only_fields(c, o, allowed)) ||
	    (rc = field(c, o, "name", true, &v)) ||
	    (rc = get_string(c, v, "name", true, &s->name)) ||
	    (rc = field(c, o, "p99_write_us", true, &v)) ||
	    (rc = get_latency(c, v, "p99_write_us", &s->p99_write_us)) ||
	    (rc = field(c, o, "p50_write_us", false, &v)) ||
	    (v && (rc = get_latency(c, v, "p50_write_us", &s->p50_write_us))))
		return rc;
	return 0;
}

static int parse_zstat(struct jctx *c, struct json_object *o,
		       struct placer_zone_stat *s)
{
	static const char *const allowed[] = { "zone", "p99_write_us", NULL };
	struct json_object *v;
	int rc;

	if ((rc = only_fields(c, o, allowed)) ||
	    (rc = field(c, o, "zone", true, &v)) ||
	    (rc = get_string(c, v, "zone", true, &s->zone)) ||
	    (rc = field(c, o, "p99_write_us", true, &v)) ||
	    (rc = get_latency(c, v, "p99_write_us", &s->p99_write_us)))
		return rc;
	return 0;
}

static int stats_fn(struct jctx *c, struct json_object *root,
		    struct placer_input *out)
{
	static const char *const allowed[] = { "nodes", "zones", NULL };
	struct placer_node_stat *ns;
	struct placer_zone_stat *zs;
	struct json_object *na, *za, *o;
	size_t nn, nz, i;
	int rc;

	if ((rc = only_fields(c, root, allowed)) ||
	    (rc = get_array(c, root, "nodes", false, &na, &nn)) ||
	    (rc = get_array(c, root, "zones", false, &za, &nz)))
		return rc;
	ns = doc_alloc(c->doc, (nn ? nn : 1) * sizeof(*ns));
	zs = doc_alloc(c->doc, (nz ? nz : 1) * sizeof(*zs));
	if (!ns || !zs)
		return -ENOMEM;
	for (i = 0; i < nn; i++)
		if ((rc = element(c, na, "nodes", i, &o)) ||
		    (rc = parse_nstat(c, o, &ns[i])))
			return rc;
	for (i = 0; i < nz; i++)
		if ((rc = element(c, za, "zones", i, &o)) ||
		    (rc = parse_zstat(c, o, &zs[i])))
			return rc;
	if ((rc = no_dups(c, "nodes", "name", "node", nstat_name_at, ns, nn)) ||
	    (rc = no_dups(c, "zones", "zone", "zone", zstat_name_at, zs, nz)))
		return rc;
	out->node_stats = ns;
	out->nnode_stats = nn;
	out->zone_stats = zs;
	out->nzone_stats = nz;
	return 0;
}

int placer_json_stats(const char *label, const char *buf, size_t len,
		      struct placer_input *in, struct placer_doc **doc,
		      char *err, size_t errlen)
{
	return parse_file(label, buf, len, stats_fn, in, doc, err, errlen);
}

static int parse_assignment(struct jctx *c, struct json_object *o,
			    size_t vi, struct placer_assignment *a)
{
	static const char *const allowed[] = { "name", "replicas", "fallback",
					       NULL };
	struct json_object *arr, *v;
	const char **names, *fallback;
	size_t n, i, j, saved;
	int rc;

	if ((rc = only_fields(c, o, allowed)) ||
	    (rc = field(c, o, "name", true, &v)) ||
	    (rc = get_string(c, v, "name", true, &a->volume)) ||
	    (rc = get_array(c, o, "replicas", true, &arr, &n)))
		return rc;
	/* fallback is what place wrote about the volume: checked, unused. */
	if ((rc = field(c, o, "fallback", false, &v)) ||
	    (v && (rc = get_string(c, v, "fallback", false, &fallback))))
		return rc;
	if (n > PLACER_MAX_REPLICAS) {
		set_path(c, "volumes", vi, "replicas");
		return jfail(c, "at most %d replicas", PLACER_MAX_REPLICAS);
	}
	names = doc_alloc(c->doc, (n ? n : 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		rc = get_string_at(c, json_object_array_get_idx(arr, i),
				   "replicas", i, true, &names[i]);
		if (rc)
			return rc;
		for (j = 0; j < i; j++)
			if (!strcmp(names[j], names[i])) {
				set_path(c, "volumes", vi, NULL);
				push_step(c, "replicas", i, &saved);
				return jfail(c, "node \"%s\" listed twice",
					     names[i]);
			}
	}
	a->replicas = names;
	a->nreplicas = n;
	return 0;
}

static int placement_fn(struct jctx *c, struct json_object *root,
			struct placer_input *out)
{
	static const char *const allowed[] = { "volumes", "errors", NULL };
	struct placer_assignment *as;
	struct json_object *arr, *o;
	size_t n, i, ne;
	int rc;

	if ((rc = only_fields(c, root, allowed)) ||
	    (rc = get_array(c, root, "errors", false, &arr, &ne)) ||
	    (rc = get_array(c, root, "volumes", true, &arr, &n)))
		return rc;
	as = doc_alloc(c->doc, (n ? n : 1) * sizeof(*as));
	if (!as)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if ((rc = element(c, arr, "volumes", i, &o)) ||
		    (rc = parse_assignment(c, o, i, &as[i])))
			return rc;
	rc = no_dups(c, "volumes", "name", "volume", assign_name_at, as, n);
	if (rc)
		return rc;
	out->current = as;
	out->ncurrent = n;
	return 0;
}

int placer_json_placement(const char *label, const char *buf, size_t len,
			  struct placer_input *in, struct placer_doc **doc,
			  char *err, size_t errlen)
{
	return parse_file(label, buf, len, placement_fn, in, doc, err, errlen);
}
