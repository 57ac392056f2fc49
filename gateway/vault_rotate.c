/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vault_rotate.c - rotating the vault key while `serve` runs on the same data
 * directory: `keys rotate-vault`, `vault check`, and the serving gateway's
 * watcher that takes up a new key and drops the old one.
 *
 * The one idea: the old key may be destroyed only when no row is wrapped by
 * it and none ever will be again. The command makes a next key
 * (keys/vault.next.key), then waits until the serving gateway acknowledges in
 * the store (meta row vault.sealing) that it seals with that key; serve
 * writes that acknowledgement only after every HTTP request that began
 * before it took up the key has finished (request epochs, gateway.h), so no
 * row sealed with the old key is still on its way to the store. From then on
 * the rows under the old key can only shrink: the command rewraps them in
 * batches, each row by compare-and-set (an erasure meanwhile is never
 * undone), repeats whole passes until one finds nothing to move, and only
 * then destroys the old key and renames the next key into its place. Serve
 * sees the files change, drops the old key from memory, and records the
 * rotation in the audit log together with deleting the meta row
 * vault.rotation, in one transaction.
 *
 * Whether a gateway serves the directory is told by DIR/serve.lock, which
 * serve holds for its whole life: a command that gets the lock holds it to
 * the end, so no gateway can start half-way; a command that cannot get it
 * waits for the acknowledgements (bounded, resumable) and tries the lock
 * again meanwhile, in case the gateway stopped.
 *
 * Nothing here logs, prints or returns key bytes: only key ids (4 bytes of a
 * keyed hash, docs/vault.md) and shipment ids.
 */
#include "vault_rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"
#include "personal.h"
#include "smile/clock.h"
#include "smile/log.h"
#include "vault.h"

#define WATCH_INTERVAL_MS 1000
#define WAIT_STEP_MS 100
#define MAX_PASSES 32

/* ------------------------------------------------------------ small helpers */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double now_s(void)
{
	return (double)smile_mono_ns() / 1e9;
}

static void kid_hex(uint32_t kid, char out[9])
{
	snprintf(out, 9, "%08x", (unsigned)kid);
}

/* "seal=KKKKKKKK cur=CCCCCCCC next=NNNNNNNN" (next=- when none) */
static void sealing_text(const struct smile_vault *v, char *out, size_t n)
{
	uint32_t cur, next;
	int keys = smile_vault_key_ids(v, &cur, &next);
	if (keys == 2)
		snprintf(out, n, "seal=%08x cur=%08x next=%08x", (unsigned)next, (unsigned)cur,
			 (unsigned)next);
	else
		snprintf(out, n, "seal=%08x cur=%08x next=-", (unsigned)cur, (unsigned)cur);
}

static int sealing_kid(const char *text, uint32_t *kid)
{
	unsigned k;
	if (sscanf(text, "seal=%8x ", &k) != 1)
		return 0;
	*kid = k;
	return 1;
}

static int rotation_parse(const char *text, uint32_t *old_kid, uint32_t *new_kid)
{
	unsigned o, n;
	char end;
	if (sscanf(text, "%8x %8x%c", &o, &n, &end) != 2)
		return 0;
	*old_kid = o;
	*new_kid = n;
	return 1;
}

/*
 * If a rotation is recorded as unfinished (vault.rotation "O N") and `v`
 * holds key N alone, the old key is gone for good: delete the record and
 * append the "vault.rotate" audit entry in one transaction. Only for the
 * process that owns the store's writes (store.h). Returns 1 when this call
 * recorded it.
 */
