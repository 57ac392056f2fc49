/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool.c - smile-print's durable job queue (spool.h).
 *
 * The one idea that makes "printed at most once" hold through kill -9 and
 * power loss: a job's state is its file's name, and the name changes to
 * "sending", durably (rename, then fsync of the directory), before the
 * first byte goes to the printer. A job found in "sending" at start may or
 * may not have printed: it is finished as failed/uncertain and never sent
 * again without an explicit reprint from the gateway. The window between
 * that rename and the printer's "printed" is the one that cannot be
 * closed from here (a raw printer cannot be asked "did you print job 7?").
 *
 * File writes go through firmware-bridge/statedir.c (write, fsync, rename,
 * fsync the directory), the same code the bridge's offline queue trusts.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../firmware-bridge/statedir.h"
#include "smile/log.h"

static const char *const suffix[] = {"", ".job", ".sending", ".done"};


static void base_name(char out[SPOOL_NAME_MAX], uint64_t seq, const char *id)
{
	snprintf(out, SPOOL_NAME_MAX, "%020" PRIu64 "-%.40s", seq, id);
}

static int path_of(char *out, size_t n, const struct spool *s, const char *name,
		   enum spool_state st)
{
	int w = snprintf(out, n, "%s/%s%s", s->dir, name, suffix[st]);
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

static int exists(const struct spool *s, const char *name, enum spool_state st)
{
	char p[700];
	struct stat sb;
	return path_of(p, sizeof(p), s, name, st) == 0 && stat(p, &sb) == 0;
}

enum smile_err spool_open(struct spool *s, const char *state_dir, struct smile_error *e)
{
	int n = snprintf(s->dir, sizeof(s->dir), "%s/spool", state_dir);
	if (n < 0 || (size_t)n >= sizeof(s->dir))
		return smile_error_set(e, SMILE_ERR_INVALID, "state_dir", "path too long");
	return bridge_state_mkdir(s->dir, e);
}

enum spool_state spool_find(const struct spool *s, uint64_t seq, const char *id)
{
	char name[SPOOL_NAME_MAX];
	base_name(name, seq, id);
	for (int st = SPOOL_QUEUED; st <= SPOOL_DONE; st++)
		if (exists(s, name, (enum spool_state)st))
			return (enum spool_state)st;
	return SPOOL_NONE;
}

enum smile_err spool_add(struct spool *s, uint64_t seq, const char *id, const uint8_t *msg,
			 size_t len, int *dup)
{
	char name[SPOOL_NAME_MAX + 8];
	*dup = spool_find(s, seq, id) != SPOOL_NONE;
	if (*dup)
		return SMILE_OK;
	base_name(name, seq, id);
	memcpy(name + strlen(name), ".job", 5);
	return bridge_state_write(s->dir, name, msg, len, NULL);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int spool_next(const struct spool *s, char name[SPOOL_NAME_MAX])
{
	DIR *d = opendir(s->dir);
	struct dirent *de;
	int found = 0;

	if (d == NULL)
		return 0;
	/* the smallest "*.job" name is the lowest seq */
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 5 || n - 4 >= SPOOL_NAME_MAX || strcmp(de->d_name + n - 4, ".job") != 0)
			continue;
		if (!found || strncmp(de->d_name, name, n - 4) < 0) {
			memcpy(name, de->d_name, n - 4);
			name[n - 4] = '\0';
			found = 1;
		}
	}
	closedir(d);
	return found;
}

enum smile_err spool_read(const struct spool *s, const char *name, uint8_t *buf, size_t cap,
			  size_t *len)
{
	char file[SPOOL_NAME_MAX + 8];
	snprintf(file, sizeof(file), "%s.job", name);
	return bridge_state_read(s->dir, file, buf, cap, len, NULL);
}

static enum smile_err move(struct spool *s, const char *name, enum spool_state from,
			   enum spool_state to)
{
	char a[700], b[700];
	if (path_of(a, sizeof(a), s, name, from) || path_of(b, sizeof(b), s, name, to))
		return SMILE_ERR_INVALID;
	if (rename(a, b) != 0)
		return SMILE_ERR_IO;
	return bridge_state_sync_dir(s->dir);
}

enum smile_err spool_mark_sending(struct spool *s, const char *name)
{
	return move(s, name, SPOOL_QUEUED, SPOOL_SENDING);
}

enum smile_err spool_unmark_sending(struct spool *s, const char *name)
{
	return move(s, name, SPOOL_SENDING, SPOOL_QUEUED);
}

