/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gateway.c - the gateway's lifecycle: creating a data directory, opening one
 * (config, keys with their permission check, store), and the retention job.
 *
 * jansson's allocator is replaced by one that wipes every block it frees:
 * request bodies and personal JSON pass through jansson, and freed heap must
 * not keep copies of names and phone numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apikey.h"
#include "ratelimit.h"
#include "console.h"
#include "relay.h"
#include "gateway.h"
#include "webhook_worker.h"
#include "svc.h"
#include "vault_rotate.h"
#include "smile/log.h"
#include "waybill.h"

static void *json_alloc(size_t n)
{
	return malloc(n);
}

static void json_wipe_free(void *p)
{
	if (p) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

static enum smile_err path_in(const char *dir, const char *name, char *out, size_t n,
			      struct smile_error *e)
{
	int w = snprintf(out, n, "%s/%s", dir, name);
	if (w < 0 || (size_t)w >= n)
		return smile_error_set(e, SMILE_ERR_INVALID, "data", "data directory path too long");
	return SMILE_OK;
}

/* The store URL: the environment's SMILE_STORE when set (tests,
 * operators), else the config's. "sqlite:PATH" (or a bare PATH) is
 * relative to the data directory; "postgresql://..." and "postgres://..."
 * name a server and pass through as they are. */
static enum smile_err store_url(const struct gateway *g, char *out, size_t n,
				struct smile_error *e)
{
	const char *env = getenv("SMILE_STORE");
	const char *path = env && env[0] ? env : g->cfg.store;
	if (strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0) {
		int w = snprintf(out, n, "%s", path);
		if (w < 0 || (size_t)w >= n)
			return smile_error_set(e, SMILE_ERR_INVALID, "store", "store URL too long");
		return SMILE_OK;
	}
	if (strncmp(path, "sqlite:", 7) == 0)
		path += 7;
	else if (strstr(path, "://"))
		return smile_error_set(e, SMILE_ERR_UNSUPPORTED, "store",
				       "store URL: sqlite:PATH or postgresql://user@host:port/db");
	if (path[0] == '/')
		return path_in("", path + 1, out, n, e);
	return path_in(g->dir, path, out, n, e);
}

/* A secret (or the directory holding them) must be ours and closed to
 * group and others; `path` as the operator gave it, for the message. A
 * missing file is the caller's business (SMILE_OK). */
static enum smile_err check_private(const char *path, int want_dir, struct smile_error *e)
{
	struct stat st;
	mode_t perm;

	if (lstat(path, &st) != 0)
		return errno == ENOENT && !want_dir
			       ? SMILE_OK
			       : smile_error_set(e, SMILE_ERR_PERMISSION, "data",
						 "%s: cannot stat: %s", path, strerror(errno));
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return smile_error_set(e, SMILE_ERR_PERMISSION, "data", "%s: not a %s%s", path,
				       want_dir ? "directory" : "regular file",
				       S_ISLNK(st.st_mode) ? " (a symlink)" : "");
	if (st.st_uid != geteuid())
		return smile_error_set(e, SMILE_ERR_PERMISSION, "data",
				       "%s: owned by uid %u, not by uid %u running the gateway",
				       path, (unsigned)st.st_uid, (unsigned)geteuid());
	perm = st.st_mode & 07777;
	if (perm & 077)
		return smile_error_set(e, SMILE_ERR_PERMISSION, "data",
				       "%s: mode %04o gives group or others access; run: chmod %s %s",
				       path, (unsigned)perm, want_dir ? "700" : "600", path);
	return SMILE_OK;
}

/* The data directory and every secret in it besides keys/ (smile_keys_load
 * checks those): admin.key, the MQTT passwords, the store. */
static enum smile_err check_secrets(const struct gateway *g, struct smile_error *e)
{
	static const char *const names[] = {"admin.key", "mqtt-observer.password"};
	char path[PATH_MAX + SMILE_CONFIG_STR_MAX + 2];
	enum smile_err rc;

	if ((rc = check_private(g->dir, 1, e)))
		return rc;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((rc = path_in(g->dir, names[i], path, sizeof(path), e)) ||
		    (rc = check_private(path, 0, e)))
			return rc;
	}
	if (g->cfg.mqtt_password_file[0]) {
		if (g->cfg.mqtt_password_file[0] == '/')
			snprintf(path, sizeof(path), "%s", g->cfg.mqtt_password_file);
		else if ((rc = path_in(g->dir, g->cfg.mqtt_password_file, path, sizeof(path), e)))
			return rc;
		if ((rc = check_private(path, 0, e)))
			return rc;
	}
	return SMILE_OK;
}

