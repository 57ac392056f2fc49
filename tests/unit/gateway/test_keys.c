/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for gateway/keys.c against a real temporary directory: create,
 * load, refusal of every unsafe file (group/other bits, symlinks, FIFOs,
 * other owners, wrong sizes), rotation keeping old tokens open, retirement
 * making them unknown, atomic writes leaving no stray files, id wrap, and the
 * file steps of a vault key rotation (next key, reload in place, finish,
 * a crash between destroying the old key and renaming the new one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../gateway/keys.h"
#include "../../../gateway/vault.h"

static char base[256]; /* per-test scratch: <tmp>/smile-keys.XXXXXX */
static char data[300]; /* base/data: the gateway's data directory */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	(void)state;
	snprintf(base, sizeof(base), "%s/smile-keys.XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(data, sizeof(data), "%s/data", base);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/keys/%s", data, name);
}

static mode_t mode_of(const char *name)
{
	char p[512];
	struct stat st;
	path_of(p, sizeof(p), name);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode & 07777;
}

static off_t size_of(const char *name)
{
	char p[512];
	struct stat st;
	path_of(p, sizeof(p), name);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_size;
}

static void write_file(const char *name, const void *buf, size_t n, mode_t mode)
{
	char p[512];
	path_of(p, sizeof(p), name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void read_file(const char *name, void *buf, size_t n)
{
	char p[512];
	path_of(p, sizeof(p), name);
	int fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, n), (ssize_t)n);
	close(fd);
}

static void chmod_key(const char *name, mode_t mode)
{
	char p[512];
	path_of(p, sizeof(p), name);
	assert_int_equal(chmod(p, mode), 0);
}

static enum smile_err load_code(struct smile_error *e)
{
	struct smile_keys *k = (struct smile_keys *)1;
	enum smile_err rc = smile_keys_load(data, &k, e);
	if (rc == SMILE_OK)
		assert_non_null(k);
	else
		assert_null(k);
	smile_keys_free(k);
	return rc;
}

static void create_then_load(void **state)
{
	struct smile_error e = {0};
	struct smile_keys *k = NULL;
	char p[512];
	struct stat st;
	(void)state;
	mode_t old_umask = umask(0); /* the modes must not depend on the umask */
	assert_int_equal(smile_keys_create(data, &e), SMILE_OK);
	umask(old_umask);
	snprintf(p, sizeof(p), "%s/keys", data);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	static const char *const files[] = {"vault.key", "sign.key", "box.key", "token-001.key"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(mode_of(files[i]), 0600);
		assert_int_equal(size_of(files[i]), 32);
	}
	assert_int_equal(mode_of("token.current"), 0600);
	char cur[3];
	read_file("token.current", cur, 2);
	assert_memory_equal(cur, "1\n", 2);
	/* no temporary files left behind */
	DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") != 0)
			n += strcmp(de->d_name, "..") != 0;
	closedir(d);
	assert_int_equal(n, 5);

	assert_int_equal(smile_keys_load(data, &k, &e), SMILE_OK);
	assert_int_equal(smile_token_keyring_current(smile_keys_token(k)), 1);
	/* the signing pair matches: sign and verify */
	uint8_t sig[crypto_sign_BYTES];
	assert_int_equal(crypto_sign_detached(sig, NULL, (const uint8_t *)"m", 1,
					      smile_keys_sign_sk(k)),
			 0);
	assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)"m", 1,
						     smile_keys_sign_pk(k)),
			 0);
	/* the sign file holds the seed: the key pair derives from it */
	uint8_t seed[32], pk[32], sk[64];
	read_file("sign.key", seed, 32);
	crypto_sign_seed_keypair(pk, sk, seed);
	assert_memory_equal(pk, smile_keys_sign_pk(k), 32);
	/* the box pair matches */
	uint8_t box_pk[32];
	assert_int_equal(crypto_scalarmult_base(box_pk, smile_keys_box_sk(k)), 0);
	assert_memory_equal(box_pk, smile_keys_box_pk(k), 32);
	/* the four keys differ */
	uint8_t vk[32], bk[32], tk[32];
	read_file("vault.key", vk, 32);
	read_file("box.key", bk, 32);
	read_file("token-001.key", tk, 32);
	assert_memory_not_equal(vk, bk, 32);
	assert_memory_not_equal(vk, tk, 32);
	assert_memory_not_equal(seed, tk, 32);
	/* the vault works with the file's key */
	uint8_t wk[SMILE_VAULT_WRAPPED_KEY_BYTES], ct[64], pt[64];
	size_t ct_len, pt_len;
	assert_int_equal(smile_vault_seal(smile_keys_vault(k), (const uint8_t *)"s1", 2,
					  (const uint8_t *)"hello", 5, wk, ct, sizeof(ct), &ct_len,
					  &e),
			 SMILE_OK);
	struct smile_vault *v = smile_vault_new(vk, &e);
	assert_int_equal(smile_vault_open(v, (const uint8_t *)"s1", 2, wk, ct, ct_len, pt, sizeof(pt),
					  &pt_len, &e),
			 SMILE_OK);
	assert_memory_equal(pt, "hello", 5);
	smile_vault_free(v);
	smile_keys_free(k);
	smile_keys_free(NULL);
}

