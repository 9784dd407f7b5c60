/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * zone_peers, declared once for both objects that use it: the registry
 * creates and pins it, the tracer reuses the pin.  The definitions must
 * match for libbpf to reuse the pinned map.
 */
#ifndef TAPESTRY_BPF_ZONEPEERS_H
#define TAPESTRY_BPF_ZONEPEERS_H

#define ZONE_MAX_PEERS 1024

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZONE_MAX_PEERS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, struct zone_peer);
	__type(value, __u32);
} zone_peers SEC(".maps");

#endif