enum smile_err gateway_mqtt_password(const struct gateway *g, char *out, size_t cap,
				     struct smile_error *e)
{
	char path[PATH_MAX + SMILE_CONFIG_STR_MAX + 2];
	const char *p = g->cfg.mqtt_password_file;
	FILE *f;

	out[0] = '\0';
	if (p[0] == '\0')
		return SMILE_OK;
	if (p[0] == '/')
		snprintf(path, sizeof(path), "%s", p);
	else
		snprintf(path, sizeof(path), "%s/%s", g->dir, p);
	f = fopen(path, "r");
	if (f == NULL)
		return smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_password_file",
				       "cannot read the MQTT password file");
	if (fgets(out, (int)cap, f) == NULL)
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return SMILE_OK;
}

/* mkdir -p for the parents of `dir` (the directory itself is made 0700 by
 * smile_keys_create). */
static enum smile_err make_parents(const char *dir, struct smile_error *e)
{
	char p[PATH_MAX];
	int w = snprintf(p, sizeof(p), "%s", dir);

	if (w < 0 || (size_t)w >= sizeof(p))
		return smile_error_set(e, SMILE_ERR_INVALID, "data", "data directory path too long");
	while (w > 1 && p[w - 1] == '/')
		p[--w] = '\0';
	for (char *c = p + 1; (c = strchr(c, '/')) != NULL; c++) {
		*c = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			enum smile_err rc = smile_error_set(e, SMILE_ERR_IO, "data",
							    "cannot create %s: %s", p,
							    strerror(errno));
			return rc;
		}
		*c = '/';
	}
	return SMILE_OK;
}

enum smile_err gateway_open(struct gateway *g, const char *dir, struct smile_error *e)
{
	char path[PATH_MAX + 32];
	enum smile_err rc;
	int level;

	memset(g, 0, sizeof(*g));
	g->serve_lock_fd = -1;
	pthread_mutex_init(&g->stop_lock, NULL);
	pthread_cond_init(&g->stop_cond, NULL);
	json_set_alloc_funcs(json_alloc, json_wipe_free);
	if (sodium_init() < 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "libsodium failed to start");
	if (strlen(dir) >= sizeof(g->dir))
		return smile_error_set(e, SMILE_ERR_INVALID, "data", "path too long");
	snprintf(g->dir, sizeof(g->dir), "%s", dir);
	smile_config_defaults(&g->cfg);
	if ((rc = path_in(dir, "gateway.conf", path, sizeof(path), e)))
		return rc;
	rc = smile_config_load(&g->cfg, path, e);
	if (rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, rc, "data",
				       "no gateway.conf here: run 'smile-gateway init --data DIR'");
	if (rc)
		return rc;
	if (smile_mask_policy_parse(g->cfg.mask_policy, &g->policy) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_CONFIG, "mask_policy",
				       "must be cn-gbt41833 or strict");
	level = smile_log_level_parse(g->cfg.log_level);
	if (level < 0 || level == SMILE_LOG_OFF)
		return smile_error_set(e, SMILE_ERR_CONFIG, "log_level",
				       "must be debug, info, warn or error");
	if (getenv("SMILE_LOG_LEVEL") == NULL)
		smile_log_set_level((enum smile_log_level)level);
	if (smile_waybill_prefix_check(g->cfg.waybill_prefix, NULL) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_CONFIG, "waybill_prefix",
				       "must be 2-4 uppercase letters");
	if ((rc = check_secrets(g, e)))
		return rc;
	rc = smile_keys_load(dir, &g->keys, e);
	if (rc)
		return rc;
	if ((rc = store_url(g, path, sizeof(path), e)))
		goto fail;
	rc = smile_store_open(path, 0, (int)g->cfg.store_readers, &g->store, e);
	if (rc)
		goto fail;
	g->ratelimit = ratelimit_new(g->cfg.rate_limit, g->cfg.rate_burst);
	/* console sign-in: 10 failed attempts at once per client address, then one
	 * a second (docs/console.md) */
	g->signin_limit = ratelimit_new(SIGNIN_RATE, SIGNIN_BURST);
	if (g->ratelimit == NULL || g->signin_limit == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto fail;
	}
	return SMILE_OK;
fail:
	gateway_close(g);
	return rc;
}

