/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for gateway/personal.c, the one owner of the sealed personal
 * record: a round trip gives the recipient's contact details in the shape of
 * docs/protocol.md 5.3 (and nothing of the sender); a record is bound to its
 * shipment id (sealed for 7, it does not open as 8); every altered byte of
 * the ciphertext or the wrapped key, another vault key, an erased row and a
 * malformed record fail with the right code, and on every failure the
 * output buffer is wiped and no length is returned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../../../gateway/personal.h"

static const char request[] =
	"{\"recipient\":{\"name\":\"张三明\",\"phone\":\"13812345678\",\"address\":{"
	"\"country\":\"CN\",\"province\":\"湖北省\",\"city\":\"武汉市\",\"district\":\"江汉区\","
	"\"street\":\"建设大道568号\",\"detail\":\"3栋2单元1502室\"}},"
	"\"sender\":{\"name\":\"王二\",\"phone\":\"027-85699449\",\"address\":{\"city\":\"武汉市\","
	"\"street\":\"中山大道1号\"}},\"weight_g\":500}";

static const char contact[] = "{\"name\":\"张三明\",\"phone\":\"13812345678\","
			      "\"address\":\"湖北省 武汉市 江汉区 建设大道568号 3栋2单元1502室\"}";

struct fixture {
	struct smile_vault *v;
	json_t *j;
	struct shipment_req req;
};

