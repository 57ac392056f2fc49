/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scan pipeline (gateway/scan.c) without a broker or a database: a fake
 * ops table holds devices, shipments and reveal counts in memory and records
 * what the pipeline publishes, audits and commits. Devices are real (the
 * device core's keys, scans signed with them, replies opened with
 * smile_device_open_reply), and so are the gateway's keys (a key set made by
 * smile_keys_create in a scratch directory), its tokens and its vault.
 *
 *   refusal_table        every reason of docs/protocol.md 6.2 that the
 *                        gateway sends outside the policy table, one row
 *                        each: status, reason, the reply's seq, whether the
 *                        scan was committed, audited once, counted once
 *   policy_table         the reveal policy of 7.4, read from the page: for
 *                        every row, a combination of facts for which it is
 *                        the first match is set up in the fake and scanned;
 *                        the reply and the committed effects must be the
 *                        row's (a reveal opens for the device, not for
 *                        another; quota_exceeded suspends and alerts)
 *   retransmission       7.3: stored reply resent; revealing one resent and
 *                        audited while fresh; stale and erased answers
 *   commit_outcomes      the store failing or racing an erasure, and
 *                        refusing the commit
 *   two_nodes_quota      two lanes (two gateway nodes) reveal to one device
 *                        at its last reveal, both commits pending: the
 *                        second commit gets the quota-reached outcome the
 *                        pipeline prepared (denied, suspended, alerted)
 *   two_nodes_same_seq   a seq committed first by the other node: the same
 *                        bytes get the stored reply (a revealing one
 *                        audited as a resend), other bytes a replay, and a
 *                        device suspended meanwhile "suspended"
 *
 * The fake's commit follows store.h's rules for struct smile_store_scan
 * (over_quota, result); tests/integration/test_cluster.sh checks the real
 * store with two real nodes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../gateway/keys.h"
#include "../../../gateway/metrics.h"
#include "../../../gateway/personal.h"
#include "../../../gateway/scan.h"
#include "../../../gateway/token.h"
#include "smile/device.h"

#define NOW 1800000000000LL
#define QUOTA 5
#define MAXREC 16

static const char request[] =
	"{\"recipient\":{\"name\":\"张三明\",\"phone\":\"13812345678\",\"address\":{"
	"\"country\":\"CN\",\"province\":\"湖北省\",\"city\":\"武汉市\",\"district\":\"江汉区\","
	"\"street\":\"建设大道568号\",\"detail\":\"3栋2单元1502室\"}},"
	"\"sender\":{\"name\":\"王二\",\"phone\":\"027-85699449\",\"address\":{\"city\":\"武汉市\","
	"\"street\":\"中山大道1号\"}},\"weight_g\":500}";
static const char contact[] = "{\"name\":\"张三明\",\"phone\":\"13812345678\","
			      "\"address\":\"湖北省 武汉市 江汉区 建设大道568号 3栋2单元1502室\"}";
static const char view[] = "{\"waybill\":\"SW2601010000017\",\"sort_code\":\"ABC-DEF-GH\","
			   "\"name\":\"张**\",\"phone\":\"138*******8\",\"address\":\"湖北省 ****\","
			   "\"parcel\":{\"index\":1,\"count\":1}}";

/* ------------------------------------------------------------ the fake */

struct fdev {
	struct smile_store_device row; /* last_reply owned here */
	struct smile_device_keys k;
	struct smile_device d; /* the handheld's side */
};

struct fship {
	struct smile_store_shipment row; /* public_json/device_view unused here */
	struct smile_store_personal personal;
};

struct pub {
	char topic[96];
	uint8_t p[SMILE_REPLY_MAX_BYTES];
	size_t n;
};

struct aud {
	char kind[24], subject[40], actor[40], detail[40];
};

struct com {
	uint64_t seq;
	int has_event, custody, reveal, suspend;
	char event[SMILE_STORE_STATUS_MAX];
	size_t n_audit;
	struct aud audit;
};

struct fake {
	struct fdev devs[4];
	int n_devs;
	struct fship ship;
	int have_ship;
	uint64_t reveals; /* what count_reveals says */
	int64_t now;
	/* injected faults */
	enum smile_err device_rc, shipment_rc, count_rc, submit_rc, commit_rc, audit_rc;
	int opened; /* open_contact calls */
	/* deferred commits (two nodes whose commits are both pending) */
	int defer;
	struct deferred {
		const struct smile_store_scan *sc;
		smile_store_done_fn done;
		void *arg;
	} queued[MAXREC];
	int n_queued;
	int n_applied; /* scans whose effects were applied */
	struct pub pubs[MAXREC];
	int n_pubs;
	struct aud auds[MAXREC];
	int n_auds;
	struct com coms[MAXREC];
	int n_coms;
};

static struct smile_keys *keys;
static struct fake F;
static struct scan_lane *lane;

static struct fdev *find_dev(const char *id)
{
	for (int i = 0; i < F.n_devs; i++)
		if (strcmp(F.devs[i].row.id, id) == 0)
			return &F.devs[i];
	return NULL;
}

static enum smile_err f_get_device(void *ctx, const char *id, struct smile_store_device *out)
{
	struct fdev *d = find_dev(id);
	(void)ctx;
	if (F.device_rc)
		return F.device_rc;
	if (d == NULL)
		return SMILE_ERR_NOT_FOUND;
	*out = d->row;
	if (d->row.last_reply) {
		out->last_reply = malloc(d->row.last_reply_len);
		assert_non_null(out->last_reply);
		memcpy(out->last_reply, d->row.last_reply, d->row.last_reply_len);
	}
	return SMILE_OK;
}

static enum smile_err f_get_shipment(void *ctx, uint64_t id, struct smile_store_shipment *out)
{
	(void)ctx;
	if (F.shipment_rc)
		return F.shipment_rc;
	if (!F.have_ship || F.ship.row.id != id)
		return SMILE_ERR_NOT_FOUND;
	*out = F.ship.row;
	out->public_json = strdup("{}");
	out->device_view = strdup(view);
	assert_true(out->public_json && out->device_view);
	return SMILE_OK;
}

static enum smile_err f_count_reveals(void *ctx, const char *device, int64_t since, uint64_t *n)
{
	(void)ctx;
	(void)device;
	assert_true(since == F.now - 24LL * 3600 * 1000);
	if (F.count_rc)
		return F.count_rc;
	*n = F.reveals;
	return SMILE_OK;
}

/* What relay.c's op does, on the in-memory row: the personal record's one
 * owner opens it. */
static enum smile_err f_open_contact(void *ctx, uint64_t id, char *out, size_t cap, size_t *len)
{
	(void)ctx;
	F.opened++;
	if (!F.have_ship || F.ship.row.id != id)
		return SMILE_ERR_NOT_FOUND;
	if (F.ship.row.erased_ms)
		return SMILE_ERR_SHREDDED;
	return personal_open(smile_keys_vault(keys), &F.ship.personal, id, out, cap, len, NULL);
}

static void copy_audit(struct aud *a, const struct smile_audit_entry *e)
{
	snprintf(a->kind, sizeof(a->kind), "%s", e->kind);
	snprintf(a->subject, sizeof(a->subject), "%s", e->subject);
	snprintf(a->actor, sizeof(a->actor), "%s", e->actor);
	snprintf(a->detail, sizeof(a->detail), "%s", e->detail);
}

static void record_audit(const struct smile_audit_entry *e)
{
	assert_true(F.n_auds < MAXREC);
	copy_audit(&F.auds[F.n_auds++], e);
}

