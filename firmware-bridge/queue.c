/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue.c - the on-disk FIFO of scans waiting for a reply.
 *
 * One small file per scan, named by its position, replaced only through
 * bridge_state_write() (temp + fsync + rename + fsync dir) and removed with
 * unlink + fsync dir. So the directory listing IS the queue: after any crash
 * each file is whole, the sorted names give the order, and a leftover .tmp is
 * a write that never happened (its push had not returned). Memory holds only
 * the positions (a ring as large as the capacity) and a copy of the head.
 */
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "smile/log.h"
#include "statedir.h"

#define REC_MAGIC "SMBQ"
#define REC_VERSION 1
#define REC_HEADER 42
#define REC_CHECK 16
#define FLAG_LOCATION 1u
#define FLAG_SIGNED 2u
#define NAME_DIGITS 20
#define NAME_BUF 40

struct bridge_queue {
	char dir[BRIDGE_PATH_MAX];
	size_t max;
	uint64_t *ring; /* positions, oldest at ring[head] */
	size_t cap, head, count;
	uint64_t next_pos;
	size_t damaged;
	int head_cached;
	struct bridge_scanrec head_rec;
};

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int rec_valid(const struct bridge_scanrec *r)
{
	return r->token_len >= 1 && r->token_len <= SMILE_PROTO_TOKEN_MAX &&
	       r->event >= SMILE_EVENT_FIRST && r->event <= SMILE_EVENT_LAST &&
	       (r->has_location == 0 || r->has_location == 1);
}

static size_t rec_encode(const struct bridge_scanrec *r, uint8_t out[BRIDGE_SCANREC_MAX_BYTES])
{
	size_t n = REC_HEADER + r->token_len;

	memcpy(out, REC_MAGIC, 4);
	out[4] = REC_VERSION;
	out[5] = (uint8_t)r->event;
	out[6] = (uint8_t)((r->has_location ? FLAG_LOCATION : 0) | (r->seq ? FLAG_SIGNED : 0));
	out[7] = (uint8_t)r->token_len;
	put_u64(out + 8, r->scanned_ms);
	put_u64(out + 16, r->seq);
	put_u64(out + 24, r->seq ? r->time_ms : 0);
	put_u32(out + 32, r->has_location ? (uint32_t)r->location.lat_e6 : 0);
	put_u32(out + 36, r->has_location ? (uint32_t)r->location.lon_e6 : 0);
	out[40] = (uint8_t)(r->has_location ? r->location.accuracy_m >> 8 : 0);
	out[41] = (uint8_t)(r->has_location ? r->location.accuracy_m : 0);
	memcpy(out + REC_HEADER, r->token, r->token_len);
	crypto_generichash(out + n, REC_CHECK, out, n, NULL, 0);
	return n + REC_CHECK;
}

/* 1 when p[0..len) is a whole, undamaged record. */
static int rec_decode(const uint8_t *p, size_t len, struct bridge_scanrec *r)
{
	uint8_t check[REC_CHECK];
	size_t tl;

	memset(r, 0, sizeof(*r));
	if (len < REC_HEADER + 1 + REC_CHECK || memcmp(p, REC_MAGIC, 4) != 0 ||
	    p[4] != REC_VERSION)
		return 0;
	tl = p[7];
	if (tl < 1 || tl > SMILE_PROTO_TOKEN_MAX || len != REC_HEADER + tl + REC_CHECK)
		return 0;
	crypto_generichash(check, sizeof(check), p, REC_HEADER + tl, NULL, 0);
	if (sodium_memcmp(check, p + REC_HEADER + tl, REC_CHECK) != 0)
		return 0;
	if ((p[6] & ~(FLAG_LOCATION | FLAG_SIGNED)) != 0)
		return 0;
	r->event = (enum smile_event)p[5];
	r->has_location = (p[6] & FLAG_LOCATION) != 0;
	r->scanned_ms = get_u64(p + 8);
	r->seq = get_u64(p + 16);
	r->time_ms = get_u64(p + 24);
	if (((p[6] & FLAG_SIGNED) != 0) != (r->seq != 0))
		return 0;
	if (r->has_location) {
		r->location.lat_e6 = (int32_t)get_u32(p + 32);
		r->location.lon_e6 = (int32_t)get_u32(p + 36);
		r->location.accuracy_m = (uint16_t)(p[40] << 8 | p[41]);
	}
	r->token_len = tl;
	memcpy(r->token, p + REC_HEADER, tl);
	return rec_valid(r);
}

static void pos_name(uint64_t pos, char out[NAME_BUF])
{
	snprintf(out, NAME_BUF, "%0*" PRIu64 ".scan", NAME_DIGITS, pos);
}

