/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The placer's files: every kind of bad input is refused with an exact
 * message naming the file and the line and column or the field, and
 * nothing of a refused file is handed out; good files round-trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placer.h"
#include "placer_json.h"

typedef int (*parse_fn)(const char *label, const char *buf, size_t len,
			struct placer_input *in, struct placer_doc **doc,
			char *err, size_t errlen);

static void refused_len(parse_fn fn, const char *label, const char *text,
			size_t len, const char *msg)
{
	struct placer_input in = { .nnodes = 99 };
	struct placer_doc *doc = (struct placer_doc *)1;
	char err[512];

	assert_int_equal(fn(label, text, len, &in, &doc, err, sizeof(err)),
			 -EINVAL);
	assert_null(doc);
	assert_int_equal(in.nnodes, 99);	/* untouched */
	assert_null(in.nodes);
	assert_string_equal(err, msg);
}

static void refused(parse_fn fn, const char *label, const char *text,
		    const char *msg)
{
	refused_len(fn, label, text, strlen(text), msg);
}

static void test_placer_json_syntax_errors(void **state)
{
	(void)state;
	refused(placer_json_topology, "t.json",
		"{\n  \"nodes\": [\n    {\"name\": \"n1\",, }\n  ]\n}\n",
		"t.json:3:19: quoted object property name expected");
	refused(placer_json_topology, "t.json", "{\"nodes\":[",
		"t.json:1:11: unexpected end of input");
	refused(placer_json_topology, "t.json", "",
		"t.json:1:1: unexpected end of input");
	refused(placer_json_volumes, "v.json", "{\"volumes\":[]}\n}",
		"v.json:2:1: unexpected character");
	refused_len(placer_json_volumes, "v.json", "{\"volumes\":[]}\n\0x",
		    17, "v.json:2:1: unexpected data after the document");
	refused(placer_json_volumes, "v.json", "{\"volumes\":[],}",
		"v.json:1:15: unexpected character");
	refused(placer_json_stats, "s.json", "{\n\"nodes\":[{\"name\":\"a\","
		"\"p99_write_us\":tru}]}", "s.json:2:40: boolean expected");
	refused(placer_json_placement, "p.json", "[]",
		"p.json: top level must be an object");
	/* JSON text is UTF-8: a stray byte in a name would be written back
	 * into placements that strict readers refuse or rewrite (jq turns
	 * it into U+FFFD, so the names no longer match). */
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n\xff" "1\",\"capacity_bytes\":1}]}",
		"t.json:1:21: invalid utf-8 string");
}

static void test_placer_json_unknown_and_missing(void **state)
{
	(void)state;
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n1\",\"capcity_bytes\":5}]}",
		"t.json: nodes[0]: unknown field \"capcity_bytes\"");
	refused(placer_json_topology, "t.json", "{\"nodes\":[],\"extra\":1}",
		"t.json: unknown field \"extra\"");
	refused(placer_json_topology, "t.json", "{}",
		"t.json: missing field \"nodes\"");
	refused(placer_json_topology, "t.json", "{\"nodes\":[{\"name\":\"n\"}]}",
		"t.json: nodes[0]: missing field \"capacity_bytes\"");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"v\",\"size_bytes\":1}]}",
		"v.json: volumes[0]: missing field \"replicas\"");
	refused(placer_json_stats, "s.json", "{\"zones\":[{\"zone\":\"a\"}]}",
		"s.json: zones[0]: missing field \"p99_write_us\"");
	refused(placer_json_placement, "p.json",
		"{\"volumes\":[{\"name\":\"v\",\"replicas\":[],\"x\":1}]}",
		"p.json: volumes[0]: unknown field \"x\"");
}