/* store.c's scan_taken: the seq was taken; what the device is owed. */
static enum smile_err taken(const struct smile_store_scan *sc, struct fdev *d)
{
	struct smile_store_scan_result *res = sc->result;
	const char *wb = sc->event ? sc->event->waybill : sc->subject ? sc->subject : "-";
	struct smile_audit_entry a = {"refusal", "-", sc->device_id, "replay"};

	res->reply_len = 0;
	if (d->row.status != SMILE_DEV_ACTIVE) {
		res->outcome = SMILE_SCAN_STANDING;
		res->standing = d->row.status;
		a.detail = d->row.status == SMILE_DEV_REVOKED ? "revoked" : "suspended";
	} else if (d->row.last_seq == sc->seq && memcmp(d->row.last_digest, sc->digest, 32) == 0) {
		res->outcome = SMILE_SCAN_RETRANSMIT;
		res->revealed = d->row.last_revealed;
		assert_true(d->row.last_reply_len <= res->reply_cap);
		if (d->row.last_reply) {
			memcpy(res->reply, d->row.last_reply, d->row.last_reply_len);
			res->reply_len = d->row.last_reply_len;
		}
		if (d->row.last_reply && !d->row.last_revealed)
			return SMILE_OK;
		a = d->row.last_reply
			    ? (struct smile_audit_entry){"reveal", wb, sc->device_id, "resend"}
			    : (struct smile_audit_entry){"refusal", wb, sc->device_id, "erased"};
	} else {
		res->outcome = SMILE_SCAN_REPLAY;
	}
	record_audit(&a);
	return SMILE_OK;
}

/* The store's semantics for one scan commit (store.h), applied at once. */
static enum smile_err apply(const struct smile_store_scan *sc)
{
	struct fdev *d = find_dev(sc->device_id);
	assert_non_null(d);
	if (F.commit_rc)
		return F.commit_rc;
	if (sc->result)
		sc->result->outcome = SMILE_SCAN_APPLIED;
	if (sc->reveal && sc->event && F.ship.row.erased_ms)
		return SMILE_ERR_SHREDDED;
	if (sc->result && sc->reveal && sc->event && sc->over_quota &&
	    F.reveals >= (uint64_t)sc->quota) {
		sc->result->outcome = SMILE_SCAN_OVER_QUOTA;
		sc->result->reveals = F.reveals;
		sc = sc->over_quota; /* its result is the outer one's */
	}
	if (sc->seq <= d->row.last_seq || d->row.status != SMILE_DEV_ACTIVE)
		return SMILE_ERR_REPLAY;
	F.n_applied++;
	if (sc->reveal)
		F.reveals++; /* count_reveals sees it from now on */
	d->row.last_seq = sc->seq;
	memcpy(d->row.last_digest, sc->digest, 32);
	free(d->row.last_reply);
	d->row.last_reply = malloc(sc->reply_len);
	assert_non_null(d->row.last_reply);
	memcpy(d->row.last_reply, sc->reply, sc->reply_len);
	d->row.last_reply_len = sc->reply_len;
	d->row.last_shipment_id = sc->event ? sc->event->shipment_id : 0;
	d->row.last_revealed = sc->reveal;
	if (sc->event) {
		sc->event->id = 42;
		if (sc->custody)
			snprintf(F.ship.row.holder, sizeof(F.ship.row.holder), "%s", sc->device_id);
	}
	if (sc->suspend)
		d->row.status = SMILE_DEV_SUSPENDED;
	return SMILE_OK;
}

/* One commit as the store's transaction runs it. */
static enum smile_err commit_one(const struct smile_store_scan *sc)
{
	enum smile_err rc = apply(sc);
	if (rc == SMILE_ERR_REPLAY && sc->result)
		return taken(sc, find_dev(sc->device_id));
	return rc;
}

/* Deferred commits, one after the other, as the store would. */
static void flush(void)
{
	for (int i = 0; i < F.n_queued; i++)
		F.queued[i].done(F.queued[i].arg, commit_one(F.queued[i].sc));
	F.n_queued = 0;
}

static enum smile_err f_commit_async(void *ctx, const struct smile_store_scan *sc,
				     smile_store_done_fn done, void *arg)
{
	struct com *c;
	(void)ctx;
	if (F.submit_rc)
		return F.submit_rc;
	assert_true(F.n_coms < MAXREC);
	c = &F.coms[F.n_coms++];
	memset(c, 0, sizeof(*c));
	c->seq = sc->seq;
	c->has_event = sc->event != NULL;
	if (sc->event)
		snprintf(c->event, sizeof(c->event), "%s", sc->event->event);
	c->custody = sc->custody;
	c->reveal = sc->reveal;
	c->suspend = sc->suspend;
	c->n_audit = sc->n_audit;
	if (sc->n_audit)
		copy_audit(&c->audit, sc->audit);
	if (F.defer) {
		assert_true(F.n_queued < MAXREC);
		F.queued[F.n_queued++] = (struct deferred){sc, done, arg};
		return SMILE_OK;
	}
	done(arg, commit_one(sc));
	return SMILE_OK;
}

static enum smile_err f_audit(void *ctx, const struct smile_audit_entry *a, size_t n, int64_t t)
{
	(void)ctx;
	assert_int_equal(n, 1);
	assert_true(t == F.now);
	if (F.audit_rc)
		return F.audit_rc;
	assert_true(F.n_auds < MAXREC);
	copy_audit(&F.auds[F.n_auds++], a);
	return SMILE_OK;
}

static void f_publish(void *ctx, const char *topic, const void *p, size_t n)
{
	struct pub *o;
	(void)ctx;
	assert_true(F.n_pubs < MAXREC);
	assert_true(n <= sizeof(o->p));
	o = &F.pubs[F.n_pubs++];
	snprintf(o->topic, sizeof(o->topic), "%s", topic);
	memcpy(o->p, p, n);
	o->n = n;
}

static int64_t f_now(void *ctx)
{
	(void)ctx;
	return F.now;
}

static const struct scan_ops fake_ops = {
	.ctx = &F,
	.get_device = f_get_device,
	.get_shipment = f_get_shipment,
	.count_reveals = f_count_reveals,
	.open_contact = f_open_contact,
	.commit_async = f_commit_async,
	.audit = f_audit,
	.publish = f_publish,
	.now = f_now,
};

/* ------------------------------------------------------------ world */

static char keydir[64];

static int rm_one(const char *p, const struct stat *s, int flag, struct FTW *f)
{
	(void)s;
	(void)flag;
	(void)f;
	return remove(p);
}

static int group_setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	snprintf(keydir, sizeof(keydir), "/tmp/test_scan.XXXXXX");
	assert_non_null(mkdtemp(keydir));
	assert_int_equal(smile_keys_create(keydir, NULL), SMILE_OK);
	assert_int_equal(smile_keys_load(keydir, &keys, NULL), SMILE_OK);
	nftw(keydir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	lane = scan_lane_new(&(const struct scan_config){.keys = keys,
							 .skew_s = 300,
							 .reveal_quota = QUOTA},
			     &fake_ops);
	assert_non_null(lane);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	scan_lane_free(lane);
	smile_keys_free(keys);
	return 0;
}

static void world_reset(void)
{
	for (int i = 0; i < F.n_devs; i++) {
		free(F.devs[i].row.last_reply);
		smile_device_wipe(&F.devs[i].d);
		smile_device_keys_wipe(&F.devs[i].k);
	}
	smile_store_personal_release(&F.ship.personal);
	memset(&F, 0, sizeof(F));
	F.now = NOW;
}

