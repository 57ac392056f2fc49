/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seqfile.h - the device core's sequence store (struct smile_seq_store,
 * device.h) backed by a file: STATE/seq holds "NEXT\n", the number below
 * which every sequence number may have been used.
 *
 * Writes go through bridge_state_write() (temp + fsync + rename + fsync of
 * the directory), so the value on disk is always one that was fully written,
 * and the core hands out a number only after the write returned. A file that
 * exists but does not parse is an error: the core then refuses to send
 * rather than guess a number that may have been used.
 */
#ifndef BRIDGE_SEQFILE_H
#define BRIDGE_SEQFILE_H

#include "conf.h"
#include "smile/device.h"

struct bridge_seqfile {
	char dir[BRIDGE_PATH_MAX];
	struct smile_seq_store store; /* hand &store to smile_seq_open() */
};

/* Point f at dir/seq (dir must exist) and fill f->store. No I/O. Returns
 * SMILE_OK or SMILE_ERR_INVALID (path too long). */
enum smile_err bridge_seqfile_init(struct bridge_seqfile *f, const char *dir,
				   struct smile_error *e) SMILE_MUST_CHECK;

#endif
