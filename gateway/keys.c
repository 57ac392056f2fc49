/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keys.c - the gateway's key files in DIR/keys/: create, load, rotate, retire.
 *
 * The one idea: every access goes through one directory file descriptor
 * opened without following symlinks, checked (type, owner, mode) before any
 * secret is read, and locked with flock (shared to load, exclusive to
 * change); files are then opened relative to it with O_NOFOLLOW and checked
 * again on the open descriptor (fstat), so what is checked is what is read.
 * Writes go to a temporary file that is fsynced and then renamed (replace) or
 * linked (create-only) into place, and the directory is fsynced: a crash
 * leaves either the old file or the new one, never a torn key.
 *
 * Secrets read from disk go straight into locked memory: the token keyring
 * and the vault copy them into their own sodium_malloc blocks, and the
 * signing and box secret keys live in one sodium_malloc block here. Stack
 * copies are wiped on every path out.
 */
#include "keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_BYTES 32
#define CURRENT_MAX 8 /* "255\n" and then some */
#define TOKEN_NAME_LEN 13 /* "token-NNN.key" */

static const char keys_subdir[] = "keys";
static const char vault_name[] = "vault.key";
static const char vault_next_name[] = "vault.next.key";
static const char sign_name[] = "sign.key";
static const char box_name[] = "box.key";
static const char current_name[] = "token.current";

_Static_assert(SMILE_KEYS_SIGN_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "sign pk");
_Static_assert(SMILE_KEYS_SIGN_SK_BYTES == crypto_sign_SECRETKEYBYTES, "sign sk");
_Static_assert(KEY_BYTES == crypto_sign_SEEDBYTES, "sign seed");
_Static_assert(SMILE_KEYS_BOX_PK_BYTES == crypto_box_PUBLICKEYBYTES, "box pk");
_Static_assert(SMILE_KEYS_BOX_SK_BYTES == crypto_box_SECRETKEYBYTES, "box sk");
_Static_assert(SMILE_KEYS_BOX_SK_BYTES == crypto_scalarmult_SCALARBYTES, "box scalar");

struct keys_secret {
	uint8_t sign_sk[SMILE_KEYS_SIGN_SK_BYTES];
	uint8_t box_sk[SMILE_KEYS_BOX_SK_BYTES];
};

struct smile_keys {
	struct smile_token_keyring *token;
	struct smile_vault *vault;
	struct keys_secret *sec; /* sodium_malloc: locked, read-only once loaded */
	uint8_t sign_pk[SMILE_KEYS_SIGN_PK_BYTES];
	uint8_t box_pk[SMILE_KEYS_BOX_PK_BYTES];
};

/* ------------------------------------------------------------ names */

static void token_name(char out[TOKEN_NAME_LEN + 1], uint8_t kid)
{
	snprintf(out, TOKEN_NAME_LEN + 1, "token-%03u.key", (unsigned)kid);
}

/* "token-NNN.key" with NNN in 000..255 -> kid; anything else -> -1. */
static int token_name_parse(const char *name)
{
	unsigned v = 0;
	if (strlen(name) != TOKEN_NAME_LEN || strncmp(name, "token-", 6) != 0 ||
	    strcmp(name + 9, ".key") != 0)
		return -1;
	for (int i = 6; i < 9; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(name[i] - '0');
	}
	return v <= 255 ? (int)v : -1;
}

/* Record an error about keys/<name>. */
SMILE_PRINTF(4, 5)
static enum smile_err keys_fail(struct smile_error *e, enum smile_err code, const char *name,
				const char *fmt, ...)
{
	char field[SMILE_ERROR_FIELD_MAX];
	char msg[SMILE_ERROR_MSG_MAX];
	va_list ap;

	snprintf(field, sizeof(field), "%s%s%s", keys_subdir, name[0] ? "/" : "", name);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return smile_error_set(e, code, field, "%s", msg);
}

/* ------------------------------------------------------------ checks */

/* Type, owner and mode of keys/ ("" as name) or of a file in it. */
static enum smile_err keys_check_stat(const struct stat *st, bool want_dir, const char *name,
				      struct smile_error *e)
{
	mode_t perm = st->st_mode & 07777;