static void test_placer_json_bad_values(void **state)
{
	(void)state;
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"a\",\"size_bytes\":1,\"replicas\":3},"
		"{\"name\":\"b\",\"size_bytes\":-5,\"replicas\":3}]}",
		"v.json: volumes[1].size_bytes: must not be negative (got -5)");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"a\",\"size_bytes\":0,\"replicas\":3}]}",
		"v.json: volumes[0].size_bytes: must be positive");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"a\",\"size_bytes\":\"10\","
		"\"replicas\":3}]}",
		"v.json: volumes[0].size_bytes: must be an integer");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"a\",\"size_bytes\":1.5,"
		"\"replicas\":3}]}",
		"v.json: volumes[0].size_bytes: must be an integer");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"a\",\"size_bytes\":1,\"replicas\":0}]}",
		"v.json: volumes[0].replicas: must be 1 to 16 (got 0)");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"a\",\"size_bytes\":1,\"replicas\":3,"
		"\"spread\":\"medium\"}]}",
		"v.json: volumes[0].spread: must be \"hard\" or \"soft\" "
		"(got \"medium\")");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"\",\"size_bytes\":1,\"replicas\":3}]}",
		"v.json: volumes[0].name: must not be empty");
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n\",\"capacity_bytes\":-1}]}",
		"t.json: nodes[0].capacity_bytes: must not be negative "
		"(got -1)");
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n\",\"capacity_bytes\":"
		"99999999999999999999}]}",
		"t.json: nodes[0].capacity_bytes: must be at most "
		"4611686018427387904");
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n\",\"capacity_bytes\":1,"
		"\"labels\":{\"zone\":7}}]}",
		"t.json: nodes[0].labels.zone: must be a string");
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n\",\"capacity_bytes\":1,"
		"\"schedulable\":\"yes\"}]}",
		"t.json: nodes[0].schedulable: must be true or false");
	refused(placer_json_stats, "s.json",
		"{\"nodes\":[{\"name\":\"n\",\"p99_write_us\":-3}]}",
		"s.json: nodes[0].p99_write_us: must not be negative");
	refused(placer_json_stats, "s.json",
		"{\"nodes\":[{\"name\":\"n\",\"p99_write_us\":NaN}]}",
		"s.json: nodes[0].p99_write_us: must be a finite number");
	refused(placer_json_placement, "p.json",
		"{\"volumes\":[{\"name\":\"v\",\"replicas\":[\"a\",3]}]}",
		"p.json: volumes[0].replicas[1]: must be a string");
}

/* json-c keeps object keys as C strings, so a key with an escaped NUL
 * arrived cut short: "name\u0000x" was taken for "name", and a label key
 * "topology.kubernetes.io/zone\u0000x" for the zone label.  NUL is refused
 * wherever it is, keys included, with where it is. */
static void test_placer_json_nul_refused(void **state)
{
	(void)state;
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\\u0000x\":\"n1\",\"capacity_bytes\":1}]}",
		"t.json:1:17: \\u0000 (NUL) is not allowed");
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[\n{\"name\":\"n1\",\"capacity_bytes\":1,\"labels\":"
		"{\"topology.kubernetes.io/zone\\u0000x\":\"a\"}}]}",
		"t.json:2:71: \\u0000 (NUL) is not allowed");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"a\\u0000\",\"size_bytes\":1,"
		"\"replicas\":1}]}",
		"v.json:1:23: \\u0000 (NUL) is not allowed");
	/* An escaped backslash followed by "u0000" is no NUL. */
	{
		const char *ok = "{\"volumes\":[{\"name\":\"a\\\\u0000\","
				 "\"size_bytes\":1,\"replicas\":1}]}";
		struct placer_input in = { .nnodes = 0 };
		struct placer_doc *doc = NULL;
		char err[256];

		assert_int_equal(placer_json_volumes("v", ok, strlen(ok), &in,
						     &doc, err, sizeof(err)), 0);
		assert_string_equal(in.volumes[0].name, "a\\u0000");
		placer_doc_free(doc);
	}
}

/* null is a value of the wrong type, not an absent field: "used_bytes":
 * null must not become 0 (room that is not there), nor "schedulable":
 * null a schedulable node. */
static void test_placer_json_null_values(void **state)
{
	(void)state;
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n\",\"capacity_bytes\":100,"
		"\"used_bytes\":null}]}",
		"t.json: nodes[0].used_bytes: must not be null");
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n\",\"capacity_bytes\":100,"
		"\"schedulable\":null}]}",
		"t.json: nodes[0].schedulable: must not be null");
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n\",\"capacity_bytes\":null}]}",
		"t.json: nodes[0].capacity_bytes: must not be null");
	refused(placer_json_topology, "t.json", "{\"nodes\":null}",
		"t.json: nodes: must not be null");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"v\",\"size_bytes\":1,\"replicas\":2,"
		"\"spread\":null}]}",
		"v.json: volumes[0].spread: must not be null");
	refused(placer_json_stats, "s.json",
		"{\"nodes\":[{\"name\":\"n\",\"p99_write_us\":1,"
		"\"p50_write_us\":null}]}",
		"s.json: nodes[0].p50_write_us: must not be null");
	refused(placer_json_placement, "p.json",
		"{\"volumes\":[],\"errors\":null}",
		"p.json: errors: must not be null");
}

