/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zonetrace: per-zone replica-request latency and TCP RTT (loader and
 * reader of bpf/zonetrace.bpf.c), and the node's zone registry.
 *
 * ---- The zone registry: what the engine and its callers use ----
 *
 * A zone's id goes into every replica SQE's user_data (udata.h) and is
 * how the BPF side tells zones apart; the registry maps it to the zone's
 * name, so reports can name zones, and keeps it stable on the node: the
 * same name always gets the same id, in any process, across restarts of
 * tapestryd and of engines, for as long as the node's bpffs holds the
 * registry.  Typical use, before creating an engine:
 *
 *	unsigned int id;
 *	err = zonetrace_zone_register(NULL, "us-east-1b", &id);
 *	ro->zone = "us-east-1b";
 *	ro->zone_id = id;			// struct engine_replica_opts
 *	err = zonetrace_peer_register(NULL, "10.0.2.7:7000", id); // remote
 *
 * All registry calls take pin_root (NULL = BPFSYS_PIN_ROOT) and need
 * CAP_BPF.  Those that register create the registry maps when they are
 * missing (mounting bpffs on /sys/fs/bpf first if it is not, which needs
 * CAP_SYS_ADMIN; -EXDEV if pin_root is not on bpffs).  All are safe
 * against other processes calling them at the same time, and return 0 or
 * -errno and log nothing.
 *
 * ---- The tracer ----
 *
 * zonetrace_load() attaches the programs in this process (tapestryd, or
 * `tapestry report zones` when no daemon runs); zonetrace_pin() shares
 * the statistics maps; zonetrace_open_pinned() reads a daemon's.
 */
#ifndef TAPESTRY_ZONETRACE_H
#define TAPESTRY_ZONETRACE_H

#include <stddef.h>
#include <stdint.h>

#include "abi/zonetrace.h"
#include "bpfsys.h"

struct zonetrace;
struct zonesnap;

#define ZONETRACE_MAP_STATS	"zone_stats"
#define ZONETRACE_MAP_RTT	"zone_rtt"
#define ZONETRACE_MAP_COUNTERS	"zone_counters"
#define ZONETRACE_MAP_NAMES	"zone_names"
#define ZONETRACE_MAP_IDS	"zone_ids"
#define ZONETRACE_MAP_PEERS	"zone_peers"
#define ZONETRACE_MAP_PEER_REFS	"zone_peer_refs"
/* A directory beside the registry maps whose flock serialises creating,
 * adding to and removing the registry; it goes with the registry.  (No
 * ".lock": bpffs refuses dots in names.) */
#define ZONETRACE_REGISTRY_LOCK	"zone_registry_lock"

/* Whether name is a valid zone name: 1..63 bytes of [A-Za-z0-9._-], as a
 * Kubernetes label value (topology.kubernetes.io/zone) is. */
bool zonetrace_zone_name_valid(const char *name);

/* The id of zone, registering it if new: ZONE_ID_MIN..ZONE_ID_MAX.
 * -EINVAL for an invalid name, -ENOSPC when all ids are taken. */
int zonetrace_zone_register(const char *pin_root, const char *zone,
			    unsigned int *id);

/* The id of an already registered zone, or -ENOENT (nothing created).
 * Here and in every call below: -EXDEV if pin_root exists off bpffs,
 * -ENOTDIR if it is not a directory (no registry can be there). */
int zonetrace_zone_lookup(const char *pin_root, const char *zone,
			  unsigned int *id);

/* The name of zone id into buf.  -ENOENT if the id is not registered (or
 * there is no registry), -ENOSPC if buf is too small.  To name many ids,
 * zonetrace_names_open() once and zonetrace_names_get() each. */
int zonetrace_zone_name(const char *pin_root, unsigned int id, char *buf,
			size_t len);

/* The registry's id -> name map, opened once (the pin root checked once)
 * for many zonetrace_names_get(): a descriptor the caller closes, or
 * -ENOENT when there is no registry (no zones), or as above. */
int zonetrace_names_open(const char *pin_root);

