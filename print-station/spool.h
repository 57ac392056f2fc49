/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool.h - smile-print's durable job queue: one file per job in
 * STATE/spool/, its state in its name (docs/print-station.md, "Printed
 * once").
 *
 *   SEQ-JOBID.job      received and fsync'd, not yet sent to the printer
 *                      (the signed message as received: the record stays
 *                      sealed at rest)
 *   SEQ-JOBID.sending  its first byte may have gone to the printer
 *   SEQ-JOBID.done     finished: "STATE REASON TEXT" (printed or failed),
 *                      the message deleted
 *
 * SEQ is the gateway's per-station sequence number, 20 digits, so the
 * names sort in print order. Every change is a write-fsync-rename or a
 * rename followed by an fsync of the directory, so after a crash a job is
 * in exactly one of the three states.
 */
#ifndef PRINT_SPOOL_H
#define PRINT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"
#include "smile/printjob.h"

#define SPOOL_NAME_MAX 80

enum spool_state { SPOOL_NONE = 0, SPOOL_QUEUED, SPOOL_SENDING, SPOOL_DONE };

struct spool {
	char dir[512];
};

/* Use (creating, mode 0700) STATE/spool. SMILE_ERR_IO. */
enum smile_err spool_open(struct spool *s, const char *state_dir, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Where job (seq, id) is. */
enum spool_state spool_find(const struct spool *s, uint64_t seq, const char *id);

/* Store a received job as queued, durably (fsync of file and directory),
 * unless any file of (seq, id) exists: then *dup = 1 and nothing changes.
 * SMILE_OK, SMILE_ERR_IO. */
enum smile_err spool_add(struct spool *s, uint64_t seq, const char *id, const uint8_t *msg,
			 size_t len, int *dup) SMILE_MUST_CHECK;

/* The first queued job in seq order: its name base "SEQ-JOBID" into
 * name. 1 when there is one, 0 when none. */
int spool_next(const struct spool *s, char name[SPOOL_NAME_MAX]);

/* Read a queued job's message into buf. SMILE_OK, SMILE_ERR_IO,
 * SMILE_ERR_TOO_LARGE. */
enum smile_err spool_read(const struct spool *s, const char *name, uint8_t *buf, size_t cap,
			  size_t *len) SMILE_MUST_CHECK;

/* queued -> sending, durably, before the first byte goes to the printer. */
enum smile_err spool_mark_sending(struct spool *s, const char *name) SMILE_MUST_CHECK;
/* sending -> queued, durably: only when nothing was sent (the printer
 * refused before any byte). */
enum smile_err spool_unmark_sending(struct spool *s, const char *name) SMILE_MUST_CHECK;
/* queued or sending -> done with the final state, durably; the message is
 * deleted. */
enum smile_err spool_finish(struct spool *s, const char *name, int state, int reason,
			    const char *text) SMILE_MUST_CHECK;

/* After a crash: every job left in "sending" becomes done, failed,
 * reason uncertain (it may have printed): never sent again by itself.
 * Returns how many. */
int spool_recover(struct spool *s);

/* Call fn for every queued job and every done job finished within the last
 * recent_s seconds (0: all): its name base, state, and for done jobs the
 * final state, reason and text (else state SMILE_JOB_SENT, reason 0, "").
 * Done files older than keep_s seconds are deleted instead. */
typedef void (*spool_each_fn)(void *arg, const char *name, enum spool_state st, int job_state,
			      int reason, const char *text);
void spool_each(struct spool *s, long keep_s, long recent_s, spool_each_fn fn, void *arg);

/* Split a name base "SEQ-JOBID" into seq and id. 0 on success. */
int spool_split(const char *name, uint64_t *seq, char id[SMILE_JOB_ID_MAX + 1]);

#endif