static void create_refuses_existing_keys(void **state)
{
	struct smile_error e = {0};
	uint8_t before[32], after[32];
	(void)state;
	assert_int_equal(smile_keys_create(data, &e), SMILE_OK);
	read_file("vault.key", before, 32);
	assert_int_equal(smile_keys_create(data, &e), SMILE_ERR_EXISTS);
	assert_string_equal(e.field, "keys");
	read_file("vault.key", after, 32);
	assert_memory_equal(before, after, 32);
	/* a lone token key counts too */
	char p[512];
	snprintf(data, sizeof(data), "%s/other", base);
	assert_int_equal(mkdir(data, 0700), 0);
	snprintf(p, sizeof(p), "%s/other/keys", base);
	assert_int_equal(mkdir(p, 0700), 0);
	write_file("token-009.key", before, 32, 0600);
	assert_int_equal(smile_keys_create(data, &e), SMILE_ERR_EXISTS);
	/* an empty keys/ (an init that died before writing) is fine */
	path_of(p, sizeof(p), "token-009.key");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(smile_keys_create(data, &e), SMILE_OK);
	assert_int_equal(load_code(&e), SMILE_OK);
	assert_int_equal(smile_keys_create("", &e), SMILE_ERR_INVALID);
}

static void load_refuses_unsafe_files(void **state)
{
	static const char *const files[] = {"vault.key", "sign.key", "box.key", "token-001.key",
					    "token.current"};
	static const mode_t bad_modes[] = {0644, 0640, 0604, 0660, 0602, 0620, 0601, 0610, 0400 | 04};
	struct smile_error e = {0};
	char want[64];
	(void)state;
	assert_int_equal(smile_keys_create(data, &e), SMILE_OK);
	assert_int_equal(load_code(&e), SMILE_OK);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		for (size_t m = 0; m < sizeof(bad_modes) / sizeof(bad_modes[0]); m++) {
			memset(&e, 0, sizeof(e));
			chmod_key(files[i], bad_modes[m]);
			assert_int_equal(load_code(&e), SMILE_ERR_PERMISSION);
			snprintf(want, sizeof(want), "keys/%s", files[i]);
			assert_string_equal(e.field, want); /* names the file */
			assert_non_null(strstr(e.message, "chmod 600"));
		}
		chmod_key(files[i], 0600);
		assert_int_equal(load_code(&e), SMILE_OK);
		chmod_key(files[i], 0400); /* read-only for the owner is fine */
		assert_int_equal(load_code(&e), SMILE_OK);
		chmod_key(files[i], 0600);
	}
	/* the directory */
	char p[512];
	snprintf(p, sizeof(p), "%s/keys", data);
	assert_int_equal(chmod(p, 0755), 0);
	assert_int_equal(load_code(&e), SMILE_ERR_PERMISSION);
	assert_string_equal(e.field, "keys");
	assert_non_null(strstr(e.message, "chmod 700"));
	assert_int_equal(chmod(p, 0701), 0);
	assert_int_equal(load_code(&e), SMILE_ERR_PERMISSION);
	assert_int_equal(chmod(p, 0700), 0);
	assert_int_equal(load_code(&e), SMILE_OK);
}

