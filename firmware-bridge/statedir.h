/* SPDX-License-Identifier: Apache-2.0 */
/*
 * statedir.h - the bridge's state directory and crash-safe file writes.
 *
 * STATE/ (mode 0700) holds:
 *   lock      flock()ed by the one smile-bridge process using the directory
 *   seq       the sequence counter's reservation (seqfile.h)
 *   queue/    the offline queue, one file per scan (queue.h)
 *
 * A file is replaced atomically and durably: write a temporary file, fsync
 * it, rename it over the old one, fsync the directory. After a crash (or
 * kill -9, or power loss) the file holds either the old or the new contents,
 * never a mixture.
 */
#ifndef BRIDGE_STATEDIR_H
#define BRIDGE_STATEDIR_H

#include <stddef.h>

#include "smile/error.h"

/*
 * Create `dir` (mode 0700) if it does not exist (its parent must), then take
 * an exclusive lock on dir/lock so two bridges never share one sequence
 * counter. *lock_fd gets the descriptor holding the lock (close it to
 * release). Returns SMILE_OK; SMILE_ERR_BUSY (another process holds it);
 * SMILE_ERR_INVALID (dir is not a directory); SMILE_ERR_PERMISSION;
 * SMILE_ERR_IO.
 */
enum smile_err bridge_state_lock(const char *dir, int *lock_fd, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Make dir (mode 0700) unless it exists as a directory. SMILE_OK, SMILE_ERR_IO
 * (or SMILE_ERR_INVALID when it exists and is not a directory). */
enum smile_err bridge_state_mkdir(const char *dir, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Durably replace dir/name with data[0..len) (mode 0600), through
 * dir/name.tmp, fsync, rename, fsync of dir. Returns SMILE_OK or SMILE_ERR_IO
 * (the old file, if any, is then intact).
 */
enum smile_err bridge_state_write(const char *dir, const char *name, const void *data,
				  size_t len, struct smile_error *e) SMILE_MUST_CHECK;

/* Durably remove dir/name (unlink + fsync of dir). SMILE_OK (also when it was
 * already gone) or SMILE_ERR_IO. */
enum smile_err bridge_state_remove(const char *dir, const char *name, struct smile_error *e)
	SMILE_MUST_CHECK;

/* fsync a directory. SMILE_OK or SMILE_ERR_IO. */
enum smile_err bridge_state_sync_dir(const char *dir) SMILE_MUST_CHECK;

/*
 * Read dir/name whole into buf[0..cap). Returns SMILE_OK with *len;
 * SMILE_ERR_NOT_FOUND; SMILE_ERR_TOO_LARGE (longer than cap); SMILE_ERR_IO.
 */
enum smile_err bridge_state_read(const char *dir, const char *name, void *buf, size_t cap,
				 size_t *len, struct smile_error *e) SMILE_MUST_CHECK;

#endif
