/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker.c - `smile-gateway broker-config`: a tuned mosquitto configuration
 * with the gateway's and every device's credentials and an ACL that keeps
 * each device to its own topics.
 *
 * Passwords are written the way mosquitto_passwd does ($7$: PBKDF2-HMAC-SHA512,
 * 101 iterations, 12-byte salt), computed here with libsodium's HMAC-SHA512,
 * so no plaintext password ever lands in a file. Device passwords are derived
 * (credentials.h); the gateway's is DATA/mqtt.password.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "smile/credentials.h"
#include "smile/proto.h"

#define PBKDF2_ITERATIONS 101
#define SALT_BYTES 12

/* PBKDF2-HMAC-SHA512 with one 64-byte block (RFC 8018 section 5.2). */
static void pbkdf2_sha512(const char *pw, const uint8_t *salt, size_t salt_len, unsigned iters,
			  uint8_t out[64])
{
	crypto_auth_hmacsha512_state st;
	uint8_t u[64], block[4] = {0, 0, 0, 1};
	size_t pwlen = strlen(pw);

	crypto_auth_hmacsha512_init(&st, (const unsigned char *)pw, pwlen);
	crypto_auth_hmacsha512_update(&st, salt, salt_len);
	crypto_auth_hmacsha512_update(&st, block, 4);
	crypto_auth_hmacsha512_final(&st, u);
	memcpy(out, u, 64);
	for (unsigned i = 1; i < iters; i++) {
		crypto_auth_hmacsha512_init(&st, (const unsigned char *)pw, pwlen);
		crypto_auth_hmacsha512_update(&st, u, 64);
		crypto_auth_hmacsha512_final(&st, u);
		for (int k = 0; k < 64; k++)
			out[k] ^= u[k];
	}
	sodium_memzero(u, sizeof(u));
	sodium_memzero(&st, sizeof(st));
}