static int finish_record(struct smile_store *s, const struct smile_vault *v, const char *actor)
{
	char row[SMILE_STORE_META_MAX], detail[48];
	uint32_t old_kid, new_kid, cur;
	enum smile_err rc;

	if (smile_store_meta_get(s, VAULT_META_ROTATION, row, sizeof(row)) != SMILE_OK ||
	    !rotation_parse(row, &old_kid, &new_kid))
		return 0;
	if (smile_vault_key_ids(v, &cur, NULL) != 1 || cur != new_kid)
		return 0;
	snprintf(detail, sizeof(detail), "old=%08x new=%08x", (unsigned)old_kid,
		 (unsigned)new_kid);
	struct smile_audit_entry a = {"vault.rotate", "vault", actor, detail};
	rc = smile_store_meta_set(s, VAULT_META_ROTATION, row, NULL, &a, 1, gateway_now_ms());
	if (rc != SMILE_OK) {
		if (rc != SMILE_ERR_CONFLICT) /* conflict: someone else recorded it */
			smile_log(SMILE_LOG_WARN, "vault.rotate_record_failed",
				  SMILE_KV_ERR("err", rc));
		return 0;
	}
	char o[9], n[9];
	kid_hex(old_kid, o);
	kid_hex(new_kid, n);
	smile_log(SMILE_LOG_INFO, "vault.rotated", SMILE_KV_ID("old", o), SMILE_KV_ID("new", n),
		  SMILE_KV_ID("by", actor));
	return 1;
}

/* ------------------------------------------------------------ serve's side */

struct vault_watch {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	uint64_t stamp;        /* of the key files last loaded */
	uint64_t failed_stamp; /* of the files a reload last failed on (logged once) */
	int draining;          /* waiting for requests of epoch `drain` to finish */
	unsigned drain;
	double drain_since;
	double drain_logged;
	int ack_pending;       /* vault.sealing still to be written */
};

/* Write vault.sealing for the keys held now. */
static enum smile_err watch_ack(struct gateway *g)
{
	char text[SMILE_STORE_META_MAX];
	enum smile_err rc;

	sealing_text(smile_keys_vault(g->keys), text, sizeof(text));
	rc = smile_store_meta_set(g->store, VAULT_META_SEALING, NULL, text, NULL, 0, 0);
	if (rc != SMILE_OK) {
		smile_log(SMILE_LOG_WARN, "vault.ack_failed", SMILE_KV_ERR("err", rc));
		return rc;
	}
	uint32_t kid = smile_vault_key_id(smile_keys_vault(g->keys));
	char k[9];
	kid_hex(kid, k);
	smile_log(SMILE_LOG_INFO, "vault.sealing", SMILE_KV_ID("key", k));
	return SMILE_OK;
}

/* Reload the vault keys if the files changed; 1 when the keys changed. */
static int watch_reload(struct gateway *g, struct vault_watch *w)
{
	struct smile_error e = {0};
	uint64_t stamp = smile_keys_vault_stamp(g->dir);
	int changed = 0;
	enum smile_err rc;

	if (stamp == w->stamp)
		return 0;
	/* the stamp is taken before loading: a change during the load is seen
	 * again at the next tick, never missed */
	rc = smile_keys_reload_vault(g->dir, g->keys, &changed, &e);
	if (rc != SMILE_OK) {
		/* keep the keys held, say why once per state of the files, and
		 * try again every tick (a transient failure must not stick) */
		if (stamp != w->failed_stamp)
			smile_log(SMILE_LOG_ERROR, "vault.reload_failed", SMILE_KV_ERR("err", rc),
				  SMILE_KV_ID("file", e.field[0] ? e.field : "-"));
		w->failed_stamp = stamp;
		return 0;
	}
	w->stamp = stamp;
	w->failed_stamp = 0;
	if (changed) {
		uint32_t cur, next;
		char c[9], n[9];
		int keys = smile_vault_key_ids(smile_keys_vault(g->keys), &cur, &next);
		kid_hex(cur, c);
		kid_hex(next, n);
		smile_log(SMILE_LOG_INFO, "vault.reloaded", SMILE_KV_ID("current", c),
			  SMILE_KV_ID("next", keys == 2 ? n : "-"));
	}
	return changed;
}

/* One poll: finish a pending drain and acknowledgement, else look for new
 * key files. */