	if (want_dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
		return keys_fail(e, SMILE_ERR_PERMISSION, name, "not a %s",
				 want_dir ? "directory" : "regular file");
	if (st->st_uid != geteuid())
		return keys_fail(e, SMILE_ERR_PERMISSION, name,
				 "owned by uid %u, not by uid %u running the gateway",
				 (unsigned)st->st_uid, (unsigned)geteuid());
	if (perm & 077)
		return keys_fail(e, SMILE_ERR_PERMISSION, name,
				 "mode %04o gives group or others access; run chmod %s",
				 (unsigned)perm, want_dir ? "700" : "600");
	return SMILE_OK;
}

/*
 * Open DIR/keys without following a symlink, check it, and flock it.
 * Returns the directory fd in *kfd (close it to unlock).
 */
static enum smile_err keys_open_dir(const char *dir, int lock, int *kfd, struct smile_error *e)
{
	struct stat st;
	int dfd, fd;
	enum smile_err rc;

	*kfd = -1;
	if (dir == NULL || dir[0] == '\0')
		return smile_error_set(e, SMILE_ERR_INVALID, "dir", "data directory missing");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return smile_error_set(e, errno == ENOENT ? SMILE_ERR_NOT_FOUND : SMILE_ERR_IO,
				       "dir", "cannot open the data directory: %s",
				       strerror(errno));
	fd = openat(dfd, keys_subdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0) {
		if (errno == ENOENT)
			return keys_fail(e, SMILE_ERR_NOT_FOUND, "", "missing (run init)");
		if (errno == ELOOP || errno == ENOTDIR)
			return keys_fail(e, SMILE_ERR_PERMISSION, "",
					 "not a directory (a symlink or a file)");
		return keys_fail(e, SMILE_ERR_IO, "", "cannot open: %s", strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		rc = keys_fail(e, SMILE_ERR_IO, "", "cannot stat: %s", strerror(errno));
		goto fail;
	}
	rc = keys_check_stat(&st, true, "", e);
	if (rc != SMILE_OK)
		goto fail;
	while (flock(fd, lock) != 0) {
		if (errno != EINTR) {
			rc = keys_fail(e, SMILE_ERR_IO, "", "cannot lock: %s", strerror(errno));
			goto fail;
		}
	}
	*kfd = fd;
	return SMILE_OK;
fail:
	close(fd);
	return rc;
}

/*
 * Read keys/<name>, which must be a checked regular file of `min`..`max`
 * bytes, into buf (size >= max). *len gets the size read.
 */
static enum smile_err keys_read(int kfd, const char *name, uint8_t *buf, size_t min, size_t max,
				size_t *len, struct smile_error *e)
{
	struct stat st;
	size_t got = 0;
	enum smile_err rc;
	/* O_NONBLOCK: opening a FIFO planted here must not hang the gateway */
	int fd = openat(kfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	*len = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return keys_fail(e, SMILE_ERR_NOT_FOUND, name, "missing");
		if (errno == ELOOP)
			return keys_fail(e, SMILE_ERR_PERMISSION, name, "is a symlink");
		return keys_fail(e, SMILE_ERR_IO, name, "cannot open: %s", strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		rc = keys_fail(e, SMILE_ERR_IO, name, "cannot stat: %s", strerror(errno));
		goto out;
	}
	rc = keys_check_stat(&st, false, name, e);
	if (rc != SMILE_OK)
		goto out;
	if ((size_t)st.st_size < min || (size_t)st.st_size > max) {
		rc = min == max ? keys_fail(e, SMILE_ERR_CONFIG, name, "%lld bytes, need %zu",
					    (long long)st.st_size, min)
				: keys_fail(e, SMILE_ERR_CONFIG, name, "%lld bytes, need %zu-%zu",
					    (long long)st.st_size, min, max);
		goto out;
	}
	while (got < max) {
		ssize_t r = read(fd, buf + got, max - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = keys_fail(e, SMILE_ERR_IO, name, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got < min) { /* shrank under us */
		rc = keys_fail(e, SMILE_ERR_CONFIG, name, "%zu bytes, need %zu", got, min);
		goto out;
	}
	*len = got;
	rc = SMILE_OK;
out:
	close(fd);
	return rc;
}

static enum smile_err keys_read_key(int kfd, const char *name, uint8_t key[KEY_BYTES],
				    struct smile_error *e)
{
	size_t n;
	enum smile_err rc = keys_read(kfd, name, key, KEY_BYTES, KEY_BYTES, &n, e);
	if (rc != SMILE_OK)
		sodium_memzero(key, KEY_BYTES);
	return rc;
}

/* token.current: 1-3 decimal digits (no sign, no leading zeros past "0"),
 * then an optional "\n". */
static enum smile_err keys_read_current(int kfd, uint8_t *kid, struct smile_error *e)
{
	uint8_t buf[CURRENT_MAX];
	size_t n, i;
	unsigned v = 0;
	enum smile_err rc = keys_read(kfd, current_name, buf, 1, sizeof(buf), &n, e);

	if (rc != SMILE_OK)
		return rc;
	if (buf[n - 1] == '\n')
		n--;
	if (n == 0 || n > 3 || (n > 1 && buf[0] == '0'))
		goto bad;
	for (i = 0; i < n; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			goto bad;
		v = v * 10 + (unsigned)(buf[i] - '0');
	}
	if (v > 255)
		goto bad;
	*kid = (uint8_t)v;
	return SMILE_OK;
bad:
	return keys_fail(e, SMILE_ERR_CONFIG, current_name, "not a key id 0-255");
}

/* ------------------------------------------------------------ writing */

/* fsync with EINTR retry; 0 or -1. */
static int keys_fsync(int fd)
{
	while (fsync(fd) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/*
 * Atomically and durably make keys/<name> hold data[0..n), mode 0600.
 * replace: rename over an existing file; otherwise SMILE_ERR_EXISTS if it
 * exists (link, never overwrite).
 */
static enum smile_err keys_write(int kfd, const char *name, const uint8_t *data, size_t n,
				 bool replace, struct smile_error *e)
{
	char tmp[64];
	size_t off = 0;
	enum smile_err rc = SMILE_OK;
	int fd;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	/* callers hold the exclusive lock: a leftover temporary file is stale */
	if (unlinkat(kfd, tmp, 0) != 0 && errno != ENOENT)
		return keys_fail(e, SMILE_ERR_IO, tmp, "cannot remove: %s", strerror(errno));
	fd = openat(kfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return keys_fail(e, SMILE_ERR_IO, tmp, "cannot create: %s", strerror(errno));
	if (fchmod(fd, 0600) != 0) { /* whatever the umask */
		rc = keys_fail(e, SMILE_ERR_IO, tmp, "cannot chmod: %s", strerror(errno));
		goto fail;
	}
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = keys_fail(e, SMILE_ERR_IO, tmp, "cannot write: %s", strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	if (keys_fsync(fd) != 0) {
		rc = keys_fail(e, SMILE_ERR_IO, tmp, "cannot fsync: %s", strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = keys_fail(e, SMILE_ERR_IO, tmp, "cannot close: %s", strerror(errno));
		goto fail;
	}
	fd = -1;
	if (replace) {
		if (renameat(kfd, tmp, kfd, name) != 0) {
			rc = keys_fail(e, SMILE_ERR_IO, name, "cannot rename into place: %s",
				       strerror(errno));
			goto fail;
		}
	} else {
		if (linkat(kfd, tmp, kfd, name, 0) != 0) {
			rc = errno == EEXIST
				     ? keys_fail(e, SMILE_ERR_EXISTS, name, "already exists")
				     : keys_fail(e, SMILE_ERR_IO, name, "cannot link into place: %s",
						 strerror(errno));
			goto fail;
		}
		(void)unlinkat(kfd, tmp, 0);
	}
	if (keys_fsync(kfd) != 0)
		return keys_fail(e, SMILE_ERR_IO, "", "cannot fsync: %s", strerror(errno));
	return SMILE_OK;
fail:
	if (fd >= 0)
		close(fd);
	(void)unlinkat(kfd, tmp, 0);
	return rc;
}

static enum smile_err keys_write_current(int kfd, uint8_t kid, struct smile_error *e)
{
	char buf[CURRENT_MAX];
	int n = snprintf(buf, sizeof(buf), "%u\n", (unsigned)kid);
	return keys_write(kfd, current_name, (const uint8_t *)buf, (size_t)n, true, e);
}

/* A fresh random key written to keys/<name> (never replacing one). */
static enum smile_err keys_write_random(int kfd, const char *name, struct smile_error *e)
{
	uint8_t key[KEY_BYTES];
	enum smile_err rc;
	randombytes_buf(key, sizeof(key));
	rc = keys_write(kfd, name, key, sizeof(key), false, e);
	sodium_memzero(key, sizeof(key));
	return rc;
}

/* ------------------------------------------------------------ loading */

void smile_keys_free(struct smile_keys *k)
{
	if (k == NULL)
		return;
	smile_token_keyring_free(k->token);
	smile_vault_free(k->vault);
	if (k->sec != NULL)
		sodium_free(k->sec); /* wipes */
	free(k);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* Is keys/<name> there at all (whatever it is)? */
static bool keys_exists(int kfd, const char *name)
{
	struct stat st;
	return fstatat(kfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

/*
 * The vault from keys/vault.key and, during a rotation, keys/vault.next.key
 * (docs/vault.md, "Rotating the vault key"). An all-zero vault.key is a key
 * the rotation destroyed just before renaming vault.next.key over it (a crash
 * in between): the next key is then the only one. *old_destroyed (may be
 * NULL) says so.
 */
static enum smile_err keys_read_vault(int kfd, struct smile_vault **out, bool *old_destroyed,
				      struct smile_error *e)
{
	uint8_t cur[KEY_BYTES], next[KEY_BYTES];
	bool has_next = keys_exists(kfd, vault_next_name);
	struct smile_vault *v = NULL;
	enum smile_err rc;

	*out = NULL;
	if (old_destroyed != NULL)
		*old_destroyed = false;
	memset(next, 0, sizeof(next));
	rc = keys_read_key(kfd, vault_name, cur, e);
	if (rc == SMILE_OK && has_next)
		rc = keys_read_key(kfd, vault_next_name, next, e);
	if (rc != SMILE_OK)
		goto out;
	if (has_next && all_zero(next, sizeof(next))) {
		rc = keys_fail(e, SMILE_ERR_CONFIG, vault_next_name, "all zero bytes: not a key");
		goto out;
	}
	if (all_zero(cur, sizeof(cur))) {
		if (!has_next) {
			rc = keys_fail(e, SMILE_ERR_CONFIG, vault_name,
				       "destroyed by a vault key rotation, and keys/%s is missing",
				       vault_next_name);
			goto out;
		}
		if (old_destroyed != NULL)
			*old_destroyed = true;
		v = smile_vault_new(next, e);
	} else {
		v = smile_vault_new(cur, e);
		if (v != NULL && has_next &&
		    (rc = smile_vault_add_next(v, next, e)) != SMILE_OK) {
			if (rc == SMILE_ERR_INVALID)
				rc = keys_fail(e, SMILE_ERR_CONFIG, vault_next_name,
					       "has the key id of keys/%s", vault_name);
			goto out;
		}
	}
	if (v == NULL) {
		rc = e != NULL && e->code != SMILE_OK ? e->code : SMILE_ERR_CRYPTO;
		goto out;
	}
	rc = SMILE_OK;
out:
	sodium_memzero(cur, sizeof(cur));
	sodium_memzero(next, sizeof(next));
	if (rc != SMILE_OK)
		smile_vault_free(v);
	else
		*out = v;
	return rc;
}

/* Load from an opened, checked, locked keys/ directory. */
static enum smile_err keys_load_at(int kfd, struct smile_keys **out, struct smile_error *e)
{
	struct smile_keys *k;
	uint8_t key[KEY_BYTES];
	uint8_t current = 0;
	enum smile_err rc;
	DIR *d = NULL;
	struct dirent *de;
	int dfd;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "out of memory");
	k->token = smile_token_keyring_new();
	k->sec = sodium_malloc(sizeof(*k->sec));
	if (k->token == NULL || k->sec == NULL ||
	    sodium_mlock(k->sec, sizeof(*k->sec)) != 0) {
		rc = smile_error_set(e, SMILE_ERR_CRYPTO, NULL,
				     "cannot allocate locked memory (raise RLIMIT_MEMLOCK)");
		goto out;
	}

	/* vault (and the next vault key during a rotation) */
	rc = keys_read_vault(kfd, &k->vault, NULL, e);
	if (rc != SMILE_OK)
		goto out;
	/* signing key: the file holds the seed */
	rc = keys_read_key(kfd, sign_name, key, e);
	if (rc != SMILE_OK)
		goto out;
	if (crypto_sign_seed_keypair(k->sign_pk, k->sec->sign_sk, key) != 0) {
		rc = keys_fail(e, SMILE_ERR_CRYPTO, sign_name, "cannot derive the key pair");
		goto out;
	}
	/* box key */
	rc = keys_read_key(kfd, box_name, k->sec->box_sk, e);
	if (rc != SMILE_OK)
		goto out;
	if (crypto_scalarmult_base(k->box_pk, k->sec->box_sk) != 0) {
		rc = keys_fail(e, SMILE_ERR_CRYPTO, box_name, "cannot derive the public key");
		goto out;
	}
	if (sodium_mprotect_readonly(k->sec) != 0) {
		rc = smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "cannot protect key memory");
		goto out;
	}

	/* token keys */
	rc = keys_read_current(kfd, &current, e);
	if (rc != SMILE_OK)
		goto out;
	dfd = dup(kfd);
	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		rc = keys_fail(e, SMILE_ERR_IO, "", "cannot list: %s", strerror(errno));
		goto out;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		int kid = token_name_parse(de->d_name);
		if (kid < 0)
			continue; /* not a token key: ignored (temporary files, notes) */
		rc = keys_read_key(kfd, de->d_name, key, e);
		if (rc == SMILE_OK)
			rc = smile_token_keyring_add(k->token, (uint8_t)kid, key, e);
		if (rc != SMILE_OK)
			goto out;
	}
	if (errno != 0) {
		rc = keys_fail(e, SMILE_ERR_IO, "", "cannot list: %s", strerror(errno));
		goto out;
	}
	if (!smile_token_keyring_has(k->token, current)) {
		char name[TOKEN_NAME_LEN + 1];
		token_name(name, current);
		rc = keys_fail(e, SMILE_ERR_CONFIG, current_name, "names key %u but keys/%s is missing",
			       (unsigned)current, name);
		goto out;
	}
	rc = smile_token_keyring_set_current(k->token, current, e);
out:
	sodium_memzero(key, sizeof(key));
	if (d != NULL)
		closedir(d);
	if (rc != SMILE_OK)
		smile_keys_free(k);
	else
		*out = k;
	return rc;
}

enum smile_err smile_keys_load(const char *dir, struct smile_keys **out, struct smile_error *e)
{
	enum smile_err rc;
	int kfd;

	if (out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "output missing");
	*out = NULL;
	if (sodium_init() < 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "libsodium cannot initialise");
	rc = keys_open_dir(dir, LOCK_SH, &kfd, e);
	if (rc != SMILE_OK)
		return rc;
	rc = keys_load_at(kfd, out, e);
	close(kfd);
	return rc;
}

/* ------------------------------------------------------------ accessors */

const struct smile_token_keyring *smile_keys_token(const struct smile_keys *k)
{
	return k == NULL ? NULL : k->token;
}

const struct smile_vault *smile_keys_vault(const struct smile_keys *k)
{
	return k == NULL ? NULL : k->vault;
}

const uint8_t *smile_keys_sign_pk(const struct smile_keys *k)
{
	return k == NULL ? NULL : k->sign_pk;
}

const uint8_t *smile_keys_sign_sk(const struct smile_keys *k)
{
	return k == NULL ? NULL : k->sec->sign_sk;
}

const uint8_t *smile_keys_box_pk(const struct smile_keys *k)
{
	return k == NULL ? NULL : k->box_pk;
}

const uint8_t *smile_keys_box_sk(const struct smile_keys *k)
{
	return k == NULL ? NULL : k->sec->box_sk;
}

/* ------------------------------------------------------------ changes */

/* Does keys/ hold any file of a key set? */
static bool keys_any_present(int kfd)
{
	static const char *const names[] = {vault_name, sign_name, box_name, current_name};
	struct dirent *de;
	bool found = false;
	int dfd;
	DIR *d;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct stat st;
		if (fstatat(kfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
			return true;
	}
	dfd = dup(kfd);
	if (dfd < 0)
		return true; /* cannot tell: refuse rather than overwrite */
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return true;
	}
	while (!found && (de = readdir(d)) != NULL)
		found = token_name_parse(de->d_name) >= 0;
	closedir(d);
	return found;
}

enum smile_err smile_keys_create(const char *dir, struct smile_error *e)
{
	char name[TOKEN_NAME_LEN + 1];
	enum smile_err rc;
	int dfd = -1, kfd = -1;

	if (dir == NULL || dir[0] == '\0')
		return smile_error_set(e, SMILE_ERR_INVALID, "dir", "data directory missing");
	if (sodium_init() < 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "libsodium cannot initialise");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return smile_error_set(e, SMILE_ERR_IO, "dir", "cannot create the data directory: %s",
				       strerror(errno));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return smile_error_set(e, SMILE_ERR_IO, "dir", "cannot open the data directory: %s",
				       strerror(errno));
	if (mkdirat(dfd, keys_subdir, 0700) == 0) {
		/* the umask may have taken bits away; set exactly 0700 */
		if (fchmodat(dfd, keys_subdir, 0700, 0) != 0) {
			rc = keys_fail(e, SMILE_ERR_IO, "", "cannot chmod: %s", strerror(errno));
			goto out;
		}
		if (keys_fsync(dfd) != 0) {
			rc = smile_error_set(e, SMILE_ERR_IO, "dir", "cannot fsync: %s",
					     strerror(errno));
			goto out;
		}
	} else if (errno != EEXIST) {
		rc = keys_fail(e, SMILE_ERR_IO, "", "cannot create: %s", strerror(errno));
		goto out;
	}
	rc = keys_open_dir(dir, LOCK_EX, &kfd, e);
	if (rc != SMILE_OK)
		goto out;
	if (keys_any_present(kfd)) {
		rc = keys_fail(e, SMILE_ERR_EXISTS, "", "already holds keys; refusing to replace them");
		goto out;
	}
	token_name(name, SMILE_KEYS_FIRST_TOKEN_KID);
	if ((rc = keys_write_random(kfd, vault_name, e)) != SMILE_OK ||
	    (rc = keys_write_random(kfd, sign_name, e)) != SMILE_OK ||
	    (rc = keys_write_random(kfd, box_name, e)) != SMILE_OK ||
	    (rc = keys_write_random(kfd, name, e)) != SMILE_OK)
		goto out;
	/* written last: its presence marks a complete key set */
	rc = keys_write_current(kfd, SMILE_KEYS_FIRST_TOKEN_KID, e);
out:
	if (kfd >= 0)
		close(kfd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

enum smile_err smile_keys_rotate_token(const char *dir, uint8_t *new_kid, struct smile_error *e)
{
	struct smile_keys *k = NULL;
	char name[TOKEN_NAME_LEN + 1];
	enum smile_err rc;
	int kfd, cur;
	unsigned next, tries;

	if (sodium_init() < 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "libsodium cannot initialise");
	rc = keys_open_dir(dir, LOCK_EX, &kfd, e);
	if (rc != SMILE_OK)
		return rc;
	rc = keys_load_at(kfd, &k, e); /* the whole set must be sound first */
	if (rc != SMILE_OK)
		goto out;
	cur = smile_token_keyring_current(k->token);
	next = (unsigned)cur;
	for (tries = 0; tries < 256; tries++) {
		next = (next + 1) % 256;
		if (!smile_token_keyring_has(k->token, (uint8_t)next))
			break;
	}
	if (tries == 256) {
		rc = keys_fail(e, SMILE_ERR_TOO_LARGE, "", "all 256 token key ids in use; retire some");
		goto out;
	}
	token_name(name, (uint8_t)next);
	rc = keys_write_random(kfd, name, e);
	if (rc == SMILE_OK)
		rc = keys_write_current(kfd, (uint8_t)next, e);
	if (rc == SMILE_OK && new_kid != NULL)
		*new_kid = (uint8_t)next;
out:
	smile_keys_free(k);
	close(kfd);
	return rc;
}

enum smile_err smile_keys_retire_token(const char *dir, uint8_t kid, struct smile_error *e)
{
	static const uint8_t zeros[KEY_BYTES];
	struct smile_keys *k = NULL;
	char name[TOKEN_NAME_LEN + 1];
	enum smile_err rc;
	int kfd, fd;

	if (sodium_init() < 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "libsodium cannot initialise");
	rc = keys_open_dir(dir, LOCK_EX, &kfd, e);
	if (rc != SMILE_OK)
		return rc;
	rc = keys_load_at(kfd, &k, e);
	if (rc != SMILE_OK)
		goto out;
	token_name(name, kid);
	if (!smile_token_keyring_has(k->token, kid)) {
		rc = keys_fail(e, SMILE_ERR_NOT_FOUND, name, "no token key %u", (unsigned)kid);
		goto out;
	}
	if (smile_token_keyring_current(k->token) == kid) {
		rc = keys_fail(e, SMILE_ERR_INVALID, name,
			       "token key %u is current: rotate before retiring it", (unsigned)kid);
		goto out;
	}
	/* Overwrite in place first: on file systems that rewrite blocks in
	 * place this removes the key from the disk, not only from the
	 * directory. (Journals, copy-on-write and SSDs may keep old blocks:
	 * docs/vault.md, "What shredding does not do".) */
	fd = openat(kfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t w;
		do
			w = pwrite(fd, zeros, sizeof(zeros), 0);
		while (w < 0 && errno == EINTR);
		(void)keys_fsync(fd);
		close(fd);
	}
	if (unlinkat(kfd, name, 0) != 0) {
		rc = keys_fail(e, SMILE_ERR_IO, name, "cannot remove: %s", strerror(errno));
		goto out;
	}
	if (keys_fsync(kfd) != 0)
		rc = keys_fail(e, SMILE_ERR_IO, "", "cannot fsync: %s", strerror(errno));
out:
	smile_keys_free(k);
	close(kfd);
	return rc;
}

/* ------------------------------------------------------------ vault rotation */

enum smile_err smile_keys_reload_vault(const char *dir, struct smile_keys *k, int *changed,
				       struct smile_error *e)
{
	struct smile_vault *fresh = NULL;
	uint32_t c0, n0, c1, n1;
	enum smile_err rc;
	int kfd;

	if (changed != NULL)
		*changed = 0;
	if (k == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "key set missing");
	rc = keys_open_dir(dir, LOCK_SH, &kfd, e);
	if (rc != SMILE_OK)
		return rc;
	rc = keys_read_vault(kfd, &fresh, NULL, e);
	close(kfd);
	if (rc != SMILE_OK)
		return rc;
	int had = smile_vault_key_ids(k->vault, &c0, &n0);
	int has = smile_vault_key_ids(fresh, &c1, &n1);
	if (had != has || c0 != c1 || n0 != n1) {
		smile_vault_exchange(k->vault, fresh);
		if (changed != NULL)
			*changed = 1;
	}
	smile_vault_free(fresh); /* wipes whichever keys are no longer used */
	return SMILE_OK;
}

enum smile_err smile_keys_vault_begin(const char *dir, uint32_t *old_kid, uint32_t *new_kid,
				      int *created, struct smile_error *e)
{
	struct smile_vault *v = NULL, *nv = NULL;
	uint8_t key[KEY_BYTES];
	uint32_t cur = 0, next = 0;
	bool destroyed = false;
	enum smile_err rc;
	int kfd;

	*old_kid = *new_kid = 0;
	if (created != NULL)
		*created = 0;
	if (sodium_init() < 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "libsodium cannot initialise");
	rc = keys_open_dir(dir, LOCK_EX, &kfd, e);
	if (rc != SMILE_OK)
		return rc;
	rc = keys_read_vault(kfd, &v, &destroyed, e);
	if (rc != SMILE_OK)
		goto out;
	if (smile_vault_key_ids(v, &cur, &next) == 2) {
		*old_kid = cur; /* resumed: the next key is already there */
		*new_kid = next;
		goto out;
	}
	if (destroyed) {
		*new_kid = cur; /* only the rename is left to do */
		goto out;
	}
	/* a fresh key whose id differs from the current one (ids are 32 bits) */
	for (int tries = 0; tries < 8 && rc == SMILE_OK; tries++) {
		randombytes_buf(key, sizeof(key));
		smile_vault_free(nv);
		nv = smile_vault_new(key, e);
		if (nv == NULL)
			rc = e != NULL && e->code != SMILE_OK ? e->code : SMILE_ERR_CRYPTO;
		else if (smile_vault_key_id(nv) != cur)
			break;
	}
	if (rc != SMILE_OK)
		goto out;
	rc = keys_write(kfd, vault_next_name, key, sizeof(key), false, e);
	if (rc != SMILE_OK)
		goto out;
	*old_kid = cur;
	*new_kid = smile_vault_key_id(nv);
	if (created != NULL)
		*created = 1;
out:
	sodium_memzero(key, sizeof(key));
	smile_vault_free(nv);
	smile_vault_free(v);
	close(kfd);
	return rc;
}

/* The id of the 32-byte key in keys/<name>; *zero when it is all zero. */
static enum smile_err keys_kid_of(int kfd, const char *name, uint32_t *kid, bool *zero,
				  struct smile_error *e)
{
	uint8_t key[KEY_BYTES];
	struct smile_vault *v;
	enum smile_err rc = keys_read_key(kfd, name, key, e);

	*kid = 0;
	*zero = false;
	if (rc != SMILE_OK)
		return rc;
	if (all_zero(key, sizeof(key))) {
		*zero = true;
		return SMILE_OK;
	}
	v = smile_vault_new(key, e);
	sodium_memzero(key, sizeof(key));
	if (v == NULL)
		return e != NULL && e->code != SMILE_OK ? e->code : SMILE_ERR_CRYPTO;
	*kid = smile_vault_key_id(v);
	smile_vault_free(v);
	return SMILE_OK;
}

enum smile_err smile_keys_vault_finish(const char *dir, uint32_t old_kid, uint32_t new_kid,
				       struct smile_error *e)
{
	static const uint8_t zeros[KEY_BYTES];
	uint32_t cur, next;
	bool cur_zero, next_zero;
	enum smile_err rc;
	int kfd, fd;

	if (sodium_init() < 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "libsodium cannot initialise");
	rc = keys_open_dir(dir, LOCK_EX, &kfd, e);
	if (rc != SMILE_OK)
		return rc;
	rc = keys_kid_of(kfd, vault_name, &cur, &cur_zero, e);
	if (rc != SMILE_OK)
		goto out;
	if (!keys_exists(kfd, vault_next_name)) {
		/* finished already (a rerun after a crash past the rename)? */
		if (!cur_zero && cur == new_kid)
			goto out;
		rc = keys_fail(e, SMILE_ERR_CONFLICT, vault_next_name,
			       "missing, and keys/%s is not vault key %08x: was the rotation "
			       "undone by hand?", vault_name, (unsigned)new_kid);
		goto out;
	}
	rc = keys_kid_of(kfd, vault_next_name, &next, &next_zero, e);
	if (rc != SMILE_OK)
		goto out;
	if (next_zero || next != new_kid) {
		rc = keys_fail(e, SMILE_ERR_CONFLICT, vault_next_name,
			       "is not vault key %08x any more: another rotation replaced it",
			       (unsigned)new_kid);
		goto out;
	}
	if (!cur_zero && old_kid != 0 && cur != old_kid) {
		rc = keys_fail(e, SMILE_ERR_CONFLICT, vault_name,
			       "is vault key %08x, not %08x that this rotation replaces",
			       (unsigned)cur, (unsigned)old_kid);
		goto out;
	}
	/* Destroy the old key where it lies first (the rename alone would only
	 * unlink it; see retire for what overwriting does and does not reach),
	 * then put the new key in its place. A crash in between leaves an
	 * all-zero vault.key beside vault.next.key, which loading understands
	 * and a rerun finishes. */
	if (!cur_zero) {
		ssize_t w;
		fd = openat(kfd, vault_name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rc = keys_fail(e, SMILE_ERR_IO, vault_name, "cannot open to destroy: %s",
				       strerror(errno));
			goto out;
		}
		do
			w = pwrite(fd, zeros, sizeof(zeros), 0);
		while (w < 0 && errno == EINTR);
		if (w != (ssize_t)sizeof(zeros) || keys_fsync(fd) != 0) {
			rc = keys_fail(e, SMILE_ERR_IO, vault_name, "cannot overwrite: %s",
				       strerror(errno));
			close(fd);
			goto out;
		}
		close(fd);
	}
	if (renameat(kfd, vault_next_name, kfd, vault_name) != 0) {
		rc = keys_fail(e, SMILE_ERR_IO, vault_next_name, "cannot rename into place: %s",
			       strerror(errno));
		goto out;
	}
	if (keys_fsync(kfd) != 0)
		rc = keys_fail(e, SMILE_ERR_IO, "", "cannot fsync: %s", strerror(errno));
out:
	close(kfd);
	return rc;
}

uint64_t smile_keys_vault_stamp(const char *dir)
{
	static const char *const names[] = {vault_name, vault_next_name};
	crypto_generichash_state h;
	uint8_t out[8];
	uint64_t stamp = 0;
	char path[PATH_MAX];

	if (dir == NULL)
		return 0;
	crypto_generichash_init(&h, NULL, 0, sizeof(out));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct stat st;
		int64_t f[7] = {0};
		if (snprintf(path, sizeof(path), "%s/%s/%s", dir, keys_subdir, names[i]) >=
		    (int)sizeof(path))
			return 0;
		if (lstat(path, &st) == 0) {
			f[0] = 1;
			f[1] = (int64_t)st.st_ino;
			f[2] = (int64_t)st.st_size;
			f[3] = (int64_t)st.st_mtim.tv_sec;
			f[4] = (int64_t)st.st_mtim.tv_nsec;
			f[5] = (int64_t)st.st_ctim.tv_sec;
			f[6] = (int64_t)st.st_ctim.tv_nsec;
		} else if (errno != ENOENT) {
			f[0] = 2;
		}
		crypto_generichash_update(&h, (const uint8_t *)f, sizeof(f));
	}
	crypto_generichash_final(&h, out, sizeof(out));
	for (size_t i = 0; i < sizeof(out); i++)
		stamp = stamp << 8 | out[i];
	return stamp;
}
