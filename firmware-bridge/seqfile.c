/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seqfile.c - a file-backed smile_seq_store: "NEXT\n" in STATE/seq.
 *
 * Strict on reading (digits, one newline, a value >= 1): the sequence counter
 * is the device's replay protection, and a damaged file must stop the bridge
 * rather than restart numbering.
 */
#include "seqfile.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "statedir.h"

static enum smile_err seq_read(void *ctx, uint64_t *next)
{
	struct bridge_seqfile *f = ctx;
	char buf[32];
	size_t len, i;
	uint64_t v = 0;
	enum smile_err rc = bridge_state_read(f->dir, "seq", buf, sizeof(buf), &len, NULL);

	if (rc != SMILE_OK)
		return rc == SMILE_ERR_NOT_FOUND ? SMILE_ERR_NOT_FOUND : SMILE_ERR_IO;
	if (len < 2 || len > 21 || buf[len - 1] != '\n')
		return SMILE_ERR_INVALID;
	for (i = 0; i + 1 < len; i++) {
		unsigned d = (unsigned)(buf[i] - '0');
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return SMILE_ERR_INVALID;
		v = v * 10 + d;
	}
	if (v == 0)
		return SMILE_ERR_INVALID;
	*next = v;
	return SMILE_OK;
}

static enum smile_err seq_write(void *ctx, uint64_t next)
{
	struct bridge_seqfile *f = ctx;
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", next);

	return bridge_state_write(f->dir, "seq", buf, (size_t)n, NULL);
}

enum smile_err bridge_seqfile_init(struct bridge_seqfile *f, const char *dir,
				   struct smile_error *e)
{
	size_t n = strlen(dir);

	memset(f, 0, sizeof(*f));
	if (n == 0 || n >= sizeof(f->dir))
		return smile_error_set(e, SMILE_ERR_INVALID, "state_dir", "empty or too long");
	memcpy(f->dir, dir, n + 1);
	f->store.ctx = f;
	f->store.read = seq_read;
	f->store.write = seq_write;
	return SMILE_OK;
}
