/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placer_json_write.c: the writing half of placer_json.  Output is one
 * record per line and depends only on its input, so equal runs give equal
 * bytes.
 */
#include "placer_json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>

/* Whether byte c is written as it is; names and labels are all such
 * bytes, written a run at a time rather than a stdio call each. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

void placer_json_put_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run;

	fputc('"', f);
	for (;;) {
		for (run = p; plain(*p); p++)
			;
		if (p > run)
			fwrite(run, 1, (size_t)(p - run), f);
		switch (*p) {
		case '\0':
			fputc('"', f);
			return;
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			fprintf(f, "\\u%04x", *p);
		}
		p++;
	}
}

static int finish(FILE *f)
{
	return ferror(f) ? -EIO : 0;
}

static void put_errors(FILE *f, const struct placer_input *in,
		       const struct placer_result *r)
{
	size_t i, k = 0;

	if (!r->nerrors)
		return;
	fputs(",\"errors\":[\n", f);
	for (i = 0; i < r->nvolumes; i++) {
		if (!r->vols[i].error)
			continue;
		fputs(k++ ? ",\n{\"volume\":" : "{\"volume\":", f);
		placer_json_put_string(f, in->volumes[i].name);
		fputs(",\"error\":", f);
		placer_json_put_string(f, r->vols[i].error);
		fputc('}', f);
	}
	fputs("\n]", f);
}

int placer_json_write_placement(FILE *f, const struct placer_input *in,
				const struct placer_result *r)
{
	size_t i, j, k = 0;

	fputs("{\"volumes\":[\n", f);
	for (i = 0; i < r->nvolumes; i++) {
		const struct placer_vol_result *v = &r->vols[i];

		if (!v->placed && !v->nlost)
			continue;
		fputs(k++ ? ",\n{\"name\":" : "{\"name\":", f);
		placer_json_put_string(f, in->volumes[i].name);
		fputs(",\"replicas\":[", f);
		for (j = 0; j < v->nreplicas; j++) {
			if (j)
				fputc(',', f);
			placer_json_put_string(f,
					       in->nodes[v->replicas[j]].name);
		}
		for (j = 0; j < v->nlost; j++) {
			if (j)
				fputc(',', f);
			placer_json_put_string(f, v->lost[j]);
		}
		fputc(']', f);
		if (v->fallback) {
			fputs(",\"fallback\":", f);
			placer_json_put_string(f, v->fallback);
		}
		fputc('}', f);
	}
	fputs(k ? "\n]" : "]", f);
	put_errors(f, in, r);
	fputs("}\n", f);
	return finish(f);
}

static const char *const action_names[] = {
	[PLACER_ADD] = "add",
	[PLACER_PROMOTE] = "promote",
	[PLACER_REMOVE] = "remove",
};

int placer_json_write_plan(FILE *f, const struct placer_input *in,
			   const struct placer_result *r)
{
	size_t i;

	fputs("{\"moves\":[", f);
	for (i = 0; i < r->nmoves; i++) {
		const struct placer_move *m = &r->moves[i];

		fputs(i ? ",\n{\"volume\":" : "\n{\"volume\":", f);
		placer_json_put_string(f, in->volumes[m->volume].name);
		fputs(",\"from\":", f);
		if (m->from)
			placer_json_put_string(f, m->from);
		else
			fputs("null", f);
		fputs(",\"to\":", f);
		placer_json_put_string(f, m->to);
		fprintf(f, ",\"bytes\":%" PRIu64 "}", m->bytes);
	}
	fprintf(f, "%s],\"moved_bytes\":%" PRIu64 ",\"steps\":[",
		r->nmoves ? "\n" : "", r->moved_bytes);
	for (i = 0; i < r->nsteps; i++) {
		const struct placer_step *s = &r->steps[i];

		fprintf(f, "%s{\"action\":\"%s\",\"volume\":", i ? ",\n" : "\n",
			action_names[s->action]);
		placer_json_put_string(f, in->volumes[s->volume].name);
		fputs(",\"node\":", f);
		placer_json_put_string(f, s->node);
		if (s->action == PLACER_ADD)
			fprintf(f, ",\"bytes\":%" PRIu64, s->bytes);
		fputc('}', f);
	}
	fputs(r->nsteps ? "\n]" : "]", f);
	put_errors(f, in, r);
	fputs("}\n", f);
	return finish(f);
}

int placer_json_write_topology(FILE *f, const struct placer_input *in)
{
	size_t i, j;

	fputs("{\"nodes\":[", f);
	for (i = 0; i < in->nnodes; i++) {
		const struct placer_node *n = &in->nodes[i];

		fputs(i ? ",\n{\"name\":" : "\n{\"name\":", f);
		placer_json_put_string(f, n->name);
		fputs(",\"labels\":{", f);
		for (j = 0; j < n->nlabels; j++) {
			if (j)
				fputc(',', f);
			placer_json_put_string(f, n->labels[j].key);
			fputc(':', f);
			placer_json_put_string(f, n->labels[j].value);
		}
		fprintf(f, "},\"capacity_bytes\":%" PRIu64 ",\"used_bytes\":%"
			PRIu64 ",\"schedulable\":%s}", n->capacity_bytes,
			n->used_bytes, n->schedulable ? "true" : "false");
	}
	fputs(in->nnodes ? "\n]}\n" : "]}\n", f);
	return finish(f);
}

int placer_json_write_volumes(FILE *f, const struct placer_input *in)
{
	size_t i;

	fputs("{\"volumes\":[", f);
	for (i = 0; i < in->nvolumes; i++) {
		const struct placer_volume *v = &in->volumes[i];

		fputs(i ? ",\n{\"name\":" : "\n{\"name\":", f);
		placer_json_put_string(f, v->name);
		fprintf(f, ",\"size_bytes\":%" PRIu64 ",\"replicas\":%u,"
			"\"spread\":\"%s\"", v->size_bytes, v->replicas,
			v->spread == PLACER_SPREAD_SOFT ? "soft" : "hard");
		if (v->spread_key) {
			fputs(",\"spread_key\":", f);
			placer_json_put_string(f, v->spread_key);
		}
		if (v->preferred_zone) {
			fputs(",\"preferred_zone\":", f);
			placer_json_put_string(f, v->preferred_zone);
		}
		fputc('}', f);
	}
	fputs(in->nvolumes ? "\n]}\n" : "]}\n", f);
	return finish(f);
}

int placer_json_write_stats(FILE *f, const struct placer_input *in)
{
	size_t i;

	fputs("{\"nodes\":[", f);
	for (i = 0; i < in->nnode_stats; i++) {
		const struct placer_node_stat *s = &in->node_stats[i];

		fputs(i ? ",\n{\"name\":" : "\n{\"name\":", f);
		placer_json_put_string(f, s->name);
		fprintf(f, ",\"p99_write_us\":%.17g,\"p50_write_us\":%.17g}",
			s->p99_write_us, s->p50_write_us);
	}
	fputs(in->nnode_stats ? "\n],\"zones\":[" : "],\"zones\":[", f);
	for (i = 0; i < in->nzone_stats; i++) {
		const struct placer_zone_stat *s = &in->zone_stats[i];

		fputs(i ? ",\n{\"zone\":" : "\n{\"zone\":", f);
		placer_json_put_string(f, s->zone);
		fprintf(f, ",\"p99_write_us\":%.17g}", s->p99_write_us);
	}
	fputs(in->nzone_stats ? "\n]}\n" : "]}\n", f);
	return finish(f);
}