static void test_placer_json_duplicates(void **state)
{
	(void)state;
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n1\",\"capacity_bytes\":1},"
		"{\"name\":\"n2\",\"capacity_bytes\":1},"
		"{\"name\":\"n1\",\"capacity_bytes\":1}]}",
		"t.json: nodes[2].name: duplicate node name \"n1\" (also "
		"nodes[0])");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[{\"name\":\"v\",\"size_bytes\":1,\"replicas\":1},"
		"{\"name\":\"v\",\"size_bytes\":1,\"replicas\":1}]}",
		"v.json: volumes[1].name: duplicate volume name \"v\" (also "
		"volumes[0])");
	refused(placer_json_stats, "s.json",
		"{\"zones\":[{\"zone\":\"a\",\"p99_write_us\":1},"
		"{\"zone\":\"a\",\"p99_write_us\":2}]}",
		"s.json: zones[1].zone: duplicate zone \"a\" (also zones[0])");
	refused(placer_json_placement, "p.json",
		"{\"volumes\":[{\"name\":\"v\",\"replicas\":[\"a\",\"b\",\"a\"]}]}",
		"p.json: volumes[0].replicas[2]: node \"a\" listed twice");
	refused(placer_json_placement, "p.json",
		"{\"volumes\":[{\"name\":\"v\",\"replicas\":[]},"
		"{\"name\":\"v\",\"replicas\":[]}]}",
		"p.json: volumes[1].name: duplicate volume \"v\" (also "
		"volumes[0])");
}

/* The field path in a message: an empty label key, and one so long that
 * the path is cut to 159 bytes. */
static void test_placer_json_long_path(void **state)
{
	char text[512], key[201], msg[512];

	(void)state;
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n1\",\"capacity_bytes\":1,"
		"\"labels\":{\"\":1}}]}",
		"t.json: nodes[0].labels.: must be a string");
	memset(key, 'k', 200);
	key[200] = '\0';
	snprintf(text, sizeof(text), "{\"nodes\":[{\"name\":\"n1\","
		 "\"capacity_bytes\":1,\"labels\":{\"%s\":1}}]}", key);
	snprintf(msg, sizeof(msg), "t.json: nodes[0].labels.%.*s: must be a "
		 "string", 159 - (int)strlen("nodes[0].labels."), key);
	refused(placer_json_topology, "t.json", text, msg);
}

/* json-c keeps the last value of a repeated key and drops the others
 * without a word: a node's capacity or zone label given twice took the
 * second silently.  A repeated key is refused where it repeats, also when
 * escapes spell it differently, at any depth. */
static void test_placer_json_duplicate_keys(void **state)
{
	(void)state;
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n1\",\"capacity_bytes\":1000,"
		"\"capacity_bytes\":5}]}",
		"t.json:1:46: duplicate key \"capacity_bytes\"");
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n1\",\"capacity_bytes\":1,"
		"\"labels\":{\"z\":\"a\",\"z\":\"b\"}}]}",
		"t.json:1:61: duplicate key \"z\"");
	refused(placer_json_volumes, "v.json",
		"{\"volumes\":[],\n \"volumes\":[]}",
		"v.json:2:2: duplicate key \"volumes\"");
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[],\"n\\u006fdes\":[]}",
		"t.json:1:13: duplicate key \"nodes\"");
	refused(placer_json_stats, "s.json",
		"{\"zones\":[{\"zone\":\"a\",\"p99_write_us\":1,"
		"\"p99_write_us\":2}]}",
		"s.json:1:40: duplicate key \"p99_write_us\"");
	refused(placer_json_placement, "p.json",
		"{\"volumes\":[{\"name\":\"v\",\"replicas\":[\"a\"],"
		"\"name\":\"w\"}]}",
		"p.json:1:42: duplicate key \"name\"");
	/* A character outside the BMP, raw and as a surrogate pair. */
	refused(placer_json_topology, "t.json",
		"{\"nodes\":[{\"name\":\"n1\",\"capacity_bytes\":1,"
		"\"labels\":{\"k\xf0\x9f\x98\x80\":\"a\","
		"\"k\\ud83d\\ude00\":\"b\"}}]}",
		"t.json:1:65: duplicate key \"k\xf0\x9f\x98\x80\"");
}

/* The key count reads the text 64 bytes at a time: a repeat, colons and
 * escaped quotes inside strings, and escapes that straddle two blocks,
 * at every offset within a block. */
