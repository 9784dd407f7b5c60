/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tapestry zone: the node's zone registry from the shell, for scripts and
 * operators (engines use the zonetrace_* API directly).
 *
 *   tapestry zone register NAME        print NAME's id, registering it
 *   tapestry zone peer ADDR NAME       attribute RTT to ADDR to zone NAME
 *   tapestry zone unpeer ADDR
 *   tapestry zone list
 * each with --json for a JSON result on stdout.
 */
#include "commands.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bpfsys.h"
#include "cliopt.h"
#include "log.h"
#include "report.h"
#include "zonetrace.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: tapestry zone register NAME [--json] [--pin-root DIR]\n"
"       tapestry zone peer ADDR NAME [--json] [--pin-root DIR]\n"
"       tapestry zone unpeer ADDR [--json] [--pin-root DIR]\n"
"       tapestry zone list [--json] [--pin-root DIR]\n"
"\n"
"The node's zone registry: availability-zone names and the small ids that\n"
"replica requests carry in io_uring user_data, stable on this node; and\n"
"the replica-server addresses (IPv4:PORT or [IPv6]:PORT) whose TCP\n"
"round-trip time counts for each zone; an address peered N times (by\n"
"volumes sharing a replica server) is forgotten at the Nth unpeer.\n"
"\n"
"register prints the zone's id; --json prints one object instead:\n"
"  register  {\"zone\", \"zone_id\", \"pin_root\"}\n"
"  peer      {\"peer\", \"zone\", \"zone_id\", \"registrations\", \"pin_root\"}\n"
"  unpeer    the same, \"registrations\" left (0: the address is forgotten)\n"
"  list      [{\"zone\", \"zone_id\"}, ...]\n"
"\"registrations\" is the count right after this command.  On an error\n"
"nothing is printed on stdout.\n"
"Default pin root %s.\n"
"Needs CAP_BPF.\n", BPFSYS_PIN_ROOT);
}

static int list(const char *root, bool json)
{
	struct json_object *arr = NULL, *o;
	char name[ZONE_NAME_LEN];
	unsigned int id;
	int fd, err = 0;

	/* -ENOENT: no registry (no zones); a pin root off bpffs is a
	 * mistake, not an empty registry. */
	fd = zonetrace_names_open(root);
	if (fd < 0 && fd != -ENOENT)
		return fd;
	if (json && !(arr = json_object_new_array())) {
		err = -ENOMEM;
		goto out;
	}
	for (id = ZONE_ID_MIN; id <= ZONE_ID_MAX && fd >= 0 && !err; id++) {
		err = zonetrace_names_get(fd, id, name, sizeof(name));
		if (err == -ENOENT) {	/* no such id */
			err = 0;
			continue;
		}
		if (err)
			break;
		if (!json) {
			printf("%3u %s\n", id, name);
			continue;
		}
		o = json_object_new_object();
		err = o ? 0 : -ENOMEM;
		err = err ?: hist_json_add(o, "zone", json_object_new_string(name));
		err = err ?: hist_json_add(o, "zone_id", json_object_new_int((int)id));
		if (!err && json_object_array_add(arr, o))
			err = -ENOMEM;
		if (err)
			json_object_put(o);
	}
	if (json && !err)
		err = report_json_print(stdout, arr);
	json_object_put(arr);
out:
	if (fd >= 0)
		close(fd);
	return err;
}

static int bad(const char *why, const char *arg)
{
	fprintf(stderr, "tapestry zone: %s%s%s\n\n", why, arg ? " " : "",
		arg ? arg : "");
	usage(stderr);
	return EXIT_USAGE;
}

/* The usage error for verb with the wrong number of arguments, or for a
 * verb that does not exist. */
static int bad_args(const char *verb)
{
	static const char *const verbs[][2] = {
		{ "register", "one argument, NAME" },
		{ "peer", "two arguments, ADDR NAME" },
		{ "unpeer", "one argument, ADDR" },
		{ "list", "no arguments" },
	};
	char why[96];
	unsigned int i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verb, verbs[i][0]))
			continue;
		snprintf(why, sizeof(why), "%s takes %s", verb, verbs[i][1]);
		return bad(why, NULL);
	}
	snprintf(why, sizeof(why), "unknown action '%s'", verb);
	return bad(why, NULL);
}

