/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto_vectors.h - the test vectors of docs/protocol.md ("Test vectors"),
 * shared by test_proto.c and test_device.c. The inputs are fixed seeds; every
 * output below was also produced by an independent implementation of the
 * spec (Python: cryptography + hashlib + a hand-written HChaCha20). If one
 * changes, the wire format changed: update docs/protocol.md with it.
 */
#ifndef SMILE_TEST_PROTO_VECTORS_H
#define SMILE_TEST_PROTO_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "smile/device.h"

/* ---- inputs (docs/protocol.md 13.1) */
#define V_DEVICE_ID "courier-01"
/* device Ed25519 seed 00 01 .. 1f; device X25519 secret 20 21 .. 3f;
 * gateway Ed25519 seed 40 .. 5f; gateway X25519 secret 60 .. 7f;
 * reply nonce 80 81 .. 97 */
#define V_DEVICE_SIGN_SEED_FIRST 0x00
#define V_DEVICE_BOX_SK_FIRST 0x20
#define V_GATEWAY_SIGN_SEED_FIRST 0x40
#define V_GATEWAY_BOX_SK_FIRST 0x60
#define V_NONCE_FIRST 0x80
#define V_TOKEN "SW1:NCK6YVK9HK*T3U1-OIO%3M2XSN$IZ+QNQ8AEO.71IT9N4"
#define V_WAYBILL "SW2601010000017"
#define V_MASKED \
	"{\"name\":\"张**\",\"phone\":\"138*******8\",\"address\":\"上海市 浦东新区 世纪大道100号 ****\"}"
#define V_CONTACT \
	"{\"name\":\"张三明\",\"phone\":\"13812345678\",\"address\":\"上海市 浦东新区 世纪大道100号 12楼 " \
	"1203室\"}"
/* the device's MQTT broker password (docs/protocol.md 9.1, 13.2) */
#define V_MQTT_PASSWORD "CttIs2SmtULusPA-bo77uTifLFaWI_EEnJCRo6OrgFI"
#define V_ENROLMENT \
	"{\"id\":\"courier-01\",\"sign_pk\":\"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\"," \
	"\"box_pk\":\"NYBy1jZYgNGu6jKa35EhODhR7SGijjt16WXQ0s0WYlQ=\"}"

/* ---- outputs, hex (docs/protocol.md 13.2 - 13.6) */
static const char V_DEVICE_SIGN_PK[] =
	"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
static const char V_DEVICE_BOX_PK[] =
	"358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254";
static const char V_GATEWAY_SIGN_PK[] =
	"2543b92ff1095511476adc8369db6ddc933665a11978dda1404ee1066ca9559d";
static const char V_GATEWAY_BOX_PK[] =
	"675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f";
static const char V_SHARED[] =
	"4669df5130fe02333395b7f2666d0fd60c709166413344f4a4c1a2a8693285c8";
static const char V_KEYFILE[] =
	"534d444b010a636f75726965722d303100000000000000000000000000000000"
	"000000000000000102030405060708090a0b0c0d0e0f10111213141516171819"
	"1a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233343536373839"
	"3a3b3c3d3e3f02318e63322d238f031a53e97e69c35e";
static const char V_SCAN_A[] =
	"0101000a636f75726965722d3031000000000000002a0000019b76daa8000000"
	"019b76daa224040100315357313a4e434b3659564b39484b2a543355312d4f49"
	"4f25334d3258534e24495a2b514e513841454f2e37314954394e3401dc89d007"
	"3d8aa5000cf2a1159d876e98b597450ea1c3c2cfd38d364b433b91023cf070b6"
	"9c46b7d0effe8e0a8607b6d8dff3feae0dc2b310fb066d50f2331e9ab7b3ee4a"
	"91aac68302";
static const char V_SCAN_B[] =
	"0101000a636f75726965722d3031000000000000002b0000019b76db92600000"
	"019b76db9260060100315357313a4e434b3659564b39484b2a543355312d4f49"
	"4f25334d3258534e24495a2b514e513841454f2e37314954394e34fdeffd36fc"
	"852ae8ffff1240dd97a301e2e13eda8de81f7e6cc4225917e146b5690a2cd736"
	"a0ab25fd6949a9a3dbb9f0aff64ea44f05c5936c8c9be5f30dd5c784526de269"
	"6bb02d470a";