static void test_placer_json_duplicate_keys_any_offset(void **state)
{
	struct placer_input in;
	struct placer_doc *doc;
	char text[512], msg[128], err[512];
	const char *second;
	size_t pad;
	int i;

	(void)state;
	for (pad = 0; pad < 64; pad++)
		for (i = 0; i < 2; i++) {
			snprintf(text, sizeof(text),
				 "{\"nodes\":[{\"name\":\"n1\",\"capacity_bytes\":1,"
				 "\"labels\":{\"a\":\"%*s\\\":x\\\\\",\"b:\":\"\\\\:\\\"\"}},"
				 "{\"name\":\"n2\",\"capacity_bytes\":1,"
				 "\"labels\":{\"c\":\"1\",\"%s\":\"2\"}}]}",
				 (int)pad, "", i ? "c" : "d");
			if (!i) {
				memset(&in, 0, sizeof(in));
				assert_int_equal(placer_json_topology("t.json",
					text, strlen(text), &in, &doc, err,
					sizeof(err)), 0);
				assert_int_equal(in.nnodes, 2);
				placer_doc_free(doc);
				continue;
			}
			second = strstr(text, "\"c\":\"2\"");
			snprintf(msg, sizeof(msg),
				 "t.json:1:%zu: duplicate key \"c\"",
				 (size_t)(second - text) + 1);
			refused(placer_json_topology, "t.json", text, msg);
		}
}

/* Plain bytes go out a run at a time, the rest escaped one by one; runs
 * end at each escape and at the end of the string. */
static void test_placer_json_put_string_escapes(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	placer_json_put_string(f, "");
	placer_json_put_string(f, "plain");
	placer_json_put_string(f, "\"a\"b\\\\c\nd\te\x01" "f\x1f\x7f\xc3\xa9");
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "\"\"\"plain\""
			    "\"\\\"a\\\"b\\\\\\\\c\\nd\\te\\u0001f\\u001f"
			    "\x7f\xc3\xa9\"");
	free(buf);
}

static const char topo[] =
	"{\"nodes\":[\n"
	"{\"name\":\"n1\",\"labels\":{\"topology.kubernetes.io/zone\":\"a\"},"
	"\"capacity_bytes\":1000,\"used_bytes\":10},\n"
	"{\"name\":\"n2\",\"labels\":{\"topology.kubernetes.io/zone\":\"b\"},"
	"\"capacity_bytes\":1000,\"schedulable\":false},\n"
	"{\"name\":\"n3\",\"labels\":{\"topology.kubernetes.io/zone\":\"c\"},"
	"\"capacity_bytes\":1000},\n"
	"{\"name\":\"n4\",\"labels\":{\"topology.kubernetes.io/zone\":\"b\"},"
	"\"capacity_bytes\":1000}\n]}\n";

static const char vols[] =
	"{\"volumes\":[\n"
	"{\"name\":\"v1\",\"size_bytes\":100,\"replicas\":3,"
	"\"preferred_zone\":\"c\"},\n"
	"{\"name\":\"v\\\"2\",\"size_bytes\":50,\"replicas\":2,"
	"\"spread\":\"soft\",\"spread_key\":\"topology.kubernetes.io/zone\"},\n"
	"{\"name\":\"big\",\"size_bytes\":5000,\"replicas\":2}\n]}\n";

static char *capture(int (*w)(FILE *, const struct placer_input *,
			      const struct placer_result *),
		     const struct placer_input *in,
		     const struct placer_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(w(f, in, r), 0);
	fclose(f);
	return buf;
}

/* Parse, place, write, parse the placement back, replan: no moves, and
 * the same bytes out. */