static struct fdev *add_device(const char *id, enum smile_device_role role, const char *zone)
{
	struct fdev *d = &F.devs[F.n_devs++];
	assert_int_equal(smile_device_keygen(id, &d->k, NULL), SMILE_OK);
	assert_int_equal(smile_device_init(&d->d, &d->k, smile_keys_sign_pk(keys),
					   smile_keys_box_pk(keys), NULL),
			 SMILE_OK);
	snprintf(d->row.id, sizeof(d->row.id), "%s", id);
	memcpy(d->row.sign_pk, d->k.sign_pk, 32);
	memcpy(d->row.box_pk, d->k.box_pk, 32);
	d->row.role = role;
	snprintf(d->row.zone, sizeof(d->row.zone), "%s", zone);
	return d;
}

static void add_shipment(uint64_t id)
{
	json_t *j = json_loads(request, 0, NULL);
	struct shipment_req req;
	assert_non_null(j);
	assert_int_equal(shipment_parse(j, &req, NULL), SMILE_OK);
	F.ship.row.id = id;
	snprintf(F.ship.row.waybill, sizeof(F.ship.row.waybill), "SW2601010000017");
	snprintf(F.ship.row.merchant, sizeof(F.ship.row.merchant), "acme");
	F.ship.row.status = SMILE_SHIPMENT_CREATED;
	snprintf(F.ship.row.region, sizeof(F.ship.row.region), "CN/湖北省/武汉市/江汉区");
	assert_int_equal(personal_seal(smile_keys_vault(keys), &req, id, &F.ship.personal, NULL),
			 SMILE_OK);
	F.have_ship = 1;
	json_decref(j);
}

static void token_for(uint64_t id, char tok[SMILE_TOKEN_MAX])
{
	assert_int_equal(smile_token_mint(smile_keys_token(keys), id, tok, NULL), SMILE_OK);
}

/* A scan signed by `signer` claiming to be device `d`. */
struct msg {
	uint8_t b[SMILE_SCAN_MAX_BYTES + 1];
	size_t n;
};

static void build(struct msg *m, const struct fdev *d, const uint8_t *signer_sk, uint64_t seq,
		  enum smile_event ev, const char *token, int64_t time_ms, int64_t scanned_ms)
{
	const struct smile_scan s = {
		.device_id = d->row.id,
		.device_id_len = strlen(d->row.id),
		.seq = seq,
		.time_ms = (uint64_t)time_ms,
		.scanned_ms = (uint64_t)scanned_ms,
		.event = ev,
		.token = (const uint8_t *)token,
		.token_len = strlen(token),
	};
	assert_int_equal(smile_scan_encode(&s, signer_sk ? signer_sk : d->k.sign_sk, m->b,
					   sizeof(m->b), &m->n, NULL),
			 SMILE_OK);
}

static void scan_as(const char *topic_device, const struct msg *m, const uint8_t *digest)
{
	scan_process(lane, &(const struct scan_input){
				   .topic_device = topic_device,
				   .data = m->b,
				   .len = m->n,
				   .digest = digest,
			   });
}

/* The reply to `m` in publication i, checked as the device does: signed by
 * the gateway, for this device and scan; contact opened when revealed. */
static struct smile_reply open_reply(const struct fdev *d, const struct msg *m, int i,
				     char *out, size_t *out_len)
{
	struct smile_reply r;
	char topic[SMILE_PROTO_TOPIC_MAX];
	assert_true(i < F.n_pubs);
	assert_int_equal(smile_proto_topic(topic, sizeof(topic), d->row.id, SMILE_TOPIC_REPLY),
			 SMILE_OK);
	assert_string_equal(F.pubs[i].topic, topic);
	assert_int_equal(smile_device_open_reply(&d->d, m->b, m->n, F.pubs[i].p, F.pubs[i].n, &r,
						 (uint8_t *)out, SMILE_PROTO_CONTACT_MAX, out_len,
						 NULL),
			 SMILE_OK);
	return r;
}

/* ------------------------------------------------------------ refusals */

/* One row: what the world and the message look like, what must come back. */
struct refusal_row {
	const char *name;
	enum smile_status status;
	enum smile_reason reason;
	int seq_zero;  /* 7.1 step 1: nothing in the message is trusted */
	int committed; /* accepted (7.1 step 7 on): seq advances, reply stored */
	void (*prepare)(struct msg *m, const char **topic, const uint8_t **digest);
};

static char tok[SMILE_TOKEN_MAX];
static uint8_t big_digest[32];

/* c1, active courier, last seq 5; shipment 7; a valid pickup by default */
static void base(struct msg *m, const char *token)
{
	struct fdev *d = find_dev("c1");
	build(m, d, NULL, 6, SMILE_EVENT_PICKUP, token, NOW, NOW);
}

static void p_empty(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	m->n = 0;
}
static void p_version(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	base(m, tok);
	m->b[0] = 2;
}
static void p_short(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	base(m, tok);
	m->n -= 1; /* signature truncated */
}
static void p_too_large(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	memset(m->b, 0xA5, sizeof(m->b));
	m->b[0] = 1;
	m->n = SMILE_SCAN_MAX_BYTES + 1; /* truncated copy of 10 kB */
	memset(big_digest, 0x5A, sizeof(big_digest));
	*dg = big_digest;
}
static void p_wrong_topic(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)dg;
	base(m, tok);
	*t = "c2";
}
static void p_unknown_device(struct msg *m, const char **t, const uint8_t **dg)
{
	struct fdev *d = add_device("ghost", SMILE_DEV_COURIER, "");
	(void)dg;
	build(m, d, NULL, 1, SMILE_EVENT_PICKUP, tok, NOW, NOW);
	F.n_devs--; /* never enrolled */
	*t = "ghost";
}
static void p_device_fault(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	base(m, tok);
	F.device_rc = SMILE_ERR_STORE;
}
static void p_bad_signature(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	build(m, find_dev("c1"), find_dev("c2")->k.sign_sk, 6, SMILE_EVENT_PICKUP, tok, NOW, NOW);
}
static void p_suspended(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	base(m, tok);
	find_dev("c1")->row.status = SMILE_DEV_SUSPENDED;
}
static void p_revoked(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	base(m, tok);
	find_dev("c1")->row.status = SMILE_DEV_REVOKED;
}
static void p_replay_old(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	build(m, find_dev("c1"), NULL, 4, SMILE_EVENT_PICKUP, tok, NOW, NOW);
}
static void p_replay_same_seq(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	build(m, find_dev("c1"), NULL, 5, SMILE_EVENT_PICKUP, tok, NOW, NOW); /* other bytes */
}
static void p_stale(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	build(m, find_dev("c1"), NULL, 6, SMILE_EVENT_PICKUP, tok, NOW - 300001, NOW - 300001);
}
static void p_fast_clock(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	build(m, find_dev("c1"), NULL, 6, SMILE_EVENT_PICKUP, tok, NOW + 300001, NOW + 300001);
}
static void p_offline_too_long(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	build(m, find_dev("c1"), NULL, 6, SMILE_EVENT_PICKUP, tok, NOW, NOW - 24LL * 3600000 - 1);
}
static void p_token_malformed(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	base(m, "HELLO WORLD");
}
static void p_token_version(struct msg *m, const char **t, const uint8_t **dg)
{
	char v[SMILE_TOKEN_MAX];
	(void)t;
	(void)dg;
	snprintf(v, sizeof(v), "%s", tok);
	v[2] = '2';
	base(m, v);
}
static void p_token_truncated(struct msg *m, const char **t, const uint8_t **dg)
{
	char v[SMILE_TOKEN_MAX];
	(void)t;
	(void)dg;
	snprintf(v, sizeof(v), "%.*s", (int)strlen(tok) - 3, tok);
	base(m, v);
}
static void p_token_unknown_key(struct msg *m, const char **t, const uint8_t **dg)
{
	uint8_t k[SMILE_TOKEN_KEY_BYTES] = {1}, n[SMILE_TOKEN_NONCE_BYTES] = {2};
	char v[SMILE_TOKEN_MAX];
	(void)t;
	(void)dg;
	assert_int_equal(smile_token_mint_det(k, 200, n, 7, v, NULL), SMILE_OK);
	base(m, v);
}
static void p_token_tampered(struct msg *m, const char **t, const uint8_t **dg)
{
	uint8_t k[SMILE_TOKEN_KEY_BYTES] = {1}, n[SMILE_TOKEN_NONCE_BYTES] = {2};
	char v[SMILE_TOKEN_MAX];
	(void)t;
	(void)dg;
	/* the gateway's key id, another key */
	assert_int_equal(smile_token_mint_det(k, SMILE_KEYS_FIRST_TOKEN_KID, n, 7, v, NULL),
			 SMILE_OK);
	base(m, v);
}
static void p_unknown_shipment(struct msg *m, const char **t, const uint8_t **dg)
{
	char v[SMILE_TOKEN_MAX];
	(void)t;
	(void)dg;
	token_for(8, v);
	base(m, v);
}
static void p_shipment_fault(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	base(m, tok);
	F.shipment_rc = SMILE_ERR_STORE;
}
static void p_count_fault(struct msg *m, const char **t, const uint8_t **dg)
{
	(void)t;
	(void)dg;
	base(m, tok);
	F.count_rc = SMILE_ERR_STORE;
}

