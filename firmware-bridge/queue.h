/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue.h - the bridge's offline queue: scans waiting to be sent, on disk.
 *
 * Every scan goes through the queue, connected or not: it is written (and
 * fsync'd) before the scanner is told it was taken, and removed only after
 * the gateway's reply was written out. It survives restarts and kill -9,
 * keeps strict FIFO order, and is bounded: when full, bridge_queue_push()
 * refuses the NEW scan (SMILE_ERR_QUEUE_FULL) and never drops an old one.
 *
 * A record holds only what is needed to rebuild and re-sign its scan: the
 * token (not personal data: it reveals nothing without the gateway's key),
 * the event, when it was scanned, the optional location, and - once it has
 * been signed - the sequence number and signing time. Ed25519 signatures are
 * deterministic, so those fields rebuild the exact bytes that were sent, and
 * a restarted bridge retransmits them unchanged (docs/protocol.md "Replay and
 * retransmission"). Contact details are never stored here.
 *
 * Layout: STATE/queue/NNNNNNNNNNNNNNNNNNNN.scan, one file per scan (20-digit
 * position, so names sort in order), each replaced atomically (statedir.h).
 * A file that fails its checksum is renamed to .bad and skipped (logged).
 */
#ifndef BRIDGE_QUEUE_H
#define BRIDGE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"
#include "smile/proto.h"

#define BRIDGE_QUEUE_MAX 1000000

struct bridge_scanrec {
	enum smile_event event;
	uint64_t scanned_ms;            /* Unix ms when the code was read */
	int has_location;
	struct smile_location location;
	uint64_t seq;                   /* 0: not signed yet */
	uint64_t time_ms;               /* signing time, when seq != 0 */
	size_t token_len;               /* 1..SMILE_PROTO_TOKEN_MAX */
	uint8_t token[SMILE_PROTO_TOKEN_MAX];
};

/* A record file's size: header 42 + token + BLAKE2b-128 checksum 16. */
#define BRIDGE_SCANREC_MAX_BYTES (42 + SMILE_PROTO_TOKEN_MAX + 16)

struct bridge_queue;

/*
 * Open (creating it, mode 0700) the queue directory `dir` holding at most
 * `max` (1..BRIDGE_QUEUE_MAX) scans, and load what is there. More than max
 * already stored (max was lowered) are all kept; new scans are refused until
 * it drains below max. *out freed with bridge_queue_free(). Returns SMILE_OK;
 * SMILE_ERR_INVALID (max); SMILE_ERR_IO; SMILE_ERR_NOMEM.
 */
enum smile_err bridge_queue_open(const char *dir, size_t max, struct bridge_queue **out,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* Scans waiting, and the capacity. */
size_t bridge_queue_count(const struct bridge_queue *q);
size_t bridge_queue_max(const struct bridge_queue *q);
/* Files set aside as damaged since open. */
size_t bridge_queue_damaged(const struct bridge_queue *q);

/*
 * Append r durably (returns after fsync). Returns SMILE_OK;
 * SMILE_ERR_QUEUE_FULL (count >= max: nothing written, e says how many wait);
 * SMILE_ERR_INVALID (token length 0 or over SMILE_PROTO_TOKEN_MAX, bad event);
 * SMILE_ERR_IO (nothing queued).
 */
enum smile_err bridge_queue_push(struct bridge_queue *q, const struct bridge_scanrec *r,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* Copy the oldest record into *r. Returns SMILE_OK; SMILE_ERR_NOT_FOUND
 * (empty); SMILE_ERR_IO. A damaged head file is set aside and the next one
 * returned. */
enum smile_err bridge_queue_head(struct bridge_queue *q, struct bridge_scanrec *r,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* Durably replace the oldest record with r (to record its seq and signing
 * time before it is sent). SMILE_OK; SMILE_ERR_NOT_FOUND; SMILE_ERR_INVALID;
 * SMILE_ERR_IO (the old record is then intact). */
enum smile_err bridge_queue_update_head(struct bridge_queue *q, const struct bridge_scanrec *r,
					struct smile_error *e) SMILE_MUST_CHECK;

/* Durably remove the oldest record. SMILE_OK; SMILE_ERR_NOT_FOUND; SMILE_ERR_IO. */
enum smile_err bridge_queue_pop(struct bridge_queue *q, struct smile_error *e) SMILE_MUST_CHECK;

/* Free the in-memory state (the files stay). NULL is a no-op. */
void bridge_queue_free(struct bridge_queue *q);

#endif