static void load_refuses_odd_files(void **state)
{
	struct smile_error e = {0};
	char p[512], q[512];
	uint8_t key[33] = {0};
	(void)state;
	assert_int_equal(smile_keys_create(data, &e), SMILE_OK);
	/* a symlink to a perfectly good 0600 file is still refused */
	snprintf(q, sizeof(q), "%s/elsewhere.key", base);
	int fd = open(q, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, key, 32), 32);
	close(fd);
	path_of(p, sizeof(p), "box.key");
	assert_int_equal(rename(p, q), 0); /* keep the real one aside */
	assert_int_equal(symlink(q, p), 0);
	assert_int_equal(load_code(&e), SMILE_ERR_PERMISSION);
	assert_string_equal(e.field, "keys/box.key");
	assert_int_equal(unlink(p), 0);
	/* missing */
	assert_int_equal(load_code(&e), SMILE_ERR_NOT_FOUND);
	assert_string_equal(e.field, "keys/box.key");
	/* a FIFO must not hang the loader */
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(load_code(&e), SMILE_ERR_PERMISSION);
	assert_int_equal(unlink(p), 0);
	/* a directory */
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(load_code(&e), SMILE_ERR_PERMISSION);
	assert_int_equal(rmdir(p), 0);
	/* wrong sizes */
	write_file("box.key", key, 31, 0600);
	assert_int_equal(load_code(&e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "keys/box.key");
	write_file("box.key", key, 33, 0600);
	assert_int_equal(load_code(&e), SMILE_ERR_CONFIG);
	write_file("box.key", key, 0, 0600);
	assert_int_equal(load_code(&e), SMILE_ERR_CONFIG);
	assert_int_equal(rename(q, p), 0);
	assert_int_equal(load_code(&e), SMILE_OK);
	/* owned by someone else (root can make that happen) */
	if (geteuid() == 0) {
		path_of(p, sizeof(p), "vault.key");
		assert_int_equal(chown(p, 1, 1), 0);
		assert_int_equal(load_code(&e), SMILE_ERR_PERMISSION);
		assert_non_null(strstr(e.message, "owned by uid 1"));
		assert_int_equal(chown(p, 0, 0), 0);
		assert_int_equal(load_code(&e), SMILE_OK);
	}
	/* keys/ a symlink to a good directory */
	snprintf(p, sizeof(p), "%s/keys", data);
	snprintf(q, sizeof(q), "%s/realkeys", base);
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(symlink(q, p), 0);
	assert_int_equal(load_code(&e), SMILE_ERR_PERMISSION);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(load_code(&e), SMILE_ERR_NOT_FOUND);
	assert_string_equal(e.field, "keys");
	assert_int_equal(rename(q, p), 0);
	assert_int_equal(load_code(&e), SMILE_OK);
	/* NULL and a missing data directory */
	assert_int_equal(smile_keys_load(data, NULL, &e), SMILE_ERR_INVALID);
	struct smile_keys *k = NULL;
	snprintf(p, sizeof(p), "%s/nope", base);
	assert_int_equal(smile_keys_load(p, &k, &e), SMILE_ERR_NOT_FOUND);
	assert_null(k);
}