static struct smile_vault *vault_of(uint8_t seed)
{
	uint8_t key[SMILE_VAULT_KEY_BYTES];
	struct smile_vault *v;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(seed + 31 * i);
	v = smile_vault_new(key, NULL);
	sodium_memzero(key, sizeof(key));
	assert_non_null(v);
	return v;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	f->v = vault_of(1);
	f->j = json_loads(request, 0, NULL);
	assert_non_null(f->j);
	assert_int_equal(shipment_parse(f->j, &f->req, NULL), SMILE_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	smile_vault_free(f->v);
	json_decref(f->j);
	free(f);
	return 0;
}

static int all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Open p as shipment id; on failure check that nothing came out. */
static enum smile_err open_as(const struct smile_vault *v, const struct smile_store_personal *p,
			      uint64_t id, char out[1024], size_t *len)
{
	enum smile_err rc;
	memset(out, 'X', 1024);
	*len = 777;
	rc = personal_open(v, p, id, out, 1024, len, NULL);
	if (rc) {
		assert_int_equal(*len, 0);
		assert_true(all_zero(out, 1024));
	}
	return rc;
}

static void aad_is_the_id_big_endian(void **state)
{
	uint8_t aad[PERSONAL_AAD_BYTES];
	static const uint8_t want[] = {1, 2, 3, 4, 5, 6, 7, 8};
	(void)state;
	personal_aad(0x0102030405060708ULL, aad);
	assert_memory_equal(aad, want, sizeof(want));
}

static void round_trip(void **state)
{
	struct fixture *f = *state;
	struct smile_store_personal p;
	struct smile_error e = {0};
	char out[1024];
	size_t len;

	assert_int_equal(personal_seal(f->v, &f->req, 7, &p, &e), SMILE_OK);
	assert_int_equal(p.wrapped_len, SMILE_VAULT_WRAPPED_KEY_BYTES);
	assert_non_null(p.ct);
	/* sealed: neither the phone nor the name is in the blobs */
	assert_null(memmem(p.ct, p.ct_len, "13812345678", 11));
	assert_null(memmem(p.ct, p.ct_len, "张三明", strlen("张三明")));
	assert_int_equal(open_as(f->v, &p, 7, out, &len), SMILE_OK);
	assert_int_equal(len, strlen(contact));
	assert_memory_equal(out, contact, len);
	/* the recipient only: never the sender */
	assert_null(memmem(out, len, "王二", strlen("王二")));
	smile_store_personal_release(&p);
}

static void bound_to_its_shipment(void **state)
{
	struct fixture *f = *state;
	struct smile_store_personal p;
	char out[1024];
	size_t len;

	assert_int_equal(personal_seal(f->v, &f->req, 7, &p, NULL), SMILE_OK);
	assert_int_equal(open_as(f->v, &p, 8, out, &len), SMILE_ERR_DECRYPT);
	assert_int_equal(open_as(f->v, &p, 7ULL << 56, out, &len), SMILE_ERR_DECRYPT);
	/* another vault key: the same failure */
	struct smile_vault *other = vault_of(2);
	assert_int_equal(open_as(other, &p, 7, out, &len), SMILE_ERR_DECRYPT);
	smile_vault_free(other);
	/* and it still opens where it belongs */
	assert_int_equal(open_as(f->v, &p, 7, out, &len), SMILE_OK);
	smile_store_personal_release(&p);
}

static void tampering_fails_whole(void **state)
{
	struct fixture *f = *state;
	struct smile_store_personal p;
	char out[1024];
	size_t len;

	assert_int_equal(personal_seal(f->v, &f->req, 7, &p, NULL), SMILE_OK);
	for (size_t i = 0; i < p.ct_len; i++) {
		p.ct[i] ^= 0x01;
		assert_int_equal(open_as(f->v, &p, 7, out, &len), SMILE_ERR_DECRYPT);
		p.ct[i] ^= 0x01;
	}
	for (size_t i = 0; i < p.wrapped_len; i++) {
		p.wrapped_key[i] ^= 0x80;
		assert_int_not_equal(open_as(f->v, &p, 7, out, &len), SMILE_OK);
		p.wrapped_key[i] ^= 0x80;
	}
	/* truncated */
	p.ct_len--;
	assert_int_equal(open_as(f->v, &p, 7, out, &len), SMILE_ERR_DECRYPT);
	p.ct_len++;
	assert_int_equal(open_as(f->v, &p, 7, out, &len), SMILE_OK);
	/* erased: the wrapped key is gone */
	p.wrapped_len = 0;
	assert_int_equal(open_as(f->v, &p, 7, out, &len), SMILE_ERR_SHREDDED);
	smile_store_personal_release(&p);
}

/* A record that opens but is no recipient, and contact details that do not
 * fit: no partial output either way. */
static void no_partial_output(void **state)
{
	struct fixture *f = *state;
	static const char bad[] = "{\"recipient\":{\"name\":\"张三明\",\"phone\":5}}";
	struct smile_store_personal p = {0};
	uint8_t aad[PERSONAL_AAD_BYTES];
	char out[1024];
	size_t len;

	personal_aad(9, aad);
	p.ct = malloc(sizeof(bad) + SMILE_VAULT_CT_OVERHEAD);
	assert_non_null(p.ct);
	assert_int_equal(smile_vault_seal(f->v, aad, sizeof(aad), (const uint8_t *)bad,
					  sizeof(bad) - 1, p.wrapped_key, p.ct,
					  sizeof(bad) + SMILE_VAULT_CT_OVERHEAD, &p.ct_len, NULL),
			 SMILE_OK);
	p.wrapped_len = SMILE_VAULT_WRAPPED_KEY_BYTES;
	assert_int_equal(open_as(f->v, &p, 9, out, &len), SMILE_ERR_INVALID);
	smile_store_personal_release(&p);

	assert_int_equal(personal_seal(f->v, &f->req, 7, &p, NULL), SMILE_OK);
	memset(out, 'X', sizeof(out));
	len = 777;
	assert_int_equal(personal_open(f->v, &p, 7, out, strlen(contact) - 1, &len, NULL),
			 SMILE_ERR_TOO_LARGE);
	assert_int_equal(len, 0);
	assert_true(all_zero(out, strlen(contact) - 1));
	smile_store_personal_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aad_is_the_id_big_endian),
		cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(bound_to_its_shipment, setup, teardown),
		cmocka_unit_test_setup_teardown(tampering_fails_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(no_partial_output, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