/* As zonetrace_zone_name(), from fd of zonetrace_names_open(). */
int zonetrace_names_get(int fd, unsigned int id, char *buf, size_t len);

/* Attribute TCP round-trip time to peer addr ("IPv4:PORT" or
 * "[IPv6]:PORT", a replica server's address) to zone id, replacing any
 * earlier zone of that address.  Registrations of one address are
 * counted: processes that share a replica server each register it, and
 * it is forgotten at the last zonetrace_peer_unregister().  -EINVAL for a
 * bad address or an id out of range, -ENOENT for an id not registered,
 * -ENOSPC when full. */
int zonetrace_peer_register(const char *pin_root, const char *addr,
			    unsigned int id);
/* Drop one registration of addr, and forget addr with the last.  -ENOENT
 * if it was not registered. */
int zonetrace_peer_unregister(const char *pin_root, const char *addr);

/* The zone id of peer addr and how many registrations it has (1 for a
 * peer from before registrations were counted).  -ENOENT if addr is not
 * registered (or there is no registry), -EINVAL for a bad address.
 * Nothing is created or changed. */
int zonetrace_peer_lookup(const char *pin_root, const char *addr,
			  unsigned int *id, unsigned int *refs);

/* Parse addr as zonetrace_peer_register() does into a zone_peer key; an
 * IPv4-mapped IPv6 address ([::ffff:10.0.0.1]:7000) becomes the IPv4
 * address, as the tracer sees such a peer. */
int zonetrace_peer_parse(const char *addr, struct zone_peer *out);

/* Remove the registry pins if no zone and no peer is registered, under
 * the registry lock that registering takes too, so a zone registered
 * meanwhile is never lost with them, and if no loaded BPF program (a
 * running tracer) uses the registry's maps, which would then be cut off
 * from every later registration.  Returns 0 if removed (or absent),
 * -ENOTEMPTY or -EBUSY if kept. */
int zonetrace_registry_remove_if_empty(const char *pin_root);

struct zonetrace_opts {
	const char *btf_path;		/* NULL: the kernel's own */
	enum bpfsys_attach attach;
};

/* Load and attach the programs; the registry under pin_root (NULL =
 * default) is created if missing, and the tracer shares its zone_peers.
 * Logs what failed, once; -ENOENT without BTF, -EOPNOTSUPP when tp_btf
 * was asked for and cannot attach; nothing attached or pinned on failure
 * (a registry it had to create stays if a zone was registered meanwhile).
 * *out only on success. */
int zonetrace_load(const struct zonetrace_opts *o, const char *pin_root,
		   struct zonetrace **out);

/* Pin zone_stats, zone_rtt and zone_counters under the pin root, all or
 * nothing (zone_stats last).  -EEXIST if any is pinned already. */
int zonetrace_pin(struct zonetrace *t);

/* Open the statistics maps a running tapestryd pinned under pin_root.
 * -ENOENT when they are not all there. */
int zonetrace_open_pinned(const char *pin_root, struct zonetrace **out);

/* Remove the statistics pins under pin_root (a dead daemon's). */
void zonetrace_unpin_stale(const char *pin_root);

/* Unpin what zonetrace_pin() pinned, detach, close; for a loaded tracer,
 * also remove the registry if it is empty (an empty registry assigns no
 * ids, so nothing is lost).  Accepts NULL. */
void zonetrace_destroy(struct zonetrace *t);

/* "tp_btf", "raw_tp" or "pinned". */
const char *zonetrace_mode(const struct zonetrace *t);
/* As blktrace_live(): false once the tapestryd whose pins t was opened
 * from has stopped. */
bool zonetrace_live(const struct zonetrace *t);
const char *zonetrace_pin_root(const struct zonetrace *t);

/* Add the cumulative statistics and RTT histograms, summed over CPUs, and
 * the counters to snap (initialised by the caller). */
int zonetrace_snapshot(struct zonetrace *t, struct zonesnap *snap);

#endif /* TAPESTRY_ZONETRACE_H */