static void load_checks_token_current(void **state)
{
	struct smile_error e = {0};
	static const struct {
		const char *text;
		enum smile_err code;
	} cases[] = {
		{"1\n", SMILE_OK},   {"1", SMILE_OK},
		{"2\n", SMILE_ERR_CONFIG},  /* no such key */
		{"01\n", SMILE_ERR_CONFIG}, {"256\n", SMILE_ERR_CONFIG}, {"-1\n", SMILE_ERR_CONFIG},
		{"1 \n", SMILE_ERR_CONFIG}, {"\n", SMILE_ERR_CONFIG},    {"x\n", SMILE_ERR_CONFIG},
		{"1\n\n", SMILE_ERR_CONFIG}, {"123456789", SMILE_ERR_CONFIG},
	};
	(void)state;
	assert_int_equal(smile_keys_create(data, &e), SMILE_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file("token.current", cases[i].text, strlen(cases[i].text), 0600);
		enum smile_err got = load_code(&e);
		if (got != cases[i].code)
			fail_msg("token.current case %zu: %s", i, smile_errname(got));
		if (got != SMILE_OK)
			assert_string_equal(e.field, "keys/token.current");
	}
}

static void rotation_and_retirement(void **state)
{
	struct smile_error e = {0};
	struct smile_keys *k = NULL;
	char t_old[SMILE_TOKEN_MAX], t_new[SMILE_TOKEN_MAX];
	uint64_t id;
	uint8_t kid = 0;
	(void)state;
	assert_int_equal(smile_keys_create(data, &e), SMILE_OK);
	assert_int_equal(smile_keys_load(data, &k, &e), SMILE_OK);
	assert_int_equal(smile_token_mint(smile_keys_token(k), 1001, t_old, &e), SMILE_OK);
	smile_keys_free(k);

	assert_int_equal(smile_keys_rotate_token(data, &kid, &e), SMILE_OK);
	assert_int_equal(kid, 2);
	assert_int_equal(mode_of("token-002.key"), 0600);
	assert_int_equal(size_of("token-002.key"), 32);
	assert_int_equal(smile_keys_load(data, &k, &e), SMILE_OK);
	assert_int_equal(smile_token_keyring_current(smile_keys_token(k)), 2);
	/* a token minted before the rotation still opens */
	assert_int_equal(smile_token_open(smile_keys_token(k), t_old, SMILE_TOKEN_LEN, &id, &kid, &e),
			 SMILE_OK);
	assert_true(id == 1001);
	assert_int_equal(kid, 1);
	/* new tokens use the new key */
	assert_int_equal(smile_token_mint(smile_keys_token(k), 1002, t_new, &e), SMILE_OK);
	assert_int_equal(smile_token_open(smile_keys_token(k), t_new, SMILE_TOKEN_LEN, &id, &kid, &e),
			 SMILE_OK);
	assert_int_equal(kid, 2);
	smile_keys_free(k);

	/* the current key cannot be retired; a missing one is not found */
	assert_int_equal(smile_keys_retire_token(data, 2, &e), SMILE_ERR_INVALID);
	assert_int_equal(smile_keys_retire_token(data, 77, &e), SMILE_ERR_NOT_FOUND);
	assert_string_equal(e.field, "keys/token-077.key");
	/* retire the old one: its tokens become unknown */
	assert_int_equal(smile_keys_retire_token(data, 1, &e), SMILE_OK);
	char p[512];
	path_of(p, sizeof(p), "token-001.key");
	assert_int_not_equal(access(p, F_OK), 0);
	assert_int_equal(smile_keys_load(data, &k, &e), SMILE_OK);
	assert_int_equal(smile_token_open(smile_keys_token(k), t_old, SMILE_TOKEN_LEN, &id, &kid, &e),
			 SMILE_ERR_TOKEN_UNKNOWN_KEY);
	assert_int_equal(smile_token_open(smile_keys_token(k), t_new, SMILE_TOKEN_LEN, &id, &kid, &e),
			 SMILE_OK);
	assert_true(id == 1002);
	smile_keys_free(k);

	/* rotation checks the key set first, like a load */
	chmod_key("vault.key", 0644);
	assert_int_equal(smile_keys_rotate_token(data, &kid, &e), SMILE_ERR_PERMISSION);
	assert_int_equal(smile_keys_retire_token(data, 2, &e), SMILE_ERR_PERMISSION);
	chmod_key("vault.key", 0600);
	path_of(p, sizeof(p), "token-003.key");
	assert_int_not_equal(access(p, F_OK), 0);
}

