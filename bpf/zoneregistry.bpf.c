// SPDX-License-Identifier: GPL-2.0-only
/*
 * zoneregistry: the node's zone registry, maps only.  Loading this object
 * creates the maps with their BTF (so bpftool prints names and fields) and
 * pins them by name under the loader's pin root, or reuses the pins that
 * are already there.  See include/abi/zonetrace.h.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "abi/zonetrace.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZONE_ID_MAX + 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct zone_name);
} zone_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZONE_ID_MAX + 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, struct zone_name);
	__type(value, __u32);
} zone_ids SEC(".maps");

#include "zonepeers.bpf.h"

/* How many registrations hold each zone_peers entry: the volumes of a
 * node share replica servers, and one that stops must not forget a peer
 * another still uses.  Registry only; the tracer never reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZONE_MAX_PEERS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, struct zone_peer);
	__type(value, __u32);
} zone_peer_refs SEC(".maps");