static const struct refusal_row refusals[] = {
	/* 7.1 steps 1-6: refused, nothing committed */
	{"empty", SMILE_STATUS_ERROR, SMILE_REASON_BAD_MESSAGE, 1, 0, p_empty},
	{"version byte", SMILE_STATUS_ERROR, SMILE_REASON_PROTOCOL_VERSION, 1, 0, p_version},
	{"truncated", SMILE_STATUS_ERROR, SMILE_REASON_BAD_MESSAGE, 1, 0, p_short},
	{"too large", SMILE_STATUS_ERROR, SMILE_REASON_BAD_MESSAGE, 1, 0, p_too_large},
	{"wrong topic", SMILE_STATUS_DENIED, SMILE_REASON_WRONG_TOPIC, 0, 0, p_wrong_topic},
	{"unknown device", SMILE_STATUS_DENIED, SMILE_REASON_UNKNOWN_DEVICE, 0, 0,
	 p_unknown_device},
	{"device read fault", SMILE_STATUS_ERROR, SMILE_REASON_INTERNAL, 0, 0, p_device_fault},
	{"bad signature", SMILE_STATUS_DENIED, SMILE_REASON_BAD_SIGNATURE, 0, 0, p_bad_signature},
	{"suspended", SMILE_STATUS_DENIED, SMILE_REASON_SUSPENDED, 0, 0, p_suspended},
	{"revoked", SMILE_STATUS_DENIED, SMILE_REASON_REVOKED, 0, 0, p_revoked},
	{"replay, older seq", SMILE_STATUS_DENIED, SMILE_REASON_REPLAY, 0, 0, p_replay_old},
	{"replay, same seq other bytes", SMILE_STATUS_DENIED, SMILE_REASON_REPLAY, 0, 0,
	 p_replay_same_seq},
	/* 7.1 steps 8-9: accepted, so committed with its answer */
	{"stale", SMILE_STATUS_DENIED, SMILE_REASON_STALE, 0, 1, p_stale},
	{"clock fast", SMILE_STATUS_DENIED, SMILE_REASON_STALE, 0, 1, p_fast_clock},
	{"offline too long", SMILE_STATUS_DENIED, SMILE_REASON_STALE, 0, 1, p_offline_too_long},
	{"token malformed", SMILE_STATUS_DENIED, SMILE_REASON_TOKEN_MALFORMED, 0, 1,
	 p_token_malformed},
	{"token version", SMILE_STATUS_DENIED, SMILE_REASON_TOKEN_VERSION, 0, 1, p_token_version},
	{"token truncated", SMILE_STATUS_DENIED, SMILE_REASON_TOKEN_TRUNCATED, 0, 1,
	 p_token_truncated},
	{"token unknown key", SMILE_STATUS_DENIED, SMILE_REASON_TOKEN_UNKNOWN_KEY, 0, 1,
	 p_token_unknown_key},
	{"token tampered", SMILE_STATUS_DENIED, SMILE_REASON_TOKEN_TAMPERED, 0, 1,
	 p_token_tampered},
	{"unknown shipment", SMILE_STATUS_DENIED, SMILE_REASON_UNKNOWN_SHIPMENT, 0, 1,
	 p_unknown_shipment},
	/* a store fault after acceptance: error / internal, not stored, so
	 * the device's retransmission is processed as new (7.1) */
	{"shipment read fault", SMILE_STATUS_ERROR, SMILE_REASON_INTERNAL, 0, 0, p_shipment_fault},
	{"reveal count fault", SMILE_STATUS_ERROR, SMILE_REASON_INTERNAL, 0, 0, p_count_fault},
};