static void rotation_skips_used_ids_and_wraps(void **state)
{
	struct smile_error e = {0};
	uint8_t key[32], kid = 0;
	char name[32];
	(void)state;
	assert_int_equal(smile_keys_create(data, &e), SMILE_OK);
	randombytes_buf(key, sizeof(key));
	/* a stale temporary file from a crash and an unrelated file are harmless */
	write_file(".token.current.tmp", "9\n", 2, 0600);
	write_file("README", "notes", 5, 0644);
	write_file("token-2.key", key, 32, 0644); /* not a key name: ignored */
	/* ids 2 and 3 taken: the next is 4 */
	write_file("token-002.key", key, 32, 0600);
	write_file("token-003.key", key, 32, 0600);
	assert_int_equal(smile_keys_rotate_token(data, &kid, &e), SMILE_OK);
	assert_int_equal(kid, 4);
	assert_int_equal(load_code(&e), SMILE_OK);
	/* from 255 the next id is 0 */
	write_file("token-255.key", key, 32, 0600);
	write_file("token.current", "255\n", 4, 0600);
	assert_int_equal(smile_keys_rotate_token(data, &kid, &e), SMILE_OK);
	assert_int_equal(kid, 0);
	/* all 256 ids in use: refuse */
	for (unsigned i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "token-%03u.key", i);
		write_file(name, key, 32, 0600);
	}
	assert_int_equal(smile_keys_rotate_token(data, &kid, &e), SMILE_ERR_TOO_LARGE);
	assert_int_equal(load_code(&e), SMILE_OK);
	/* a bad key among many is named */
	chmod_key("token-100.key", 0640);
	assert_int_equal(load_code(&e), SMILE_ERR_PERMISSION);
	assert_string_equal(e.field, "keys/token-100.key");
}

static bool exists(const char *name)
{
	char p[512];
	struct stat st;
	path_of(p, sizeof(p), name);
	return lstat(p, &st) == 0;
}

