/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ratelimit.c - per-key token buckets in a fixed open-addressed table.
 */
#include "ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 1024
#define PROBE 8
#define KEY_MAX 65

struct slot {
	char key[KEY_MAX];
	double tokens;
	int64_t last_ms;
};

struct ratelimit {
	pthread_mutex_t lock;
	double rate, burst;
	struct slot slots[SLOTS];
};

struct ratelimit *ratelimit_new(long rate, long burst)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return NULL;
	pthread_mutex_init(&rl->lock, NULL);
	rl->rate = (double)rate;
	rl->burst = (double)(burst > 0 ? burst : 1);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* Refill `key`'s bucket to now_ms; is a token there? Take it when `take`. */
static int use(struct ratelimit *rl, const char *key, int64_t now_ms, long *retry_after_s,
	       int take)
{
	struct slot *s = NULL, *oldest = NULL;
	uint32_t h;
	int ok;

	if (rl == NULL || rl->rate <= 0)
		return 1;
	h = hash(key);
	pthread_mutex_lock(&rl->lock);
	for (int i = 0; i < PROBE; i++) {
		struct slot *c = &rl->slots[(h + (uint32_t)i) % SLOTS];
		if (strcmp(c->key, key) == 0) {
			s = c;
			break;
		}
		if (oldest == NULL || c->last_ms < oldest->last_ms)
			oldest = c;
	}
	if (s == NULL) {
		/* a fresh bucket, in an empty or the least recently used slot; an
		 * evicted key starts again from a full bucket, bounded by burst */
		s = oldest;
		snprintf(s->key, sizeof(s->key), "%s", key);
		s->tokens = rl->burst;
		s->last_ms = now_ms;
	}
	if (now_ms > s->last_ms) {
		s->tokens += (double)(now_ms - s->last_ms) * rl->rate / 1000.0;
		if (s->tokens > rl->burst)
			s->tokens = rl->burst;
		s->last_ms = now_ms;
	}
	ok = s->tokens >= 1.0;
	if (ok && take)
		s->tokens -= 1.0;
	else if (retry_after_s)
		*retry_after_s = (long)((1.0 - s->tokens) / rl->rate) + 1;
	pthread_mutex_unlock(&rl->lock);
	return ok;
}

int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms, long *retry_after_s)
{
	return use(rl, key, now_ms, retry_after_s, 1);
}

int ratelimit_peek(struct ratelimit *rl, const char *key, int64_t now_ms, long *retry_after_s)
{
	return use(rl, key, now_ms, retry_after_s, 0);
}