void gateway_close(struct gateway *g)
{
	webhook_worker_stop(g->webhooks);
	g->webhooks = NULL;
	gateway_retention_stop(g);
	gateway_http_stop(g);
	relay_stop(g->relay);
	g->relay = NULL;
	vault_rotate_watch_stop(g);
	smile_store_close(g->store);
	g->store = NULL;
	smile_keys_free(g->keys);
	g->keys = NULL;
	ratelimit_free(g->ratelimit);
	g->ratelimit = NULL;
	ratelimit_free(g->signin_limit);
	g->signin_limit = NULL;
	svc_label_pool_free();
	if (g->serve_locked) {
		close(g->serve_lock_fd); /* releases serve.lock */
		g->serve_locked = 0;
		g->serve_lock_fd = -1;
	}
}

/* ------------------------------------------------------------ serve lock */

enum smile_err gateway_lock_dir(const char *dir, const char *who, int *fd, struct smile_error *e)
{
	char path[PATH_MAX + 32], holder[64], line[96];
	enum smile_err rc;
	ssize_t n;
	int f;

	*fd = -1;
	if ((rc = path_in(dir, "serve.lock", path, sizeof(path), e)))
		return rc;
	f = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (f < 0)
		return smile_error_set(e, SMILE_ERR_IO, "serve.lock", "cannot open: %s",
				       strerror(errno));
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		if (err != EWOULDBLOCK) {
			close(f);
			return smile_error_set(e, SMILE_ERR_IO, "serve.lock", "cannot lock: %s",
					       strerror(err));
		}
		/* who holds it: "serve pid 1234", as the holder wrote it */
		n = pread(f, holder, sizeof(holder) - 1, 0);
		close(f);
		holder[n > 0 ? n : 0] = '\0';
		for (char *p = holder; *p; p++)
			if (*p == '\n' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				*p = *p == '\n' ? '\0' : '?';
		return smile_error_set(e, SMILE_ERR_BUSY, "serve.lock",
				       "the data directory is in use by %s",
				       holder[0] ? holder : "another process");
	}
	n = snprintf(line, sizeof(line), "%s pid %ld\n", who, (long)getpid());
	if (ftruncate(f, 0) != 0 || pwrite(f, line, (size_t)n, 0) != n) {
		close(f);
		return smile_error_set(e, SMILE_ERR_IO, "serve.lock", "cannot write: %s",
				       strerror(errno));
	}
	*fd = f;
	return SMILE_OK;
}

enum smile_err gateway_serve_begin(struct gateway *g, struct smile_error *e)
{
	enum smile_err rc = gateway_lock_dir(g->dir, "serve", &g->serve_lock_fd, e);
	if (rc)
		return rc;
	g->serve_locked = 1;
	return vault_rotate_watch_start(g, e);
}

enum smile_err gateway_store_url(const struct gateway *g, char *out, size_t n,
				 struct smile_error *e)
{
	return store_url(g, out, n, e);
}

static enum smile_err write_file(const char *path, mode_t mode, const char *data,
				 struct smile_error *e, const char *field)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	size_t n = strlen(data);
	if (fd < 0)
		return smile_error_set(e, errno == EEXIST ? SMILE_ERR_EXISTS : SMILE_ERR_IO, field,
				       "cannot create the file");
	if (write(fd, data, n) != (ssize_t)n || fsync(fd) != 0) {
		close(fd);
		return smile_error_set(e, SMILE_ERR_IO, field, "cannot write the file");
	}
	close(fd);
	return SMILE_OK;
}

enum smile_err gateway_init_dir(const char *dir, struct smile_error *e)
{
	char path[PATH_MAX + 32], key[APIKEY_STRING_MAX], id[SMILE_STORE_ID_MAX];
	struct gateway g;
	struct smile_config cfg;
	enum smile_err rc;
	struct stat st;
	FILE *f;