/* Parse "NNNN(20).scan"; 1 on success. */
static int parse_name(const char *name, uint64_t *pos)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < NAME_DIGITS; i++) {
		unsigned d = (unsigned)(name[i] - '0');
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (strcmp(name + NAME_DIGITS, ".scan") != 0 || v == 0)
		return 0;
	*pos = v;
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Read and check the record at pos. SMILE_OK, SMILE_ERR_INVALID (damaged),
 * or an I/O error. */
static enum smile_err load(const struct bridge_queue *q, uint64_t pos, struct bridge_scanrec *r,
			   struct smile_error *e)
{
	uint8_t buf[BRIDGE_SCANREC_MAX_BYTES + 1];
	char name[NAME_BUF];
	size_t len;
	enum smile_err rc;

	pos_name(pos, name);
	rc = bridge_state_read(q->dir, name, buf, sizeof(buf), &len, e);
	if (rc == SMILE_ERR_TOO_LARGE)
		rc = SMILE_ERR_INVALID;
	if (rc == SMILE_OK && !rec_decode(buf, len, r))
		rc = smile_error_set(e, SMILE_ERR_INVALID, "queue", "damaged queue record");
	return rc;
}

/* Rename a damaged record to .bad so it stops blocking the queue but is kept
 * for inspection. */
static void set_aside(struct bridge_queue *q, uint64_t pos)
{
	char from[BRIDGE_PATH_MAX + NAME_BUF + 8], to[BRIDGE_PATH_MAX + NAME_BUF + 8];
	char name[NAME_BUF];

	pos_name(pos, name);
	snprintf(from, sizeof(from), "%s/%s", q->dir, name);
	snprintf(to, sizeof(to), "%s/%s.bad", q->dir, name);
	if (rename(from, to) != 0)
		(void)unlink(from);
	if (bridge_state_sync_dir(q->dir) != SMILE_OK)
		smile_log0(SMILE_LOG_WARN, "bridge.queue.sync_failed");
	q->damaged++;
	smile_log(SMILE_LOG_ERROR, "bridge.queue.damaged", SMILE_KV_INT("position", (long long)pos));
}

enum smile_err bridge_queue_open(const char *dir, size_t max, struct bridge_queue **out,
				 struct smile_error *e)
{
	struct bridge_queue *q;
	uint64_t *found = NULL;
	size_t n_found = 0, cap_found = 0;
	enum smile_err rc;
	struct dirent *de;
	DIR *d;

	*out = NULL;
	if (max < 1 || max > BRIDGE_QUEUE_MAX)
		return smile_error_set(e, SMILE_ERR_INVALID, "queue_max", "need 1..%d",
				       BRIDGE_QUEUE_MAX);
	if (strlen(dir) >= BRIDGE_PATH_MAX)
		return smile_error_set(e, SMILE_ERR_INVALID, "queue", "path too long");
	rc = bridge_state_mkdir(dir, e);
	if (rc != SMILE_OK)
		return rc;
	d = opendir(dir);
	if (d == NULL)
		return smile_error_set(e, SMILE_ERR_IO, "queue", "cannot list the queue: %s",
				       strerror(errno));
	while ((de = readdir(d)) != NULL) {
		uint64_t pos;
		size_t nl = strlen(de->d_name);
		if (nl > 4 && strcmp(de->d_name + nl - 4, ".tmp") == 0) {
			/* A write that never completed: its push never returned OK. */
			char p[BRIDGE_PATH_MAX + NAME_BUF + 8];
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			(void)unlink(p);
			continue;
		}
		if (!parse_name(de->d_name, &pos))
			continue;
		if (n_found == cap_found) {
			size_t nc = cap_found ? cap_found * 2 : 64;
			uint64_t *nf = realloc(found, nc * sizeof(*nf));
			if (nf == NULL) {
				closedir(d);
				free(found);
				return smile_error_set(e, SMILE_ERR_NOMEM, "queue", "out of memory");
			}
			found = nf;
			cap_found = nc;
		}
		found[n_found++] = pos;
	}
	closedir(d);
	if (n_found > 1)
		qsort(found, n_found, sizeof(*found), cmp_u64);

	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		free(found);
		return smile_error_set(e, SMILE_ERR_NOMEM, "queue", "out of memory");
	}
	memcpy(q->dir, dir, strlen(dir) + 1);
	q->max = max;
	q->cap = n_found > max ? n_found : max;
	q->ring = calloc(q->cap, sizeof(*q->ring));
	if (q->ring == NULL) {
		free(found);
		free(q);
		return smile_error_set(e, SMILE_ERR_NOMEM, "queue", "out of memory");
	}
	q->next_pos = n_found ? found[n_found - 1] + 1 : 1;
	for (size_t i = 0; i < n_found; i++) {
		struct bridge_scanrec r;
		rc = load(q, found[i], &r, NULL);
		if (rc == SMILE_ERR_INVALID) {
			set_aside(q, found[i]);
			continue;
		}
		if (rc != SMILE_OK) {
			free(found);
			bridge_queue_free(q);
			return smile_error_set(e, rc, "queue", "cannot read a queued scan");
		}
		q->ring[q->count++] = found[i];
	}
	sodium_memzero(found, n_found * sizeof(*found));
	free(found);
	*out = q;
	return SMILE_OK;
}

