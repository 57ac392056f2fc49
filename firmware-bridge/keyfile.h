/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyfile.h - the device key file on disk (smile_device_keys_save image).
 *
 * Written once by `smile-bridge keygen` with mode 0600 and never
 * overwritten; read at every start, refusing a file that group or others
 * may read (the secret keys prove who the handheld is).
 */
#ifndef BRIDGE_KEYFILE_H
#define BRIDGE_KEYFILE_H

#include "smile/device.h"

/*
 * Create `path` (O_EXCL, mode 0600) holding the key file image of k, fsync'd.
 * Returns SMILE_OK; SMILE_ERR_EXISTS (never overwrites a key);
 * SMILE_ERR_PERMISSION; SMILE_ERR_IO (a partial file is removed).
 */
enum smile_err bridge_keyfile_write(const char *path, const struct smile_device_keys *k,
				    struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Load keys from `path` into k. Returns SMILE_OK; SMILE_ERR_NOT_FOUND;
 * SMILE_ERR_PERMISSION (unreadable, or readable/writable by group or others:
 * e says chmod 600); SMILE_ERR_IO; and the smile_device_keys_load errors
 * (SMILE_ERR_INVALID, SMILE_ERR_UNSUPPORTED, SMILE_ERR_CRYPTO). k is zeroed
 * on error; the image read is wiped either way.
 */
enum smile_err bridge_keyfile_read(const char *path, struct smile_device_keys *k,
				   struct smile_error *e) SMILE_MUST_CHECK;

#endif