	if (sodium_init() < 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "libsodium failed to start");
	if ((rc = path_in(dir, "gateway.conf", path, sizeof(path), e)))
		return rc;
	if (stat(path, &st) == 0)
		return smile_error_set(e, SMILE_ERR_EXISTS, "data",
				       "already initialised (gateway.conf exists)");
	/* keys first: it creates DIR 0700 and refuses an existing key set */
	if ((rc = make_parents(dir, e)))
		return rc;
	rc = smile_keys_create(dir, e);
	if (rc)
		return rc;
	smile_config_defaults(&cfg);
	/* a store named by SMILE_STORE is the one this directory keeps using */
	const char *env = getenv("SMILE_STORE");
	if (env && env[0] && snprintf(cfg.store, sizeof(cfg.store), "%s", env) >= (int)sizeof(cfg.store))
		return smile_error_set(e, SMILE_ERR_INVALID, "store", "SMILE_STORE too long");
	f = fopen(path, "wx");
	if (f == NULL)
		return smile_error_set(e, SMILE_ERR_IO, "gateway.conf", "cannot create the file");
	smile_config_write(&cfg, f);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return smile_error_set(e, SMILE_ERR_IO, "gateway.conf", "cannot write the file");
	}
	fclose(f);
	chmod(path, 0600);

	memset(&g, 0, sizeof(g));
	snprintf(g.dir, sizeof(g.dir), "%s", dir);
	g.cfg = cfg;
	if ((rc = store_url(&g, path, sizeof(path), e)))
		return rc;
	rc = smile_store_open(path, 1, 1, &g.store, e);
	if (rc)
		return rc;
	rc = apikey_create(g.store, SMILE_ROLE_ADMIN, NULL, NULL, 0, key, id, e);
	smile_store_close(g.store);
	if (rc)
		return rc;
	if ((rc = path_in(dir, "admin.key", path, sizeof(path), e)))
		return rc;
	size_t n = strlen(key);
	key[n] = '\n';
	key[n + 1] = '\0';
	rc = write_file(path, 0600, key, e, "admin.key");
	sodium_memzero(key, sizeof(key));
	if (rc)
		return rc;
	/* the gateway's own MQTT password (broker-config hashes it for the broker) */
	{
		uint8_t pw[24];
		char pw64[sodium_base64_ENCODED_LEN(24, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 1];
		randombytes_buf(pw, sizeof(pw));
		sodium_bin2base64(pw64, sizeof(pw64) - 1, pw, sizeof(pw),
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		size_t len = strlen(pw64);
		pw64[len] = '\n';
		pw64[len + 1] = '\0';
		if ((rc = path_in(dir, cfg.mqtt_password_file, path, sizeof(path), e)) == SMILE_OK)
			rc = write_file(path, 0600, pw64, e, "mqtt.password");
		sodium_memzero(pw, sizeof(pw));
		sodium_memzero(pw64, sizeof(pw64));
	}
	return rc;
}

/* ------------------------------------------------------------ retention */

static void *retention_main(void *arg)
{
	struct gateway *g = arg;
	pthread_mutex_lock(&g->stop_lock);
	while (!g->stopping) {
		pthread_mutex_unlock(&g->stop_lock);
		svc_retention_run(g, gateway_now_ms());
		pthread_mutex_lock(&g->stop_lock);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += g->cfg.retention_interval_s;
		while (!g->stopping &&
		       pthread_cond_timedwait(&g->stop_cond, &g->stop_lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&g->stop_lock);
	return NULL;
}

enum smile_err gateway_retention_start(struct gateway *g)
{
	if (pthread_create(&g->retention_thread, NULL, retention_main, g) != 0)
		return SMILE_ERR_INTERNAL;
	pthread_setname_np(g->retention_thread, "smile-retention");
	g->retention_started = 1;
	return SMILE_OK;
}

void gateway_retention_stop(struct gateway *g)
{
	if (!g->retention_started)
		return;
	pthread_mutex_lock(&g->stop_lock);
	g->stopping = 1;
	pthread_cond_broadcast(&g->stop_cond);
	pthread_mutex_unlock(&g->stop_lock);
	pthread_join(g->retention_thread, NULL);
	g->retention_started = 0;
}