static const char V_SCAN_C[] =
	"0101000a636f75726965722d3031000000000000002c0000019b76e0c2800000"
	"019b76df3be0010000315357313a4e434b3659564b39484b2a543355312d4f49"
	"4f25334d3258534e24495a2b514e513841454f2e37314954394e341e5143f7ae"
	"0b601574ced7fda49461a6b775a17fa9398320667e9c1be3fdd30950e17e6991"
	"8e441237dead94edb4273e3804cf1fefecff174511731574e56105";
static const char V_DIGEST_A[] =
	"c2bef0313947d90093707de06281a434147ee182d676253042990f52ed7103bc";
static const char V_REPLY_1[] =
	"0102000a636f75726965722d3031000000000000002ac2bef0313947d9009370"
	"7de06281a434147ee182d676253042990f52ed7103bc0000019b76daa87b0100"
	"00000f53573236303130313030303030313700617b226e616d65223a22e5bca0"
	"2a2a222c2270686f6e65223a223133382a2a2a2a2a2a2a38222c226164647265"
	"7373223a22e4b88ae6b5b7e5b88220e6b5a6e4b89ce696b0e58cba20e4b896e7"
	"baaae5a4a7e98193313030e58fb7202a2a2a2a227d0096808182838485868788"
	"898a8b8c8d8e8f9091929394959697449a444b10aa8ba4603e1a1da427f7552c"
	"21b3411630f67b9130e5822bfe92f74c201ae328afb9d2d38a05a631fe9f397e"
	"fbc43336e7efbfda26716d6b5c1c6c89c5d0d9aa92a94b7e4188c7c1d4089703"
	"72b229d7f02cdc02631b1ee98e23bad344e4eac9ba01d0802a877799cd65ab29"
	"f1fc4ca955a9f04bc7ce52b03a8b1fa0847e08dee721b3d6ea0ee55b78adad8e"
	"85b41146fa90e7c60ab4e08997d1f58a3d7227b68150b4c6dedcd20037e3809f"
	"1b10c1f24def035dff60ddd802";
static const char V_REPLY_2[] =
	"0102000a636f75726965722d3031000000000000002b4a1df54f91e979389c84"
	"447fca1ba53a8be2a0a82ec6324faa1858e00f6efc090000019b76e110a00300"
	"0a000000000000c96d202a0b420737276e31673a5c91416c81e08ac77c7c3a0f"
	"cba0503ba18ae9d2eda809c3165dd7ad3018498b443d748c399dbce8c9185265"
	"a1b68740d3e00c";

/* Fill out[i] = first + i. */
static inline void v_seq_bytes(uint8_t *out, size_t n, unsigned first)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(first + i);
}

/* The vector device's and the vector gateway's keys (docs/protocol.md
 * section 13); the gateway's keys reuse the device key struct. 0 on success. */
static inline int v_vector_keys(struct smile_device_keys *dev, struct smile_device_keys *gw)
{
	uint8_t a[32], b[32];
	v_seq_bytes(a, 32, V_DEVICE_SIGN_SEED_FIRST);
	v_seq_bytes(b, 32, V_DEVICE_BOX_SK_FIRST);
	if (smile_device_keys_from_seeds(V_DEVICE_ID, a, b, dev, NULL) != SMILE_OK)
		return -1;
	v_seq_bytes(a, 32, V_GATEWAY_SIGN_SEED_FIRST);
	v_seq_bytes(b, 32, V_GATEWAY_BOX_SK_FIRST);
	return smile_device_keys_from_seeds("gateway", a, b, gw, NULL) == SMILE_OK ? 0 : -1;
}

/* Decode a hex string into out; returns the byte count (cap checked by caller). */
static inline size_t v_hex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (; hex[0] && hex[1] && n < cap; hex += 2) {
		unsigned hi = (unsigned)(hex[0] <= '9' ? hex[0] - '0' : hex[0] - 'a' + 10);
		unsigned lo = (unsigned)(hex[1] <= '9' ? hex[1] - '0' : hex[1] - 'a' + 10);
		out[n++] = (uint8_t)(hi << 4 | lo);
	}
	return n;
}

#endif
