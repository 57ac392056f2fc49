/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scan.h (gateway-internal) - the scan pipeline: one courier scan's bytes in,
 * a signed reply and its durable effects out (docs/protocol.md section 7).
 *
 * The pipeline does no I/O of its own: everything it reads, writes, sends or
 * asks the time of goes through a struct scan_ops, so the MQTT relay
 * (relay.c) wires it to the store, the vault and libmosquitto, and
 * tests/unit/gateway/test_scan.c to an in-memory fake.
 */
#ifndef SMILE_GATEWAY_SCAN_H
#define SMILE_GATEWAY_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "smile/error.h"
#include "smile/proto.h"
#include "store.h"

/*
 * What the pipeline needs from the world. Every function may be called from
 * any lane's thread; commit_async's `done` and what it calls (publish, now)
 * from whatever thread the commit completes on. Rows follow store.h: the
 * pipeline releases them with smile_store_device_release and
 * smile_store_shipment_release, so their owned pointers must be malloc'd.
 */
struct scan_ops {
	void *ctx; /* passed to every function */
	/* smile_store_get_device: SMILE_OK, SMILE_ERR_NOT_FOUND, SMILE_ERR_STORE */
	enum smile_err (*get_device)(void *ctx, const char *id, struct smile_store_device *out);
	/* smile_store_get_shipment_by_id: SMILE_OK, SMILE_ERR_NOT_FOUND, SMILE_ERR_STORE */
	enum smile_err (*get_shipment)(void *ctx, uint64_t id, struct smile_store_shipment *out);
	/* smile_store_count_reveals */
	enum smile_err (*count_reveals)(void *ctx, const char *device, int64_t since_ms,
					uint64_t *n);
	/* The recipient's contact details for shipment `id` (the personal row
	 * opened by personal_open) into out[0..cap), *len bytes. SMILE_OK,
	 * SMILE_ERR_SHREDDED (erased), anything else is a fault. On error
	 * nothing usable is in out. */
	enum smile_err (*open_contact)(void *ctx, uint64_t id, char *out, size_t cap, size_t *len);
	/* smile_store_commit_scan_async: SMILE_OK means done(arg, rc) will be
	 * called exactly once; anything else means it will not. */
	enum smile_err (*commit_async)(void *ctx, const struct smile_store_scan *sc,
				       smile_store_done_fn done, void *arg);
	/* smile_store_audit */
	enum smile_err (*audit)(void *ctx, const struct smile_audit_entry *a, size_t n,
				int64_t time_ms);
	/* Send p[0..n) on `topic` (QoS 1); failures are the transport's to log. */
	void (*publish)(void *ctx, const char *topic, const void *p, size_t n);
	/* The gateway's clock, Unix ms. */
	int64_t (*now)(void *ctx);
};

struct scan_config {
	/* token keyring (opening the scanned token), signing key (every reply),
	 * box key (sealing contact details), and the keyed ids of events and
	 * alerts. Borrowed: must outlive every lane. */
	const struct smile_keys *keys;
	long skew_s;       /* freshness window either way (7.2), seconds */
	long reveal_quota; /* reveals per device per rolling 24 h (7.4 row 13) */
};

/* One scan as received on smile/v1/dev/{topic_device}/scan. An over-size
 * payload may be passed truncated to SMILE_SCAN_MAX_BYTES + 1 bytes (the
 * decoder then says "too large"), with `digest` the BLAKE2b-256 of every
 * byte received, which the error reply must quote (7.1 step 1); digest is
 * NULL when data is the whole payload. */
struct scan_input {
	const char *topic_device; /* NUL-terminated, a valid device id */
	const uint8_t *data;
	size_t len;
	const uint8_t *digest;
};

/*
 * A lane runs scans one at a time on one thread: it owns a cache of
 * per-device shared keys (X25519 is the costly step), nothing else. The
 * quota and the replay rule are settled by the store's write transaction
 * (struct smile_store_scan), so lanes of one process or of several
 * processes sharing a store may take scans of the same device; scans of one
 * device should still go through one lane per process, in order (hash the
 * device id with scan_device_hash to choose it), so they commit in order.
 *
 * scan_lane_new copies *cfg and *ops; NULL on allocation failure.
 * scan_lane_free only once every commit it started has called back
 * (smile_store_drain); NULL is a no-op.
 */
struct scan_lane;
struct scan_lane *scan_lane_new(const struct scan_config *cfg, const struct scan_ops *ops);
void scan_lane_free(struct scan_lane *l);

/*
 * Process one scan to the end of its synchronous part: every refusal is
 * replied to, audited and counted here; an accepted scan is handed to
 * ops->commit_async and its reply published once the commit calls back.
 */
void scan_process(struct scan_lane *l, const struct scan_input *in);

/* FNV-1a of a device id: spreading, not security. */
uint32_t scan_device_hash(const char *id);

#endif