static void vault_rotation_files(void **state)
{
	struct smile_error e = {0};
	struct smile_keys *k = NULL;
	uint8_t old_key[32], next_key[32], now[32], wk[SMILE_VAULT_WRAPPED_KEY_BYTES], ct[64];
	uint32_t old_kid, new_kid, kid2, cur, next;
	size_t ct_len, n;
	int created = -1, changed = -1;
	(void)state;
	assert_int_equal(smile_keys_create(data, &e), SMILE_OK);
	read_file("vault.key", old_key, 32);
	assert_int_equal(smile_keys_load(data, &k, &e), SMILE_OK);
	const struct smile_vault *v = smile_keys_vault(k);
	old_kid = smile_vault_key_id(v);
	uint64_t stamp = smile_keys_vault_stamp(data);
	assert_int_equal(smile_keys_vault_stamp(data), stamp);
	assert_int_equal(smile_keys_reload_vault(data, k, &changed, &e), SMILE_OK);
	assert_int_equal(changed, 0);

	/* step 1: a next key, 0600, with an id of its own; a rerun keeps it */
	assert_int_equal(smile_keys_vault_begin(data, &kid2, &new_kid, &created, &e), SMILE_OK);
	assert_int_equal(kid2, old_kid);
	assert_int_not_equal(new_kid, old_kid);
	assert_int_equal(created, 1);
	assert_int_equal(mode_of("vault.next.key"), 0600);
	read_file("vault.next.key", next_key, 32);
	assert_int_not_equal(smile_keys_vault_stamp(data), stamp);
	assert_int_equal(smile_keys_vault_begin(data, &kid2, &cur, &created, &e), SMILE_OK);
	assert_int_equal(created, 0);
	assert_int_equal(cur, new_kid);
	assert_int_equal(kid2, old_kid);

	/* a running gateway reloads in place: same pointer, both keys, seals
	 * with the next one */
	assert_int_equal(smile_keys_reload_vault(data, k, &changed, &e), SMILE_OK);
	assert_int_equal(changed, 1);
	assert_ptr_equal(smile_keys_vault(k), v);
	assert_int_equal(smile_vault_key_ids(v, &cur, &next), 2);
	assert_int_equal(cur, old_kid);
	assert_int_equal(next, new_kid);
	assert_int_equal(smile_vault_seal(v, (const uint8_t *)"s1", 2, (const uint8_t *)"x", 1, wk,
					  ct, sizeof(ct), &ct_len, &e),
			 SMILE_OK);
	assert_int_equal(smile_vault_wrapped_key_id(wk), new_kid);
	assert_int_equal(load_code(&e), SMILE_OK); /* every command loads both too */

	/* a mismatched finish changes nothing */
	assert_int_equal(smile_keys_vault_finish(data, old_kid, new_kid ^ 1, &e), SMILE_ERR_CONFLICT);
	assert_int_equal(smile_keys_vault_finish(data, old_kid ^ 1, new_kid, &e), SMILE_ERR_CONFLICT);
	read_file("vault.key", now, 32);
	assert_memory_equal(now, old_key, 32);

	/* step 3: the next key takes the old one's place */
	assert_int_equal(smile_keys_vault_finish(data, old_kid, new_kid, &e), SMILE_OK);
	assert_false(exists("vault.next.key"));
	assert_int_equal(mode_of("vault.key"), 0600);
	read_file("vault.key", now, 32);
	assert_memory_equal(now, next_key, 32);
	assert_int_equal(smile_keys_vault_finish(data, old_kid, new_kid, &e), SMILE_OK);
	assert_int_equal(smile_keys_reload_vault(data, k, &changed, &e), SMILE_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(smile_vault_key_ids(v, &cur, &next), 1);
	assert_int_equal(cur, new_kid);
	uint8_t pt[8];
	assert_int_equal(smile_vault_open(v, (const uint8_t *)"s1", 2, wk, ct, ct_len, pt,
					  sizeof(pt), &n, &e),
			 SMILE_OK);

	/* a crash between destroying the old key and the rename: vault.key is
	 * all zeros beside vault.next.key; loading uses the next key alone, and
	 * step 1 says only the finish is left */
	uint8_t zero[32] = {0}, third[32];
	randombytes_buf(third, sizeof(third));
	write_file("vault.next.key", third, 32, 0600);
	write_file("vault.key", zero, 32, 0600);
	assert_int_equal(smile_keys_reload_vault(data, k, &changed, &e), SMILE_OK);
	assert_int_equal(smile_vault_key_ids(v, &cur, NULL), 1);
	assert_int_equal(smile_keys_vault_begin(data, &kid2, &new_kid, &created, &e), SMILE_OK);
	assert_int_equal(kid2, 0);
	assert_int_equal(new_kid, cur);
	assert_int_equal(created, 0);
	assert_int_equal(smile_keys_vault_finish(data, 0, new_kid, &e), SMILE_OK);
	read_file("vault.key", now, 32);
	assert_memory_equal(now, third, 32);
	/* without the next key, a destroyed vault.key is an error that says so */
	write_file("vault.key", zero, 32, 0600);
	assert_int_equal(load_code(&e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "keys/vault.key");
	assert_non_null(strstr(e.message, "destroyed by a vault key rotation"));
	/* a next key with bad permissions is refused like any key */
	write_file("vault.key", third, 32, 0600);
	write_file("vault.next.key", next_key, 32, 0640);
	assert_int_equal(load_code(&e), SMILE_ERR_PERMISSION);
	assert_string_equal(e.field, "keys/vault.next.key");
	assert_int_equal(smile_keys_reload_vault(data, k, &changed, &e), SMILE_ERR_PERMISSION);
	assert_int_equal(smile_vault_key_id(v), new_kid); /* unchanged on error */
	/* a next key equal to the current one is no rotation */
	write_file("vault.next.key", third, 32, 0600);
	assert_int_equal(load_code(&e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "keys/vault.next.key");
	smile_keys_free(k);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(create_then_load),
		T(create_refuses_existing_keys),
		T(load_refuses_unsafe_files),
		T(load_refuses_odd_files),
		T(load_checks_token_current),
		T(rotation_and_retirement),
		T(rotation_skips_used_ids_and_wraps),
		T(vault_rotation_files),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