static void refusal_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal_row *row = &refusals[i];
		struct msg m = {.n = 0};
		const char *topic = "c1";
		const uint8_t *digest = NULL;
		uint8_t want_digest[32];
		struct smile_reply r;
		char rt[SMILE_PROTO_TOPIC_MAX];
		uint64_t denials = smile_metrics_get(SMILE_COUNTER_DENIALS);
		uint64_t scans = smile_metrics_get(SMILE_COUNTER_SCANS);

		print_message("row: %s\n", row->name);
		world_reset();
		add_device("c1", SMILE_DEV_COURIER, "")->row.last_seq = 5;
		add_device("c2", SMILE_DEV_COURIER, "");
		add_shipment(7);
		token_for(7, tok);
		row->prepare(&m, &topic, &digest);
		scan_as(topic, &m, digest);

		/* one reply, to the topic's device, signed by the gateway */
		assert_int_equal(F.n_pubs, 1);
		assert_int_equal(smile_proto_topic(rt, sizeof(rt), topic, SMILE_TOPIC_REPLY),
				 SMILE_OK);
		assert_string_equal(F.pubs[0].topic, rt);
		assert_int_equal(smile_reply_verify(F.pubs[0].p, F.pubs[0].n,
						    smile_keys_sign_pk(keys), NULL),
				 SMILE_OK);
		assert_int_equal(smile_reply_decode(F.pubs[0].p, F.pubs[0].n, &r, NULL), SMILE_OK);
		assert_int_equal(r.status, row->status);
		assert_int_equal(r.reason, row->reason);
		assert_int_equal(r.sealed_len, 0);
		assert_int_equal(r.device_id_len, strlen(topic));
		assert_memory_equal(r.device_id, topic, strlen(topic));
		if (digest)
			memcpy(want_digest, digest, 32);
		else
			assert_int_equal(smile_scan_digest(m.b, m.n, want_digest), SMILE_OK);
		assert_memory_equal(r.scan_digest, want_digest, 32);
		if (row->seq_zero) {
			assert_int_equal(r.seq, 0);
		} else {
			struct smile_scan s;
			assert_int_equal(smile_scan_decode(m.b, m.n, &s, NULL), SMILE_OK);
			assert_int_equal(r.seq, s.seq);
		}
		assert_true(r.time_ms == (uint64_t)NOW);
		assert_int_equal(smile_metrics_get(SMILE_COUNTER_SCANS), scans + 1);
		/* refused (or denied) once: one audit entry, one denial */
		if (row->committed) {
			assert_int_equal(F.n_coms, 1);
			assert_int_equal(F.n_auds, 0);
			assert_false(F.coms[0].has_event || F.coms[0].reveal || F.coms[0].custody);
			assert_int_equal(F.coms[0].n_audit, 1);
			assert_string_equal(F.coms[0].audit.kind, "refusal");
			assert_string_equal(F.coms[0].audit.detail,
					    smile_proto_reason_name(row->reason));
			/* the stored answer is the one sent */
			assert_int_equal(find_dev("c1")->row.last_seq, 6);
			assert_int_equal(find_dev("c1")->row.last_reply_len, F.pubs[0].n);
			assert_memory_equal(find_dev("c1")->row.last_reply, F.pubs[0].p, F.pubs[0].n);
		} else {
			assert_int_equal(F.n_coms, 0);
			assert_int_equal(F.n_auds, 1);
			assert_string_equal(F.auds[0].kind, "refusal");
			/* the subject is the waybill once the shipment was read */
			assert_string_equal(F.auds[0].subject, row->prepare == p_count_fault
								       ? "SW2601010000017"
								       : "-");
			assert_string_equal(F.auds[0].actor, topic);
			assert_string_equal(F.auds[0].detail, smile_proto_reason_name(row->reason));
		}
		assert_int_equal(smile_metrics_get(SMILE_COUNTER_DENIALS), denials + 1);
		/* nothing about the recipient was opened for a refusal */
		assert_int_equal(F.opened, 0);
	}
	world_reset();
}

/* ------------------------------------------------------------ the policy table */

enum fact { F_DEVICE, F_ROLE, F_EVENT, F_SHIPMENT, F_HOLDS, F_DATA, F_ZONE, F_QUOTA, F_N };

static const char *const device_v[] = {"active", "suspended", "revoked", NULL};
static const char *const role_v[] = {"courier", "hub", "supervisor", NULL};
static const char *const event_v[] = {"pickup",          "hub_in",    "hub_out",  "out_for_delivery",
				      "delivery_failed", "delivered", "returned", NULL};
static const char *const shipment_v[] = {"open", "delivered", "returned", NULL};
static const char *const yesno_v[] = {"yes", "no", NULL};
static const char *const data_v[] = {"held", "erased", NULL};
static const char *const zone_v[] = {"in", "out", NULL};
static const char *const quota_v[] = {"under", "reached", NULL};
static const char *const *const values[F_N] = {device_v, role_v,  event_v, shipment_v,
					       yesno_v,  data_v,  zone_v,  quota_v};

struct rule {
	unsigned match[F_N];
	enum smile_status status;
	enum smile_reason reason;
};

static int n_values(int f)
{
	int n = 0;
	while (values[f][n])
		n++;
	return n;
}