static void watch_tick(struct gateway *g, struct vault_watch *w)
{
	if (w->draining) {
		int left = atomic_load(&g->req_active[w->drain]);
		if (left > 0) {
			double t = now_s();
			if (t - w->drain_logged >= 10.0) {
				smile_log(SMILE_LOG_WARN, "vault.waiting_for_requests",
					  SMILE_KV_INT("requests", left),
					  SMILE_KV_INT("seconds", (long long)(t - w->drain_since)));
				w->drain_logged = t;
			}
			return; /* no new key change until these have finished */
		}
		w->draining = 0;
		w->ack_pending = 1;
	}
	if (w->ack_pending) {
		if (watch_ack(g) != SMILE_OK)
			return;
		w->ack_pending = 0;
	}
	if (!watch_reload(g, w))
		return;
	/* New keys are in: requests from now on seal with the new sealing key.
	 * Those that began before may have sealed with the old one: start a
	 * new epoch and acknowledge once the old one is empty. */
	w->drain = atomic_fetch_add(&g->req_epoch, 1) & 1u;
	w->draining = 1;
	w->drain_since = w->drain_logged = now_s();
	finish_record(g->store, smile_keys_vault(g->keys), "serve");
	watch_tick(g, w); /* usually nothing is in flight: acknowledge now */
}