static void test_placer_json_round_trip(void **state)
{
	struct placer_doc *dt, *dv, *dp;
	struct placer_result *r, *r2;
	struct placer_input in = { 0 };
	char err[256], *out, *out2, *plan;

	(void)state;
	assert_int_equal(placer_json_topology("t", topo, strlen(topo), &in,
					      &dt, err, sizeof(err)), 0);
	assert_int_equal(placer_json_volumes("v", vols, strlen(vols), &in,
					     &dv, err, sizeof(err)), 0);
	assert_int_equal(in.nnodes, 4);
	assert_int_equal(in.nodes[0].used_bytes, 10);
	assert_false(in.nodes[1].schedulable);
	assert_string_equal(in.volumes[1].name, "v\"2");
	assert_int_equal(in.volumes[1].spread, PLACER_SPREAD_SOFT);
	assert_int_equal(placer_run(&in, NULL, &r, err, sizeof(err)), 0);
	out = capture(placer_json_write_placement, &in, r);
	assert_string_equal(out,
		"{\"volumes\":[\n"
		"{\"name\":\"v1\",\"replicas\":[\"n3\",\"n4\",\"n1\"]},\n"
		"{\"name\":\"v\\\"2\",\"replicas\":[\"n4\",\"n3\"]}\n"
		"],\"errors\":[\n"
		"{\"volume\":\"big\",\"error\":\"no room for replica 1 of 2 "
		"(5000 bytes) under hard spread on "
		"\\\"topology.kubernetes.io/zone\\\"\"}\n"
		"]}\n");
	assert_int_equal(placer_json_placement("p", out, strlen(out), &in,
					       &dp, err, sizeof(err)), 0);
	assert_int_equal(in.ncurrent, 2);
	assert_int_equal(placer_run(&in, NULL, &r2, err, sizeof(err)), 0);
	out2 = capture(placer_json_write_placement, &in, r2);
	assert_string_equal(out, out2);
	plan = capture(placer_json_write_plan, &in, r2);
	assert_string_equal(plan, "{\"moves\":[],\"moved_bytes\":0,"
		"\"steps\":[],\"errors\":[\n"
		"{\"volume\":\"big\",\"error\":\"no room for replica 1 of 2 "
		"(5000 bytes) under hard spread on "
		"\\\"topology.kubernetes.io/zone\\\"\"}\n]}\n");
	free(out);
	free(out2);
	free(plan);
	placer_result_free(r);
	placer_result_free(r2);
	placer_doc_free(dt);
	placer_doc_free(dv);
	placer_doc_free(dp);
}

/* The input writers produce what the parsers read back. */
static void test_placer_json_writers_parse_back(void **state)
{
	struct placer_input in = { 0 }, back = { 0 };
	struct placer_node_stat ns = { "n1", 1234.5, 100 };
	struct placer_zone_stat zs = { "a", 99 };
	struct placer_doc *d1, *d2, *d3, *d4, *d5;
	char err[256], *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(placer_json_topology("t", topo, strlen(topo), &in,
					      &d1, err, sizeof(err)), 0);
	assert_int_equal(placer_json_volumes("v", vols, strlen(vols), &in,
					     &d2, err, sizeof(err)), 0);
	in.node_stats = &ns;
	in.nnode_stats = 1;
	in.zone_stats = &zs;
	in.nzone_stats = 1;
	f = open_memstream(&buf, &len);
	assert_int_equal(placer_json_write_topology(f, &in), 0);
	fclose(f);
	assert_int_equal(placer_json_topology("t2", buf, len, &back, &d3, err,
					      sizeof(err)), 0);
	assert_int_equal(back.nnodes, 4);
	assert_string_equal(back.nodes[3].labels[0].value, "b");
	free(buf);
	f = open_memstream(&buf, &len);
	assert_int_equal(placer_json_write_volumes(f, &in), 0);
	fclose(f);
	assert_int_equal(placer_json_volumes("v2", buf, len, &back, &d4, err,
					     sizeof(err)), 0);
	assert_string_equal(back.volumes[0].preferred_zone, "c");
	free(buf);
	f = open_memstream(&buf, &len);
	assert_int_equal(placer_json_write_stats(f, &in), 0);
	fclose(f);
	assert_int_equal(placer_json_stats("s2", buf, len, &back, &d5, err,
					   sizeof(err)), 0);
	assert_true(back.node_stats[0].p99_write_us == 1234.5);
	assert_true(back.zone_stats[0].p99_write_us == 99);
	free(buf);
	placer_doc_free(d1);
	placer_doc_free(d2);
	placer_doc_free(d3);
	placer_doc_free(d4);
	placer_doc_free(d5);
	placer_doc_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_placer_json_syntax_errors),
		cmocka_unit_test(test_placer_json_unknown_and_missing),
		cmocka_unit_test(test_placer_json_bad_values),
		cmocka_unit_test(test_placer_json_nul_refused),
		cmocka_unit_test(test_placer_json_null_values),
		cmocka_unit_test(test_placer_json_duplicates),
		cmocka_unit_test(test_placer_json_long_path),
		cmocka_unit_test(test_placer_json_duplicate_keys),
		cmocka_unit_test(test_placer_json_duplicate_keys_any_offset),
		cmocka_unit_test(test_placer_json_put_string_escapes),
		cmocka_unit_test(test_placer_json_round_trip),
		cmocka_unit_test(test_placer_json_writers_parse_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