/* Print what register, peer or unpeer did as one JSON object: zone and
 * its id, peer (NULL for register) and, for a peer, its registrations
 * now.  0 or -errno. */
static int print_result(const char *root, const char *zone, unsigned int id,
			const char *peer, unsigned int refs)
{
	struct json_object *o = json_object_new_object();
	int err = o ? 0 : -ENOMEM;

	if (peer)
		err = err ?: hist_json_add(o, "peer",
					   json_object_new_string(peer));
	err = err ?: hist_json_add(o, "zone", json_object_new_string(zone));
	err = err ?: hist_json_add(o, "zone_id",
				   json_object_new_int((int)id));
	if (peer)
		err = err ?: hist_json_add(o, "registrations",
					   json_object_new_int((int)refs));
	err = err ?: hist_json_add(o, "pin_root",
				   json_object_new_string(root));
	err = err ?: report_json_print(stdout, o);
	json_object_put(o);
	return err;
}

/* Peer and unpeer with their JSON result.  The registrations are read
 * right after the change (another process may change them at any time). */
static int peer(const char *root, const char *addr, const char *zone,
		bool json)
{
	unsigned int id, refs;
	int err;

	err = zonetrace_zone_lookup(root, zone, &id);
	err = err ?: zonetrace_peer_register(root, addr, id);
	if (err || !json)
		return err;
	if (zonetrace_peer_lookup(root, addr, &(unsigned int){ 0 }, &refs))
		refs = 0;	/* unpeered meanwhile */
	return print_result(root, zone, id, addr, refs);
}

static int unpeer(const char *root, const char *addr, bool json)
{
	char zone[ZONE_NAME_LEN];
	unsigned int id, refs;
	int err;

	/* Its zone, for the result: after the last unpeer it is gone. */
	if (json) {
		err = zonetrace_peer_lookup(root, addr, &id, &refs);
		err = err ?: zonetrace_zone_name(root, id, zone, sizeof(zone));
		if (err)
			return err;
	}
	err = zonetrace_peer_unregister(root, addr);
	if (err || !json)
		return err;
	if (zonetrace_peer_lookup(root, addr, &(unsigned int){ 0 }, &refs))
		refs = 0;
	return print_result(root, zone, id, addr, refs);
}

static int run(const char *verb, char **args, int nargs, const char *root,
	       bool json)
{
	const char *what = nargs ? args[nargs - 1] : "";
	unsigned int id;
	int err;

	if (!strcmp(verb, "register") && nargs == 1) {
		err = zonetrace_zone_register(root, args[0], &id);
		if (!err && json)
			err = print_result(root, args[0], id, NULL, 0);
		else if (!err)
			printf("%u\n", id);
	} else if (!strcmp(verb, "peer") && nargs == 2) {
		err = peer(root, args[0], args[1], json);
	} else if (!strcmp(verb, "unpeer") && nargs == 1) {
		err = unpeer(root, args[0], json);
	} else if (!strcmp(verb, "list") && nargs == 0) {
		err = list(root, json);
	} else {
		return bad_args(verb);
	}
	if (err == -EINVAL)
		log_err("zone %s: invalid zone name (1..63 of A-Z a-z 0-9 . _ -) "
			"or address (IPv4:PORT, [IPv6]:PORT)", verb);
	else if (err == -ENOENT)
		log_err("zone %s: '%s' is not registered", verb, what);
	else if (err == -EXDEV || err == -ENOTDIR)
		log_err("zone %s: %s is not %s; --pin-root must be a directory "
			"on a BPF filesystem (bpffs)", verb, root,
			err == -EXDEV ? "on a BPF filesystem (bpffs)" :
			"a directory");
	else if (err)
		log_err("zone %s: %s", verb, strerror(-err));
	return err ? 1 : 0;
}

int cmd_zone(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-root", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = BPFSYS_PIN_ROOT;
	bool json = false;
	char err[128];
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			if (optarg[0] != '/')
				return bad("--pin-root must be absolute:", optarg);
			root = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:	/* ':' (no value) or '?' */
			cliopt_bad_option(c, argv, err, sizeof(err));
			return bad(err, NULL);
		}
	}
	if (optind >= argc)
		return bad("which action?", NULL);
	if (bpfsys_require_caps("zone", BPFSYS_READ_MAPS))
		return 1;
	return run(argv[optind], argv + optind + 1, argc - optind - 1, root,
		   json);
}