size_t bridge_queue_count(const struct bridge_queue *q)
{
	return q->count;
}

size_t bridge_queue_max(const struct bridge_queue *q)
{
	return q->max;
}

size_t bridge_queue_damaged(const struct bridge_queue *q)
{
	return q->damaged;
}

static enum smile_err write_rec(struct bridge_queue *q, uint64_t pos,
				const struct bridge_scanrec *r, struct smile_error *e)
{
	uint8_t buf[BRIDGE_SCANREC_MAX_BYTES];
	char name[NAME_BUF];
	size_t len = rec_encode(r, buf);
	enum smile_err rc;

	pos_name(pos, name);
	rc = bridge_state_write(q->dir, name, buf, len, e);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

enum smile_err bridge_queue_push(struct bridge_queue *q, const struct bridge_scanrec *r,
				 struct smile_error *e)
{
	enum smile_err rc;

	if (!rec_valid(r))
		return smile_error_set(e, SMILE_ERR_INVALID, "scan",
				       "token must be 1-%d bytes and the event known",
				       SMILE_PROTO_TOKEN_MAX);
	if (q->count >= q->max)
		return smile_error_set(e, SMILE_ERR_QUEUE_FULL, "queue",
				       "offline queue full: %zu scans wait to be sent (queue_max "
				       "%zu); this scan was refused, none was dropped",
				       q->count, q->max);
	rc = write_rec(q, q->next_pos, r, e);
	if (rc != SMILE_OK)
		return rc;
	q->ring[(q->head + q->count) % q->cap] = q->next_pos++;
	q->count++;
	return SMILE_OK;
}

enum smile_err bridge_queue_head(struct bridge_queue *q, struct bridge_scanrec *r,
				 struct smile_error *e)
{
	while (q->count > 0) {
		enum smile_err rc;
		if (q->head_cached) {
			*r = q->head_rec;
			return SMILE_OK;
		}
		rc = load(q, q->ring[q->head], &q->head_rec, e);
		if (rc == SMILE_OK) {
			q->head_cached = 1;
			continue;
		}
		if (rc != SMILE_ERR_INVALID && rc != SMILE_ERR_NOT_FOUND)
			return rc;
		/* damaged, or removed behind our back: skip it */
		if (rc == SMILE_ERR_INVALID)
			set_aside(q, q->ring[q->head]);
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	return smile_error_set(e, SMILE_ERR_NOT_FOUND, "queue", "empty");
}

enum smile_err bridge_queue_update_head(struct bridge_queue *q, const struct bridge_scanrec *r,
					struct smile_error *e)
{
	enum smile_err rc;

	if (q->count == 0)
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "queue", "empty");
	if (!rec_valid(r))
		return smile_error_set(e, SMILE_ERR_INVALID, "scan", "invalid record");
	rc = write_rec(q, q->ring[q->head], r, e);
	if (rc != SMILE_OK) {
		q->head_cached = 0; /* re-read what is on disk */
		return rc;
	}
	q->head_rec = *r;
	q->head_cached = 1;
	return SMILE_OK;
}

enum smile_err bridge_queue_pop(struct bridge_queue *q, struct smile_error *e)
{
	char name[NAME_BUF];
	enum smile_err rc;

	if (q->count == 0)
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "queue", "empty");
	pos_name(q->ring[q->head], name);
	rc = bridge_state_remove(q->dir, name, e);
	if (rc != SMILE_OK)
		return rc;
	q->head = (q->head + 1) % q->cap;
	q->count--;
	q->head_cached = 0;
	sodium_memzero(&q->head_rec, sizeof(q->head_rec));
	return SMILE_OK;
}

void bridge_queue_free(struct bridge_queue *q)
{
	if (q == NULL)
		return;
	free(q->ring);
	sodium_memzero(q, sizeof(*q));
	free(q);
}