static void *watch_main(void *arg)
{
	struct gateway *g = arg;
	struct vault_watch *w = g->vault_watch;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct timespec until;
		pthread_mutex_unlock(&w->lock);
		watch_tick(g, w);
		pthread_mutex_lock(&w->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (w->draining ? 50 : WATCH_INTERVAL_MS) * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

enum smile_err vault_rotate_watch_start(struct gateway *g, struct smile_error *e)
{
	struct vault_watch *w = calloc(1, sizeof(*w));
	enum smile_err rc;
	int changed = 0;

	if (w == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	/* The keys were loaded by gateway_open, before serve.lock was ours: a
	 * rotation may have made its next key in between. Load again now;
	 * nothing has been sealed yet, so there is nothing to wait for. */
	w->stamp = smile_keys_vault_stamp(g->dir);
	rc = smile_keys_reload_vault(g->dir, g->keys, &changed, e);
	if (rc != SMILE_OK)
		goto fail;
	finish_record(g->store, smile_keys_vault(g->keys), "serve");
	w->ack_pending = watch_ack(g) != SMILE_OK; /* retried by the thread */
	g->vault_watch = w;
	if (pthread_create(&w->thread, NULL, watch_main, g) != 0) {
		g->vault_watch = NULL;
		rc = smile_error_set(e, SMILE_ERR_INTERNAL, NULL, "cannot start the key watcher");
		goto fail;
	}
	pthread_setname_np(w->thread, "smile-vaultkeys");
	return SMILE_OK;
fail:
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
	return rc;
}

void vault_rotate_watch_stop(struct gateway *g)
{
	struct vault_watch *w = g->vault_watch;
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
	g->vault_watch = NULL;
}

/* ------------------------------------------------------------ the command's side */

struct rotation {
	const char *dir;
	const struct vault_rotate_opts *o;
	struct vault_rotate_report *r;
	struct gateway g;
	int opened;
	int lock_fd; /* serve.lock, when no gateway serves */
};

/* Try to take serve.lock; 1 when this process holds it now. */
static int take_serve_lock(struct rotation *rt)
{
	struct smile_error e = {0};
	if (rt->lock_fd >= 0)
		return 1;
	return gateway_lock_dir(rt->dir, "keys rotate-vault", &rt->lock_fd, &e) == SMILE_OK;
}

/*
 * Wait until the serving gateway acknowledges sealing with `kid`, or until
 * serve.lock becomes ours (the gateway stopped). SMILE_OK either way;
 * SMILE_ERR_TIMEOUT after o->timeout_s.
 */
static enum smile_err wait_sealing(struct rotation *rt, uint32_t kid, struct smile_error *e)
{
	double until = now_s() + rt->o->timeout_s;
	char text[SMILE_STORE_META_MAX];
	uint32_t k;

	for (;;) {
		if (smile_store_meta_get(rt->g.store, VAULT_META_SEALING, text, sizeof(text)) ==
			    SMILE_OK &&
		    sealing_kid(text, &k) && k == kid)
			return SMILE_OK;
		if (take_serve_lock(rt))
			return SMILE_OK;
		if (now_s() >= until)
			return smile_error_set(
				e, SMILE_ERR_TIMEOUT, "serve",
				"the serving gateway did not start sealing with vault key %08x "
				"within %.0f s (see its log); nothing was rewrapped; run this "
				"command again to resume",
				(unsigned)kid, rt->o->timeout_s);
		sleep_ms(WAIT_STEP_MS);
	}
}

/* One pass over every held row: move rows of any key but `new_kid` to it.
 * *to_move counts rows that needed moving (moved or not). */
static enum smile_err rewrap_pass(struct rotation *rt, uint32_t new_kid, uint64_t *to_move,
				  uint64_t *failed, uint64_t *first_failed, struct smile_error *e)
{
	const struct smile_vault *v = smile_keys_vault(rt->g.keys);
	size_t max = rt->o->batch, n, m;
	struct smile_store_wrapped *rows = calloc(max, sizeof(*rows));
	uint64_t after = 0;
	enum smile_err rc = SMILE_OK;

	*to_move = *failed = 0;
	*first_failed = 0;
	rt->r->foreign = 0;
	if (rows == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	do {
		rc = smile_store_list_wrapped(rt->g.store, after, rows, max, &n);
		if (rc != SMILE_OK) {
			smile_error_set(e, rc, "store", "cannot read the wrapped keys");
			break;
		}
		if (n == 0)
			break;
		after = rows[n - 1].shipment_id;
		m = 0;
		for (size_t i = 0; i < n; i++) {
			struct smile_store_wrapped *row = &rows[i];
			uint8_t aad[PERSONAL_AAD_BYTES];
			uint64_t id = row->shipment_id;
			uint32_t kid;
			uint32_t cur, next;

			if (row->wrapped_len != SMILE_VAULT_WRAPPED_KEY_BYTES) {
				(*to_move)++; /* cannot be moved: counted as failed too */
				if (!*first_failed)
					*first_failed = id;
				(*failed)++;
				continue;
			}
			kid = smile_vault_wrapped_key_id(row->wrapped_key);
			if (kid == new_kid)
				continue;
			smile_vault_key_ids(v, &cur, &next);
			if (kid != cur && kid != next) {
				rt->r->foreign++; /* no key here opens it: nothing to move */
				continue;
			}
			(*to_move)++;
			personal_aad(id, aad); /* as issuance sealed it */
			if (smile_vault_rewrap(v, v, aad, sizeof(aad), row->wrapped_key,
					       row->new_key, NULL) != SMILE_OK) {
				if (!*first_failed)
					*first_failed = row->shipment_id;
				(*failed)++;
				continue;
			}
			row->new_len = SMILE_VAULT_WRAPPED_KEY_BYTES;
			if (m != i)
				rows[m] = *row;
			m++;
		}
		rc = smile_store_rewrap(rt->g.store, rows, m);
		if (rc != SMILE_OK) {
			smile_error_set(e, rc, "store", "cannot write rewrapped keys");
			break;
		}
		for (size_t i = 0; i < m; i++) {
			if (rows[i].result == SMILE_OK)
				rt->r->rewrapped++;
			else
				rt->r->skipped++; /* erased meanwhile: nothing to keep */
		}
	} while (n == max);
	sodium_memzero(rows, max * sizeof(*rows));
	free(rows);
	return rc;
}

/* Open the data directory (config, keys, store) for this run. */
static enum smile_err rotation_open(struct rotation *rt, struct smile_error *e)
{
	if (rt->opened) {
		gateway_close(&rt->g);
		rt->opened = 0;
	}
	enum smile_err rc = gateway_open(&rt->g, rt->dir, e);
	if (rc == SMILE_OK)
		rt->opened = 1;
	return rc;
}

/*
 * The old key is destroyed on disk. Make sure no gateway holds it: when one
 * serves, wait until it has dropped the key and recorded the rotation
 * (vault.rotation is gone); when none does (or it stops meanwhile), record
 * it here.
 */
static enum smile_err confirm_dropped(struct rotation *rt, struct smile_error *e)
{
	double until = now_s() + rt->o->timeout_s;
	char row[SMILE_STORE_META_MAX];
	enum smile_err rc;

	for (;;) {
		rc = smile_store_meta_get(rt->g.store, VAULT_META_ROTATION, row, sizeof(row));
		if (rc == SMILE_ERR_NOT_FOUND)
			return SMILE_OK;
		if (rc != SMILE_OK)
			return smile_error_set(e, rc, "store", "cannot read the rotation record");
		if (take_serve_lock(rt)) {
			/* Ours alone now. Reopen: a gateway may have appended to
			 * the audit chain since this store handle read its head. */
			rc = rotation_open(rt, e);
			if (rc != SMILE_OK)
				return rc;
			finish_record(rt->g.store, smile_keys_vault(rt->g.keys), "keys rotate-vault");
			rc = smile_store_meta_get(rt->g.store, VAULT_META_ROTATION, row, sizeof(row));
			if (rc == SMILE_ERR_NOT_FOUND)
				return SMILE_OK;
			return smile_error_set(e, SMILE_ERR_STORE, "store",
					       "cannot record the finished rotation in the audit log");
		}
		if (now_s() >= until)
			return smile_error_set(
				e, SMILE_ERR_TIMEOUT, "serve",
				"the old vault key is destroyed on disk, but the serving gateway "
				"did not confirm dropping it within %.0f s (see its log); run this "
				"command again to wait again",
				rt->o->timeout_s);
		sleep_ms(WAIT_STEP_MS);
	}
}

enum smile_err vault_rotate_run(const char *dir, const struct vault_rotate_opts *o,
				struct vault_rotate_report *r, struct smile_error *e)
{
	struct rotation rt = {.dir = dir, .o = o, .r = r, .lock_fd = -1};
	char path[PATH_MAX + 32], row[SMILE_STORE_META_MAX];
	uint32_t old_kid = 0, new_kid = 0, rec_old, rec_new, cur, next;
	uint64_t to_move, failed, first_failed;
	enum smile_err rc;
	int rot_fd = -1, created = 0, keys;
	double t0;

	memset(r, 0, sizeof(*r));
	if (o->timeout_s <= 0 || o->batch == 0 || o->batch > VAULT_ROTATE_BATCH_MAX)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "bad timeout or batch size");
	/* one rotation at a time per data directory */
	snprintf(path, sizeof(path), "%s/rotate.lock", dir);
	rot_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (rot_fd < 0)
		return smile_error_set(e, errno == ENOENT ? SMILE_ERR_NOT_FOUND : SMILE_ERR_IO,
				       "data", "cannot open rotate.lock: %s", strerror(errno));
	if (flock(rot_fd, LOCK_EX | LOCK_NB) != 0) {
		close(rot_fd);
		return smile_error_set(e, SMILE_ERR_BUSY, "rotate.lock",
				       "another 'keys rotate-vault' is running on this data "
				       "directory");
	}
	rc = rotation_open(&rt, e);
	if (rc != SMILE_OK)
		goto out;

	/* A rotation that got past destroying its old key needs only the
	 * confirmation: do not start another one. */
	keys = smile_vault_key_ids(smile_keys_vault(rt.g.keys), &cur, &next);
	if (keys == 1 &&
	    smile_store_meta_get(rt.g.store, VAULT_META_ROTATION, row, sizeof(row)) == SMILE_OK &&
	    rotation_parse(row, &rec_old, &rec_new) && rec_new == cur) {
		r->old_kid = rec_old;
		r->new_kid = rec_new;
		r->resumed = 1;
		r->finished_earlier = 1;
		r->serving = !take_serve_lock(&rt);
		rc = confirm_dropped(&rt, e);
		goto out;
	}

	/* 1. the next key, and this process's vault holding both */
	rc = smile_keys_vault_begin(dir, &old_kid, &new_kid, &created, e);
	if (rc != SMILE_OK)
		goto out;
	r->resumed = !created;
	rc = smile_keys_reload_vault(dir, rt.g.keys, NULL, e);
	if (rc != SMILE_OK)
		goto out;
	keys = smile_vault_key_ids(smile_keys_vault(rt.g.keys), &cur, &next);
	if (old_kid == 0) {
		/* a crash destroyed the old key just before the rename: the
		 * record says which it was */
		if (smile_store_meta_get(rt.g.store, VAULT_META_ROTATION, row, sizeof(row)) ==
			    SMILE_OK &&
		    rotation_parse(row, &rec_old, &rec_new) && rec_new == new_kid)
			old_kid = rec_old;
	} else if (keys != 2 || cur != old_kid || next != new_kid) {
		rc = smile_error_set(e, SMILE_ERR_CONFLICT, "keys",
				     "the vault key files changed during the rotation; run it "
				     "again");
		goto out;
	}
	r->old_kid = old_kid;
	r->new_kid = new_kid;
	if (old_kid != 0) {
		snprintf(row, sizeof(row), "%08x %08x", (unsigned)old_kid, (unsigned)new_kid);
		rc = smile_store_meta_set(rt.g.store, VAULT_META_ROTATION, NULL, row, NULL, 0, 0);
		if (rc != SMILE_OK) {
			smile_error_set(e, rc, "store", "cannot record the rotation");
			goto out;
		}
	}
	{
		char ok[9], nk[9];
		kid_hex(old_kid, ok);
		kid_hex(new_kid, nk);
		smile_log(SMILE_LOG_INFO, "vault.rotate_begin", SMILE_KV_ID("old", ok),
			  SMILE_KV_ID("new", nk), SMILE_KV_INT("resumed", r->resumed));
	}

	/* 2. no gateway seals with the old key any more */
	r->serving = !take_serve_lock(&rt);
	if (r->serving) {
		rc = wait_sealing(&rt, new_kid, e);
		if (rc != SMILE_OK)
			goto out;
	}

	/* 3. move every row; stop after a pass that finds nothing to move */
	t0 = now_s();
	for (;;) {
		r->passes++;
		rc = rewrap_pass(&rt, new_kid, &to_move, &failed, &first_failed, e);
		if (rc != SMILE_OK)
			goto out;
		if (to_move == failed || r->passes == MAX_PASSES)
			break;
	}
	r->seconds = now_s() - t0;
	smile_log(SMILE_LOG_INFO, "vault.rewrapped", SMILE_KV_INT("rows", (long long)r->rewrapped),
		  SMILE_KV_INT("skipped", (long long)r->skipped),
		  SMILE_KV_INT("passes", (long long)r->passes),
		  SMILE_KV_DOUBLE("seconds", r->seconds));
	if (to_move == failed && failed > 0) {
		rc = smile_error_set(e, SMILE_ERR_DECRYPT, "personal",
				     "%llu row(s) under the old vault key do not open (first: "
				     "shipment id %llu), so they cannot be moved; the old key is "
				     "kept. Look into them (erase them if they are lost), then run "
				     "this command again",
				     (unsigned long long)failed, (unsigned long long)first_failed);
		goto out;
	}
	if (to_move > failed) {
		rc = smile_error_set(e, SMILE_ERR_BUSY, "personal",
				     "rows under the old vault key kept appearing after %u passes; "
				     "the old key is kept; run this command again",
				     r->passes);
		goto out;
	}

	/* 4. destroy the old key; the next key takes its place */
	rc = smile_keys_vault_finish(dir, old_kid, new_kid, e);
	if (rc != SMILE_OK)
		goto out;
	rc = smile_keys_reload_vault(dir, rt.g.keys, NULL, e); /* and out of our memory */
	if (rc != SMILE_OK)
		goto out;

	/* 5. no gateway holds it either; the audit log says so */
	rc = confirm_dropped(&rt, e);
out:
	if (rt.opened)
		gateway_close(&rt.g);
	if (rt.lock_fd >= 0)
		close(rt.lock_fd);
	close(rot_fd);
	return rc;
}

/* ------------------------------------------------------------ vault check */

struct check {
	const struct smile_vault *v;
	struct vault_check_report *r;
	uint8_t *pt;
};

static int check_row(void *ctx, uint64_t id, const uint8_t *wk, size_t wk_len, const uint8_t *ct,
		     size_t ct_len)
{
	struct check *c = ctx;
	struct vault_check_report *r = c->r;
	uint32_t kid, cur, next;
	uint8_t aad[PERSONAL_AAD_BYTES];
	size_t n = 0;

	r->rows++;
	if (wk == NULL || wk_len != SMILE_VAULT_WRAPPED_KEY_BYTES) {
		r->failed++;
		if (!r->first_failed)
			r->first_failed = id;
		return 0;
	}
	kid = smile_vault_wrapped_key_id(wk);
	smile_vault_key_ids(c->v, &cur, &next);
	if (kid != cur && kid != next) {
		int i;
		r->not_held++;
		for (i = 0; i < r->n_kids && r->kids[i].kid != kid; i++)
			;
		if (i < r->n_kids)
			r->kids[i].rows++;
		else if (r->n_kids < VAULT_CHECK_KIDS) {
			r->kids[r->n_kids].kid = kid;
			r->kids[r->n_kids++].rows = 1;
		}
		return 0;
	}
	personal_aad(id, aad);
	if (smile_vault_open(c->v, aad, sizeof(aad), wk, ct, ct_len, c->pt, SMILE_VAULT_PT_MAX,
			     &n, NULL) == SMILE_OK) {
		r->opened++;
		sodium_memzero(c->pt, n);
	} else {
		r->failed++;
		if (!r->first_failed)
			r->first_failed = id;
	}
	return 0;
}

enum smile_err vault_rotate_check(const char *dir, const char *store, struct vault_check_report *r,
				  struct smile_error *e)
{
	struct gateway g;
	struct smile_keys *keys = NULL;
	char path[PATH_MAX + 32];
	struct check c = {.r = r};
	enum smile_err rc;
	int opened = 0;

	memset(r, 0, sizeof(*r));
	if (store == NULL) {
		/* DIR's own store: its path is in DIR's config */
		rc = gateway_open(&g, dir, e);
		if (rc != SMILE_OK)
			return rc;
		opened = 1;
		rc = gateway_store_url(&g, path, sizeof(path), e);
		if (rc != SMILE_OK)
			goto out;
		store = path;
		c.v = smile_keys_vault(g.keys);
	} else {
		/* a copy: DIR's keys are all that is needed (DIR may hold
		 * nothing else, e.g. a key backup being tested) */
		rc = smile_keys_load(dir, &keys, e);
		if (rc != SMILE_OK)
			return rc;
		c.v = smile_keys_vault(keys);
	}
	/* plaintext lands here and is wiped row by row; sodium_malloc keeps it
	 * out of swap and core dumps like the keys */
	c.pt = sodium_malloc(SMILE_VAULT_PT_MAX);
	if (c.pt == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	rc = smile_store_each_personal(store, check_row, &c, e);
out:
	if (c.pt != NULL)
		sodium_free(c.pt);
	smile_keys_free(keys);
	if (opened)
		gateway_close(&g);
	return rc;
}