enum smile_err spool_finish(struct spool *s, const char *name, int state, int reason,
			    const char *text)
{
	char line[300], file[SPOOL_NAME_MAX + 8];
	enum smile_err rc;
	int n = snprintf(line, sizeof(line), "%d %d %s\n", state, reason, text ? text : "");

	snprintf(file, sizeof(file), "%s.done", name);
	if ((rc = bridge_state_write(s->dir, file, line, (size_t)n, NULL)))
		return rc;
	/* the done file is durable first: a crash here leaves both, and the
	 * done file wins (spool_recover) */
	for (int st = SPOOL_QUEUED; st <= SPOOL_SENDING; st++) {
		char f[SPOOL_NAME_MAX + 16];
		snprintf(f, sizeof(f), "%s%s", name, suffix[st]);
		if ((rc = bridge_state_remove(s->dir, f, NULL)))
			return rc;
	}
	return SMILE_OK;
}

/* Collect the names (bases) of files ending in `suf`; caller frees. */
static size_t list(const struct spool *s, const char *suf, char ***out)
{
	DIR *d = opendir(s->dir);
	struct dirent *de;
	size_t n = 0, cap = 0, sl = strlen(suf);
	char **v = NULL;

	*out = NULL;
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len <= sl || len - sl >= SPOOL_NAME_MAX || strcmp(de->d_name + len - sl, suf))
			continue;
		if (n == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
		}
		v[n] = strndup(de->d_name, len - sl);
		if (v[n])
			n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_names);
	*out = v;
	return n;
}

static void list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int spool_recover(struct spool *s)
{
	char **v;
	size_t n = list(s, ".sending", &v);
	int k = 0;

	for (size_t i = 0; i < n; i++) {
		if (exists(s, v[i], SPOOL_DONE)) {
			/* finished, then stopped before the old name went */
			char f[SPOOL_NAME_MAX + 16];
			snprintf(f, sizeof(f), "%s.sending", v[i]);
			if (bridge_state_remove(s->dir, f, NULL) != SMILE_OK)
				smile_log(SMILE_LOG_WARN, "print.spool_remove_failed", SMILE_KV_ID("job", v[i]));
			continue;
		}
		if (spool_finish(s, v[i], SMILE_JOB_FAILED, SMILE_JOB_R_UNCERTAIN,
				 "the agent stopped while sending this job to the printer: it "
				 "may have printed; if not, reprint it explicitly") == SMILE_OK)
			k++;
	}
	list_free(v, n);
	/* a queued copy beside a done one (crash inside spool_finish) */
	n = list(s, ".done", &v);
	for (size_t i = 0; i < n; i++)
		if (exists(s, v[i], SPOOL_QUEUED)) {
			char f[SPOOL_NAME_MAX + 16];
			snprintf(f, sizeof(f), "%s.job", v[i]);
			if (bridge_state_remove(s->dir, f, NULL) != SMILE_OK)
				smile_log(SMILE_LOG_WARN, "print.spool_remove_failed", SMILE_KV_ID("job", v[i]));
		}
	list_free(v, n);
	return k;
}

static void each_done(struct spool *s, const char *name, long keep_s, long recent_s,
		      spool_each_fn fn, void *arg)
{
	char p[700], line[300] = "";
	struct stat sb;
	FILE *f;
	int state = SMILE_JOB_FAILED, reason = 0, off = 0;

	if (path_of(p, sizeof(p), s, name, SPOOL_DONE) || stat(p, &sb) != 0)
		return;
	if (keep_s > 0 && time(NULL) - sb.st_mtime > keep_s) {
		char file[SPOOL_NAME_MAX + 8];
		snprintf(file, sizeof(file), "%s.done", name);
		if (bridge_state_remove(s->dir, file, NULL) != SMILE_OK)
			smile_log(SMILE_LOG_WARN, "print.spool_remove_failed", SMILE_KV_ID("job", name));
		return;
	}
	if (recent_s > 0 && time(NULL) - sb.st_mtime > recent_s)
		return;
	if ((f = fopen(p, "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (sscanf(line, "%d %d %n", &state, &reason, &off) < 2)
		off = (int)strlen(line);
	fn(arg, name, SPOOL_DONE, state, reason, line + off);
}

void spool_each(struct spool *s, long keep_s, long recent_s, spool_each_fn fn, void *arg)
{
	char **v;
	size_t n = list(s, ".job", &v);
	for (size_t i = 0; i < n; i++)
		fn(arg, v[i], SPOOL_QUEUED, SMILE_JOB_SENT, 0, "");
	list_free(v, n);
	n = list(s, ".done", &v);
	for (size_t i = 0; i < n; i++)
		each_done(s, v[i], keep_s, recent_s, fn, arg);
	list_free(v, n);
}

int spool_split(const char *name, uint64_t *seq, char id[SMILE_JOB_ID_MAX + 1])
{
	char *end;
	const char *dash = strchr(name, '-');
	size_t n;

	if (dash == NULL || dash - name != 20)
		return -1;
	errno = 0;
	*seq = strtoull(name, &end, 10);
	if (errno || end != dash)
		return -1;
	n = strlen(dash + 1);
	if (n < 1 || n > SMILE_JOB_ID_MAX)
		return -1;
	memcpy(id, dash + 1, n + 1);
	return 0;
}