static char *trim(char *s)
{
	size_t n;
	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static unsigned parse_set(int f, char *cell)
{
	unsigned set = 0;
	char *save = NULL;
	if (strcmp(cell, "*") == 0)
		return (1u << n_values(f)) - 1;
	for (char *w = strtok_r(cell, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		int i;
		w = trim(w);
		for (i = 0; values[f][i] && strcmp(values[f][i], w) != 0; i++)
			;
		if (values[f][i] == NULL)
			fail_msg("policy table: '%s' is not a value of column %d", w, f + 2);
		set |= 1u << i;
	}
	return set;
}

/* docs/protocol.md, between the reveal-policy markers (as test_policy.c). */
static int load_rules(struct rule *rules, int max)
{
	char line[2048], path[4096];
	const char *root = getenv("SMILE_ROOT");
	int in_table = 0, n = 0;
	FILE *f = NULL;

	if (root) {
		snprintf(path, sizeof(path), "%s/docs/protocol.md", root);
		f = fopen(path, "r");
	}
	if (f == NULL)
		f = fopen("docs/protocol.md", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *c[F_N + 3], *s = line + 1, *bar;
		int nc = 0;
		if (strncmp(line, "<!-- BEGIN reveal-policy", 24) == 0)
			in_table = 1;
		if (strncmp(line, "<!-- END reveal-policy", 22) == 0)
			break;
		if (!in_table || line[0] != '|' || !(line[2] >= '0' && line[2] <= '9'))
			continue;
		while (nc < F_N + 3 && (bar = strchr(s, '|')) != NULL) {
			*bar = '\0';
			c[nc++] = trim(s);
			s = bar + 1;
		}
		assert_int_equal(nc, F_N + 3);
		assert_true(n < max);
		assert_int_equal(strtol(c[0], NULL, 10), n + 1);
		for (int k = 0; k < F_N; k++)
			rules[n].match[k] = parse_set(k, c[k + 1]);
		assert_int_equal(smile_proto_status_from_name(c[F_N + 1], &rules[n].status), SMILE_OK);
		assert_int_equal(smile_proto_reason_from_name(c[F_N + 2], &rules[n].reason), SMILE_OK);
		n++;
	}
	fclose(f);
	return n;
}

static int first_match(const struct rule *rules, int n, const int v[F_N])
{
	for (int i = 0; i < n; i++) {
		int all = 1;
		for (int k = 0; k < F_N; k++)
			all &= (int)((rules[i].match[k] >> v[k]) & 1u);
		if (all)
			return i;
	}
	return -1;
}

/* Set the fake up with the facts v and scan once, as device "d1". */
static void run_facts(const int v[F_N], const struct rule *want, int row)
{
	static const enum smile_device_status st[] = {SMILE_DEV_ACTIVE, SMILE_DEV_SUSPENDED,
						      SMILE_DEV_REVOKED};
	static const enum smile_device_role roles[] = {SMILE_DEV_COURIER, SMILE_DEV_HUB,
						       SMILE_DEV_SUPERVISOR};
	static const char *const ship[] = {"hub_out", "delivered", "returned"};
	enum smile_event ev = (enum smile_event)(SMILE_EVENT_FIRST + v[F_EVENT]);
	struct fdev *d, *other;
	struct msg m;
	struct smile_reply r;
	char out[SMILE_PROTO_CONTACT_MAX];
	size_t out_len = 0;
	int recorded = want->status == SMILE_STATUS_REVEALED || want->status == SMILE_STATUS_RECORDED;

	world_reset();
	d = add_device("d1", roles[v[F_ROLE]], v[F_ZONE] == 0 ? "CN/湖北省/武汉市" : "CN/上海市");
	d->row.status = st[v[F_DEVICE]];
	other = add_device("d2", SMILE_DEV_COURIER, "");
	add_shipment(11);
	assert_int_equal(smile_shipment_status_parse(ship[v[F_SHIPMENT]], &F.ship.row.status),
			 SMILE_OK);
	snprintf(F.ship.row.holder, sizeof(F.ship.row.holder), "%s", v[F_HOLDS] == 0 ? "d1" : "d2");
	if (v[F_DATA] == 1) {
		F.ship.row.erased_ms = NOW - 1000;
		smile_store_personal_release(&F.ship.personal);
		memset(&F.ship.personal, 0, sizeof(F.ship.personal));
	}
	F.reveals = v[F_QUOTA] == 0 ? QUOTA - 1 : QUOTA;
	token_for(11, tok);
	build(&m, d, NULL, 1, ev, tok, NOW, NOW - 60000);
	scan_as("d1", &m, NULL);

	print_message("row %d: %s %s %s %s holds=%s %s zone=%s quota=%s\n", row + 1,
		      device_v[v[0]], role_v[v[1]], event_v[v[2]], shipment_v[v[3]], yesno_v[v[4]],
		      data_v[v[5]], zone_v[v[6]], quota_v[v[7]]);
	assert_true(F.n_pubs >= 1);
	r = open_reply(d, &m, 0, out, &out_len);
	assert_int_equal(r.status, want->status);
	assert_int_equal(r.reason, want->reason);
	if (want->status == SMILE_STATUS_REVEALED) {
		/* the contact, for this device and only for it */
		assert_int_equal(out_len, strlen(contact));
		assert_memory_equal(out, contact, out_len);
		assert_int_not_equal(smile_device_open_reply(&other->d, m.b, m.n, F.pubs[0].p,
							     F.pubs[0].n, &r, (uint8_t *)out,
							     sizeof(out), &out_len, NULL),
				     SMILE_OK);
		uint8_t pt[SMILE_PROTO_CONTACT_MAX];
		size_t pt_len = 9;
		uint8_t wrong[SMILE_PROTO_KEY_BYTES];
		assert_int_equal(smile_proto_shared_key(other->k.box_sk, smile_keys_box_pk(keys),
							wrong),
				 SMILE_OK);
		assert_int_equal(smile_reply_open_contact(F.pubs[0].p, F.pubs[0].n, wrong, pt,
							  sizeof(pt), &pt_len, NULL),
				 SMILE_ERR_DECRYPT);
		assert_int_equal(pt_len, 0);
	} else {
		assert_int_equal(out_len, 0);
		assert_int_equal(r.sealed_len, 0);
	}
	if (v[F_DEVICE] != 0) {
		/* 7.1 step 5 refuses before the policy is weighed: nothing stored */
		assert_int_equal(F.n_coms, 0);
		assert_int_equal(F.n_auds, 1);
		return;
	}
	/* accepted: one commit, whose effects follow from the row */
	assert_int_equal(F.n_coms, 1);
	assert_int_equal(F.n_auds, 0);
	assert_int_equal(F.coms[0].has_event, recorded);
	if (recorded)
		assert_string_equal(F.coms[0].event, smile_proto_event_name(ev));
	assert_int_equal(F.coms[0].custody, recorded && smile_proto_event_is_custody(ev));
	assert_int_equal(F.coms[0].reveal, want->status == SMILE_STATUS_REVEALED);
	assert_int_equal(F.coms[0].suspend, want->reason == SMILE_REASON_QUOTA_EXCEEDED);
	assert_int_equal(F.opened, want->status == SMILE_STATUS_REVEALED);
	if (want->status == SMILE_STATUS_RECORDED && want->reason == SMILE_REASON_OK) {
		assert_int_equal(F.coms[0].n_audit, 0);
	} else {
		assert_int_equal(F.coms[0].n_audit, 1);
		assert_string_equal(F.coms[0].audit.kind,
				    want->status == SMILE_STATUS_REVEALED ? "reveal" : "refusal");
		assert_string_equal(F.coms[0].audit.detail, smile_proto_reason_name(want->reason));
		assert_string_equal(F.coms[0].audit.subject, "SW2601010000017");
	}
	/* published after the commit: the reply, then the merchant event
	 * (recorded), then the alert (quota) */
	int k = 1;
	if (recorded) {
		assert_true(F.n_pubs > k);
		assert_string_equal(F.pubs[k].topic, "smile/v1/merchant/acme/events");
		assert_non_null(memmem(F.pubs[k].p, F.pubs[k].n, smile_proto_event_name(ev),
				       strlen(smile_proto_event_name(ev))));
		k++;
	}
	if (want->reason == SMILE_REASON_QUOTA_EXCEEDED) {
		assert_true(F.n_pubs > k);
		assert_string_equal(F.pubs[k].topic, SMILE_PROTO_TOPIC_ALERTS);
		assert_non_null(memmem(F.pubs[k].p, F.pubs[k].n, "\"device_id\":\"d1\"", 16));
		assert_int_equal(d->row.status, SMILE_DEV_SUSPENDED);
		k++;
	}
	assert_int_equal(F.n_pubs, k);
}

static void policy_table(void **state)
{
	struct rule rules[32];
	int n = load_rules(rules, 32), covered = 0;
	(void)state;

	assert_true(n >= 10);
	for (int row = 0; row < n; row++) {
		/* the first combination of facts whose first match is this row */
		int v[F_N] = {0}, found = 0;
		for (;;) {
			if (first_match(rules, n, v) == row) {
				found = 1;
				break;
			}
			int k = 0;
			while (k < F_N && ++v[k] == n_values(k))
				v[k++] = 0;
			if (k == F_N)
				break;
		}
		if (!found)
			fail_msg("policy row %d never applies", row + 1);
		run_facts(v, &rules[row], row);
		covered++;
	}
	assert_int_equal(covered, n);
	world_reset();
}

/* ------------------------------------------------------------ 7.3 */

static void retransmission(void **state)
{
	struct fdev *d;
	struct msg m;
	struct smile_reply r;
	char out[SMILE_PROTO_CONTACT_MAX];
	size_t out_len;
	uint64_t denials;
	(void)state;

	/* a reveal, then its exact retransmission while fresh: the same bytes,
	 * audited as a resend by the store's transaction, nothing applied
	 * again */
	world_reset();
	d = add_device("c1", SMILE_DEV_COURIER, "");
	add_shipment(7);
	token_for(7, tok);
	build(&m, d, NULL, 1, SMILE_EVENT_OUT_FOR_DELIVERY, tok, NOW, NOW);
	scan_as("c1", &m, NULL);
	r = open_reply(d, &m, 0, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_REVEALED);
	assert_int_equal(F.n_pubs, 2); /* reply, merchant event */
	denials = smile_metrics_get(SMILE_COUNTER_DENIALS);
	scan_as("c1", &m, NULL);
	assert_int_equal(F.n_coms, 2); /* the resend, decided in the store */
	assert_false(F.coms[1].has_event);
	assert_int_equal(F.n_pubs, 3);
	assert_int_equal(F.pubs[2].n, F.pubs[0].n);
	assert_memory_equal(F.pubs[2].p, F.pubs[0].p, F.pubs[0].n);
	assert_int_equal(F.n_auds, 1);
	assert_string_equal(F.auds[0].kind, "reveal");
	assert_string_equal(F.auds[0].detail, "resend");
	assert_string_equal(F.auds[0].subject, "SW2601010000017");
	assert_int_equal(F.opened, 1); /* not opened again */

	/* the resend's commit fails: error / internal instead of the contact */
	F.commit_rc = SMILE_ERR_STORE;
	scan_as("c1", &m, NULL);
	r = open_reply(d, &m, 3, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_ERROR);
	assert_int_equal(r.reason, SMILE_REASON_INTERNAL);
	F.commit_rc = SMILE_OK;

	/* stale now: recorded / stale, no contact */
	F.now = NOW + 300001;
	scan_as("c1", &m, NULL);
	r = open_reply(d, &m, 4, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_RECORDED);
	assert_int_equal(r.reason, SMILE_REASON_STALE);
	assert_int_equal(out_len, 0);
	assert_string_equal(F.auds[1].kind, "refusal");
	assert_string_equal(F.auds[1].detail, "stale");

	/* fresh again but the shipment erased: recorded / erased, whether the
	 * stored reply is still there or (as erasure does) withdrawn */
	F.now = NOW;
	F.ship.row.erased_ms = NOW;
	scan_as("c1", &m, NULL);
	r = open_reply(d, &m, 5, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_RECORDED);
	assert_int_equal(r.reason, SMILE_REASON_ERASED);
	assert_string_equal(F.auds[2].detail, "erased");
	free(d->row.last_reply);
	d->row.last_reply = NULL;
	d->row.last_reply_len = 0;
	scan_as("c1", &m, NULL);
	r = open_reply(d, &m, 6, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_RECORDED);
	assert_int_equal(r.reason, SMILE_REASON_ERASED);
	/* no stored reply and nothing erased: denied / replay */
	F.ship.row.erased_ms = 0;
	scan_as("c1", &m, NULL);
	r = open_reply(d, &m, 7, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_DENIED);
	assert_int_equal(r.reason, SMILE_REASON_REPLAY);
	assert_int_equal(F.n_auds, 5);
	assert_int_equal(F.n_coms, 3);
	assert_int_equal(smile_metrics_get(SMILE_COUNTER_DENIALS), denials);

	/* a reply without contact details: resent as it was, even stale,
	 * not audited, as the store's write transaction finds it (a row a
	 * reader saw may not be durable yet: the transaction's flush covers
	 * it) */
	world_reset();
	d = add_device("c1", SMILE_DEV_COURIER, "");
	add_shipment(7);
	token_for(7, tok);
	build(&m, d, NULL, 1, SMILE_EVENT_PICKUP, tok, NOW, NOW);
	scan_as("c1", &m, NULL);
	r = open_reply(d, &m, 0, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_RECORDED);
	F.now = NOW + 3600000;
	scan_as("c1", &m, NULL);
	assert_int_equal(F.n_pubs, 3);
	assert_memory_equal(F.pubs[2].p, F.pubs[0].p, F.pubs[0].n);
	assert_int_equal(F.n_auds, 0);
	assert_int_equal(F.n_coms, 2);
	world_reset();
}

/* The device's row was read with its revealing reply; before the resend
 * commits, an erasure commits and withdraws it (review finding: the resend
 * used to publish the bytes it had read). The store's transaction decides:
 * recorded / erased, no contact, audited as such. */
static void resend_loses_race_with_erasure(void **state)
{
	struct fdev *d;
	struct msg m;
	struct smile_reply r;
	char out[SMILE_PROTO_CONTACT_MAX];
	size_t out_len;
	(void)state;

	world_reset();
	d = add_device("c1", SMILE_DEV_COURIER, "");
	add_shipment(7);
	token_for(7, tok);
	build(&m, d, NULL, 1, SMILE_EVENT_OUT_FOR_DELIVERY, tok, NOW, NOW);
	scan_as("c1", &m, NULL);
	r = open_reply(d, &m, 0, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_REVEALED);
	F.defer = 1;
	scan_as("c1", &m, NULL); /* read: the revealing reply is there */
	assert_int_equal(F.n_queued, 1);
	assert_int_equal(F.n_pubs, 2); /* nothing said before the commit */
	/* the erasure commits first: the stored reply is withdrawn */
	free(d->row.last_reply);
	d->row.last_reply = NULL;
	d->row.last_reply_len = 0;
	d->row.last_revealed = 0;
	F.ship.row.erased_ms = NOW;
	flush();
	r = open_reply(d, &m, F.n_pubs - 1, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_RECORDED);
	assert_int_equal(r.reason, SMILE_REASON_ERASED);
	assert_int_equal(out_len, 0);
	assert_int_equal(r.sealed_len, 0);
	assert_string_equal(F.auds[F.n_auds - 1].kind, "refusal");
	assert_string_equal(F.auds[F.n_auds - 1].detail, "erased");
	assert_string_equal(F.auds[F.n_auds - 1].subject, "SW2601010000017");
	world_reset();
}


/* ------------------------------------------------------------ commits */

static void commit_outcomes(void **state)
{
	struct fdev *d;
	struct msg m;
	struct smile_reply r;
	char out[SMILE_PROTO_CONTACT_MAX];
	size_t out_len;
	uint64_t reveals;
	(void)state;

	static const struct {
		enum smile_err submit, commit;
		enum smile_status status;
		enum smile_reason reason;
	} cases[] = {
		/* the store failed: nothing stored, retry later (7.1) */
		{SMILE_OK, SMILE_ERR_STORE, SMILE_STATUS_ERROR, SMILE_REASON_INTERNAL},
		/* the reveal lost the race with an erasure (7.3) */
		{SMILE_OK, SMILE_ERR_SHREDDED, SMILE_STATUS_DENIED, SMILE_REASON_ERASED},
		/* the store refused the commit (closing, no memory) */
		{SMILE_ERR_BUSY, SMILE_OK, SMILE_STATUS_ERROR, SMILE_REASON_BUSY},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		world_reset();
		d = add_device("c1", SMILE_DEV_COURIER, "");
		add_shipment(7);
		token_for(7, tok);
		F.submit_rc = cases[i].submit;
		F.commit_rc = cases[i].commit;
		reveals = smile_metrics_get(SMILE_COUNTER_REVEALS);
		build(&m, d, NULL, 1, SMILE_EVENT_OUT_FOR_DELIVERY, tok, NOW, NOW);
		scan_as("c1", &m, NULL);
		/* one reply, never the sealed one */
		assert_int_equal(F.n_pubs, 1);
		r = open_reply(d, &m, 0, out, &out_len);
		assert_int_equal(r.status, cases[i].status);
		assert_int_equal(r.reason, cases[i].reason);
		assert_int_equal(out_len, 0);
		assert_int_equal(d->row.last_seq, 0);
		assert_int_equal(smile_metrics_get(SMILE_COUNTER_REVEALS), reveals);
		/* and the same bytes again are processed as new: this time they
		 * reveal (the pending reveal was given back: quota 1 left) */
		F.submit_rc = F.commit_rc = SMILE_OK;
		F.reveals = QUOTA - 1;
		scan_as("c1", &m, NULL);
		r = open_reply(d, &m, 1, out, &out_len);
		assert_int_equal(r.status, SMILE_STATUS_REVEALED);
		assert_int_equal(smile_metrics_get(SMILE_COUNTER_REVEALS), reveals + 1);
	}

	/* contact details that cannot be opened: recorded / erased or internal */
	world_reset();
	d = add_device("c1", SMILE_DEV_COURIER, "");
	add_shipment(7);
	token_for(7, tok);
	F.ship.personal.ct[0] ^= 1; /* a fault: does not authenticate */
	build(&m, d, NULL, 1, SMILE_EVENT_OUT_FOR_DELIVERY, tok, NOW, NOW);
	scan_as("c1", &m, NULL);
	r = open_reply(d, &m, 0, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_RECORDED);
	assert_int_equal(r.reason, SMILE_REASON_INTERNAL);
	assert_int_equal(F.coms[0].reveal, 0);
	assert_int_equal(F.coms[0].has_event, 1);
	world_reset();
}

/* ------------------------------------------------------------ two nodes */

/* The other node: its own lane on the same (fake) store. */
static struct scan_lane *other_node(void)
{
	struct scan_lane *l = scan_lane_new(&(const struct scan_config){.keys = keys,
									 .skew_s = 300,
									 .reveal_quota = QUOTA},
					    &fake_ops);
	assert_non_null(l);
	return l;
}

static void scan_on(struct scan_lane *l, const struct msg *m)
{
	scan_process(l, &(const struct scan_input){.topic_device = "c1", .data = m->b, .len = m->n});
}

/* The device has one reveal left; node A and node B each decide a reveal
 * (each read QUOTA - 1 committed reveals), and both commits are pending.
 * Decided as if one after the other: the first reveals, the second is
 * denied / quota_exceeded, suspends the device and raises the alert. */
static void two_nodes_quota(void **state)
{
	struct scan_lane *b = other_node();
	struct fdev *d;
	struct msg m1, m2;
	struct smile_reply r;
	char out[SMILE_PROTO_CONTACT_MAX];
	size_t out_len;
	int alerts = 0;
	(void)state;

	world_reset();
	d = add_device("c1", SMILE_DEV_COURIER, "");
	add_shipment(7);
	token_for(7, tok);
	F.reveals = QUOTA - 1;
	F.defer = 1;
	build(&m1, d, NULL, 1, SMILE_EVENT_OUT_FOR_DELIVERY, tok, NOW, NOW);
	build(&m2, d, NULL, 2, SMILE_EVENT_OUT_FOR_DELIVERY, tok, NOW, NOW);
	scan_on(lane, &m1);
	scan_on(b, &m2);
	assert_int_equal(F.n_queued, 2);
	assert_int_equal(F.n_pubs, 0); /* nothing is said before the commit */
	flush();
	r = open_reply(d, &m1, 0, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_REVEALED);
	assert_true(out_len > 0);
	for (int i = 1; i < F.n_pubs; i++)
		if (strcmp(F.pubs[i].topic, SMILE_PROTO_TOPIC_ALERTS) == 0)
			alerts++;
	assert_int_equal(alerts, 1);
	/* the second's reply: the one after the first's merchant event */
	assert_string_equal(F.pubs[2].topic, "smile/v1/dev/c1/reply");
	r = open_reply(d, &m2, 2, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_DENIED);
	assert_int_equal(r.reason, SMILE_REASON_QUOTA_EXCEEDED);
	assert_int_equal(out_len, 0);
	assert_int_equal(F.reveals, QUOTA); /* one reveal counted, not two */
	assert_int_equal(d->row.status, SMILE_DEV_SUSPENDED);
	assert_int_equal(d->row.last_seq, 2);
	assert_false(d->row.last_revealed);
	assert_int_equal(F.n_applied, 2);
	/* its exact retransmission gets the stored quota_exceeded... as a
	 * suspended device: refused before the replay rule (7.1 step 5) */
	F.defer = 0;
	scan_on(b, &m2);
	r = open_reply(d, &m2, F.n_pubs - 1, out, &out_len);
	assert_int_equal(r.reason, SMILE_REASON_SUSPENDED);
	scan_lane_free(b);
	world_reset();
}

/* Node A and node B received a scan with the same seq (the broker gave the
 * same bytes to both, or the device's retransmission went to the other
 * node); A commits first. */
static void two_nodes_same_seq(void **state)
{
	struct scan_lane *b = other_node();
	struct fdev *d;
	struct msg m, other;
	struct smile_reply r;
	char out[SMILE_PROTO_CONTACT_MAX];
	size_t out_len;
	uint64_t reveals;
	(void)state;

	/* the same bytes, revealing: B publishes A's stored reply, byte for
	 * byte, audited as a resend; one event, one reveal */
	world_reset();
	d = add_device("c1", SMILE_DEV_COURIER, "");
	add_shipment(7);
	token_for(7, tok);
	F.defer = 1;
	reveals = smile_metrics_get(SMILE_COUNTER_REVEALS);
	build(&m, d, NULL, 1, SMILE_EVENT_OUT_FOR_DELIVERY, tok, NOW, NOW);
	scan_on(lane, &m);
	scan_on(b, &m);
	flush();
	assert_int_equal(F.n_applied, 1);
	assert_int_equal(F.reveals, 1);
	assert_int_equal(smile_metrics_get(SMILE_COUNTER_REVEALS), reveals + 1);
	assert_int_equal(F.n_pubs, 3); /* A's reply, A's merchant event, B's reply */
	assert_int_equal(F.pubs[2].n, F.pubs[0].n);
	assert_memory_equal(F.pubs[2].p, F.pubs[0].p, F.pubs[0].n);
	r = open_reply(d, &m, 2, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_REVEALED);
	assert_int_equal(F.n_auds, 1);
	assert_string_equal(F.auds[0].kind, "reveal");
	assert_string_equal(F.auds[0].detail, "resend");
	assert_string_equal(F.auds[0].subject, "SW2601010000017");

	/* the same bytes, not revealing: resent unaudited */
	world_reset();
	d = add_device("c1", SMILE_DEV_COURIER, "");
	add_shipment(7);
	token_for(7, tok);
	F.defer = 1;
	build(&m, d, NULL, 1, SMILE_EVENT_PICKUP, tok, NOW, NOW);
	scan_on(lane, &m);
	scan_on(b, &m);
	flush();
	assert_int_equal(F.n_applied, 1);
	assert_int_equal(F.n_pubs, 3);
	assert_memory_equal(F.pubs[2].p, F.pubs[0].p, F.pubs[0].n);
	assert_int_equal(F.n_auds, 0);

	/* other bytes with that seq: denied / replay, audited, nothing applied */
	world_reset();
	d = add_device("c1", SMILE_DEV_COURIER, "");
	add_shipment(7);
	token_for(7, tok);
	F.defer = 1;
	build(&m, d, NULL, 1, SMILE_EVENT_PICKUP, tok, NOW, NOW);
	build(&other, d, NULL, 1, SMILE_EVENT_PICKUP, tok, NOW + 1, NOW + 1);
	scan_on(lane, &m);
	scan_on(b, &other);
	flush();
	assert_int_equal(F.n_applied, 1);
	r = open_reply(d, &other, F.n_pubs - 1, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_DENIED);
	assert_int_equal(r.reason, SMILE_REASON_REPLAY);
	assert_int_equal(F.n_auds, 1);
	assert_string_equal(F.auds[0].detail, "replay");

	/* the device suspended (by an operator, on either node) while B's
	 * scan waited for its commit: denied / suspended */
	world_reset();
	d = add_device("c1", SMILE_DEV_COURIER, "");
	add_shipment(7);
	token_for(7, tok);
	F.defer = 1;
	build(&m, d, NULL, 1, SMILE_EVENT_PICKUP, tok, NOW, NOW);
	scan_on(b, &m);
	d->row.status = SMILE_DEV_SUSPENDED;
	flush();
	assert_int_equal(F.n_applied, 0);
	r = open_reply(d, &m, 0, out, &out_len);
	assert_int_equal(r.status, SMILE_STATUS_DENIED);
	assert_int_equal(r.reason, SMILE_REASON_SUSPENDED);
	assert_string_equal(F.auds[0].detail, "suspended");
	scan_lane_free(b);
	world_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refusal_table),
		cmocka_unit_test(policy_table),
		cmocka_unit_test(retransmission),
		cmocka_unit_test(resend_loses_race_with_erasure),
		cmocka_unit_test(commit_outcomes),
		cmocka_unit_test(two_nodes_quota),
		cmocka_unit_test(two_nodes_same_seq),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