void broker_password_line(const char *user, const char *password, char *out, size_t n)
{
	uint8_t salt[SALT_BYTES], hash[64];
	char salt64[sodium_base64_ENCODED_LEN(SALT_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	char hash64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];

	randombytes_buf(salt, sizeof(salt));
	pbkdf2_sha512(password, salt, sizeof(salt), PBKDF2_ITERATIONS, hash);
	sodium_bin2base64(salt64, sizeof(salt64), salt, sizeof(salt), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(hash64, sizeof(hash64), hash, sizeof(hash), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, n, "%s:$7$%d$%s$%s\n", user, PBKDF2_ITERATIONS, salt64, hash64);
	sodium_memzero(hash, sizeof(hash));
}

int broker_user_reserved(const struct gateway *g, const char *id)
{
	return strncasecmp(id, BROKER_RESERVED_PREFIX, strlen(BROKER_RESERVED_PREFIX)) == 0 ||
	       strcmp(id, BROKER_OBSERVER_USER) == 0 || strcmp(id, g->cfg.mqtt_username) == 0;
}

struct pw_ctx {
	struct gateway *g;
	FILE *f;
	int n;
	enum smile_err rc;
	char clash[SMILE_STORE_ID_MAX]; /* a device named like a service user */
};

static int device_line(void *arg, const struct smile_store_device *d)
{
	struct pw_ctx *c = arg;
	uint8_t key[32];
	char pw[SMILE_MQTT_PASSWORD_MAX], line[512];

	if (d->status == SMILE_DEV_REVOKED)
		return 0; /* a revoked device cannot even log in */
	if (broker_user_reserved(c->g, d->id)) {
		/* enrolled before ids were checked: never a second line for a
		 * service user (the last line wins in mosquitto 2.0.11) */
		snprintf(c->clash, sizeof(c->clash), "%s", d->id);
		c->rc = SMILE_ERR_CONFLICT;
		return 1;
	}
	if (smile_proto_shared_key(smile_keys_box_sk(c->g->keys), d->box_pk, key) != SMILE_OK ||
	    smile_mqtt_password(key, d->id, pw) != SMILE_OK) {
		c->rc = SMILE_ERR_CRYPTO;
		return 1;
	}
	broker_password_line(d->id, pw, line, sizeof(line));
	fputs(line, c->f);
	c->n++;
	sodium_memzero(key, sizeof(key));
	sodium_memzero(pw, sizeof(pw));
	return 0;
}

/* DATA/mqtt-observer.password, created on first use. */
static enum smile_err observer_password(struct gateway *g, char *out, size_t cap,
					struct smile_error *e)
{
	char path[PATH_MAX + 32];
	FILE *f;
	snprintf(path, sizeof(path), "%s/mqtt-observer.password", g->dir);
	f = fopen(path, "r");
	if (f == NULL) {
		uint8_t raw[24];
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(out, cap, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		sodium_memzero(raw, sizeof(raw));
		if (fd < 0 || write(fd, out, strlen(out)) != (ssize_t)strlen(out) ||
		    write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
			if (fd >= 0)
				close(fd);
			return smile_error_set(e, SMILE_ERR_IO, "mqtt-observer.password",
					       "cannot create the observer password");
		}
		close(fd);
		return SMILE_OK;
	}
	if (fgets(out, (int)cap, f) == NULL)
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return SMILE_OK;
}

/* Who the broker will run as: started as root, mosquitto switches to the
 * `user` named in its config; started as anyone else it stays that user.
 * The files must be readable by that user, and by nobody else. */
static const char *broker_run_as(uid_t *uid, gid_t *gid)
{
	static char name[64];
	struct passwd *pw = NULL;

	if (geteuid() == 0)
		pw = getpwnam(BROKER_RUN_USER);
	if (pw == NULL)
		pw = getpwuid(geteuid());
	*uid = pw ? pw->pw_uid : geteuid();
	*gid = pw ? pw->pw_gid : getegid();
	snprintf(name, sizeof(name), "%s", pw ? pw->pw_name : "root");
	return name;
}

/* chown OUTDIR+suffix to the broker's user (only root can; for anyone else
 * it already is the owner). */
static enum smile_err give_to(const char *outdir, const char *suffix, uid_t uid, gid_t gid,
			      struct smile_error *e)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s%s", outdir, suffix);
	if (geteuid() == 0 && chown(path, uid, gid) != 0)
		return smile_error_set(e, SMILE_ERR_IO, "out", "cannot give %s to the broker's user",
				       suffix[0] ? suffix + 1 : "the directory");
	return SMILE_OK;
}

/* Write to path.tmp, fsync, rename: the broker never reads half a file. */
static FILE *open_tmp(const char *path, char *tmp, size_t n)
{
	snprintf(tmp, n, "%s.tmp", path);
	return fopen(tmp, "w");
}

static enum smile_err close_tmp(FILE *f, const char *tmp, const char *path, struct smile_error *e)
{
	int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0)
		return smile_error_set(e, SMILE_ERR_IO, "out", "cannot write %s",
				       strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	return SMILE_OK;
}

enum smile_err gateway_broker_config(struct gateway *g, const char *outdir, const char *listen,
				     int port, int *n_devices, struct smile_error *e)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], line[512], pw[256] = "";
	FILE *f;
	enum smile_err rc;
	struct pw_ctx ctx = {g, NULL, 0, SMILE_OK, ""};
	const char *run_as;
	uid_t uid;
	gid_t gid;

	if (mkdir(outdir, 0700) != 0 && errno != EEXIST)
		return smile_error_set(e, SMILE_ERR_IO, "out", "cannot create the directory");
	if (strcmp(g->cfg.mqtt_username, BROKER_OBSERVER_USER) == 0 || g->cfg.mqtt_username[0] == 0)
		return smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_username",
				       "must be set and differ from the observer's "
				       "'" BROKER_OBSERVER_USER "'");
	run_as = broker_run_as(&uid, &gid);
	if (gateway_mqtt_password(g, pw, sizeof(pw), NULL) != SMILE_OK || pw[0] == '\0')
		return smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_password_file",
				       "cannot read the gateway's MQTT password");

	/* passwd */
	snprintf(path, sizeof(path), "%s/passwd", outdir);
	f = open_tmp(path, tmp, sizeof(tmp));
	if (f == NULL)
		return smile_error_set(e, SMILE_ERR_IO, "out", "cannot write passwd");
	broker_password_line(g->cfg.mqtt_username, pw, line, sizeof(line));
	sodium_memzero(pw, sizeof(pw));
	fputs(line, f);
	rc = observer_password(g, pw, sizeof(pw), e);
	if (rc) {
		fclose(f);
		unlink(tmp);
		return rc;
	}
	broker_password_line(BROKER_OBSERVER_USER, pw, line, sizeof(line));
	sodium_memzero(pw, sizeof(pw));
	fputs(line, f);
	ctx.f = f;
	rc = smile_store_list_devices(g->store, device_line, &ctx);
	if (rc == SMILE_OK)
		rc = ctx.rc;
	if (rc) {
		fclose(f);
		unlink(tmp);
		if (rc == SMILE_ERR_CONFLICT)
			return smile_error_set(e, rc, "devices",
					       "device '%s' has a broker service user's name; "
					       "revoke it (smile-gateway device revoke --id %s) "
					       "and enrol the handheld under another id",
					       ctx.clash, ctx.clash);
		return smile_error_set(e, rc, "devices", "cannot derive device passwords");
	}
	if ((rc = close_tmp(f, tmp, path, e)))
		return rc;

	/* acl */
	snprintf(path, sizeof(path), "%s/acl", outdir);
	f = open_tmp(path, tmp, sizeof(tmp));
	if (f == NULL)
		return smile_error_set(e, SMILE_ERR_IO, "out", "cannot write acl");
	fprintf(f, "# generated by smile-gateway broker-config: do not edit\n"
		   "# the gateway reads every scan and writes every reply, event and alert\n"
		   "user %s\n"
		   "topic read smile/v1/dev/+/scan\n"
		   "topic write smile/v1/dev/+/reply\n"
		   "topic write smile/v1/dev/+/job\n"
		   "topic read smile/v1/dev/+/jobstatus\n"
		   "topic write smile/v1/merchant/#\n"
		   "topic write smile/v1/alerts\n"
		   "\n"
		   "# monitoring and merchants' event feeds: read-only, never a device topic\n"
		   "user " BROKER_OBSERVER_USER "\n"
		   "topic read smile/v1/merchant/#\n"
		   "topic read smile/v1/alerts\n"
		   "\n"
		   "# every device (user name = device id) only its own topics; the\n"
		   "# gateway sends jobs only to print stations and reads their reports\n"
		   "pattern write smile/v1/dev/%%u/scan\n"
		   "pattern read smile/v1/dev/%%u/reply\n"
		   "pattern read smile/v1/dev/%%u/job\n"
		   "pattern write smile/v1/dev/%%u/jobstatus\n",
		g->cfg.mqtt_username);
	if ((rc = close_tmp(f, tmp, path, e)))
		return rc;

	/* mosquitto.conf */
	snprintf(path, sizeof(path), "%s/mosquitto.conf", outdir);
	f = open_tmp(path, tmp, sizeof(tmp));
	if (f == NULL)
		return smile_error_set(e, SMILE_ERR_IO, "out", "cannot write mosquitto.conf");
	fprintf(f,
		"# generated by smile-gateway broker-config (see conf/mosquitto.conf for why)\n"
		"# started as root, mosquitto drops to this user, who owns these files\n"
		"user %s\n"
		"per_listener_settings false\n"
		"listener %d %s\n"
		"# scan round trips: without this Nagle adds ~40 ms and caps at ~1.6k msg/s\n"
		"set_tcp_nodelay true\n"
		"# the default (1000) silently drops messages for a busy client\n"
		"max_queued_messages 100000\n"
		"max_inflight_messages 1000\n"
		"max_packet_size 65536\n"
		"allow_anonymous false\n"
		"password_file %s/passwd\n"
		"acl_file %s/acl\n"
		"# keep the gateway's session (queued scans) across broker restarts\n"
		"persistence true\n"
		"persistence_location %s/\n"
		"autosave_interval 30\n",
		run_as, port, listen, outdir, outdir, outdir);
	if ((rc = close_tmp(f, tmp, path, e)))
		return rc;
	if ((rc = give_to(outdir, "", uid, gid, e)) || (rc = give_to(outdir, "/passwd", uid, gid, e)) ||
	    (rc = give_to(outdir, "/acl", uid, gid, e)) ||
	    (rc = give_to(outdir, "/mosquitto.conf", uid, gid, e)))
		return rc;
	if (n_devices)
		*n_devices = ctx.n;
	return SMILE_OK;
}
