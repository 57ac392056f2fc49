/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sample.c - realistic, already-masked label records for demos, tests and
 * the benchmark.
 *
 * Record `index` of stream `seed` is a pure function of the pair (a
 * splitmix64 generator seeded from both), so any record can be regenerated
 * alone and a batch is reproducible. The mix follows what a Chinese carrier
 * with cross-border traffic prints: mostly Chinese parties, Latin ones with
 * Polish diacritics (the letters Noto Sans CJK lacks, so fallback is
 * exercised), and some Arabic and Hebrew (right to left). Names and phones
 * are masked the way the gateway's cn-gbt41833 policy masks them.
 */
#include "label_internal.h"

#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rng {
	uint64_t s;
};

static uint64_t next(struct rng *g)
{
	uint64_t z = (g->s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static unsigned pick(struct rng *g, unsigned n)
{
	return (unsigned)(next(g) % n);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define ONE(g, a) ((a)[pick((g), (unsigned)N(a))])

static const char *const cn_surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵",
					  "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
					  "何", "林", "罗", "欧阳"};
static const char *const cn_given[] = {"明", "华", "伟", "芳", "娜", "静", "丽", "强",
				       "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛"};
static const char *const cn_regions[] = {
	"湖北省 武汉市 江汉区",	  "湖北省 武汉市 洪山区", "广东省 深圳市 南山区",
	"广东省 广州市 天河区",	  "浙江省 杭州市 西湖区", "江苏省 南京市 鼓楼区",
	"四川省 成都市 武侯区",	  "北京市 朝阳区",	  "上海市 浦东新区",
	"陕西省 西安市 雁塔区",	  "福建省 厦门市 思明区", "山东省 青岛市 市南区",
	"新疆维吾尔自治区 乌鲁木齐市 天山区",
};
static const char *const cn_streets[] = {
	"建设大道568号",	 "解放大道1095号",     "科技园南区高新南七道18号",
	"天河路385号太古汇",	 "文三路90号东部软件园", "中山北路200号",
	"人民南路四段12号",	 "建国路88号SOHO现代城", "世纪大道100号环球金融中心",
	"长安南路563号",	 "湖滨北路57号",	      "香港中路76号",
	"泛海国际SOHO城",
};
static const char *const pl_first[] = {"Łucja", "Świętosław", "Żaneta", "Ścibor", "Łukasz",
				       "Małgorzata", "Józef", "Zbigniew", "Agnieszka", "Ewa"};
static const char *const pl_last[] = {"Żak", "Łęcka", "Świątek", "Wąsowska", "Kęsicki",
				      "Ślusarczyk", "Jabłoński", "Wróbel", "Zając", "Nowak"};
static const char *const pl_regions[] = {"mazowieckie Warszawa Śródmieście",
					 "małopolskie Kraków Stare Miasto",
					 "łódzkie Łódź Bałuty", "pomorskie Gdańsk Wrzeszcz",
					 "dolnośląskie Wrocław Krzyki", "śląskie Częstochowa"};
static const char *const pl_streets[] = {"ul. Marszałkowska 12", "ul. Świętokrzyska 30",
					 "ul. Żółkiewskiego 7", "ul. Piękna 44",
					 "al. Jerozolimskie 65", "ul. Długa 5"};
static const char *const ar_names[] = {"م** ع**", "ف** ا**", "خ** ح**", "ع** ا**"};
static const char *const ar_regions[] = {"الرياض حي العليا", "جدة حي الروضة",
					 "دبي ديرة"};
static const char *const ar_streets[] = {"شارع الملك فهد", "طريق الأمير سلطان",
					 "شارع الشيخ زايد"};
static const char *const he_names[] = {"ד** כ**", "ש** ל**", "מ** א**"};
static const char *const he_regions[] = {"תל אביב-יפו", "ירושלים", "חיפה"};
static const char *const he_streets[] = {"רחוב הרצל", "שדרות רוטשילד", "רחוב יפו"};
static const char *const merchants[] = {"Ziyun Store", "云仓旗舰店", "小米之家 Xiaomi",
					"Księgarnia Łódź", "Bookworm Ltd", "良品铺子官方店",
					"Atelier Żurawia", "Souq Al-Noor"};
static const char *const services[] = {"STANDARD", "EXPRESS", "标快", "特快 EXPRESS",
				       "ECONOMY", "次日达"};
static const char *const notes[] = {"易碎品，请轻拿轻放", "Fragile - handle with care",
				    "送货前请电话联系", "Please leave with the concierge",
				    "工作日派送", "Proszę dzwonić domofonem ****"};

enum kind { K_CN, K_PL, K_AR, K_HE };

static enum kind pick_kind(struct rng *g)
{
	unsigned v = pick(g, 100);
	return v < 60 ? K_CN : v < 85 ? K_PL : v < 93 ? K_AR : K_HE;
}

static void cn_name(struct rng *g, char *out, size_t n)
{
	const char *sur = ONE(g, cn_surnames);
	if (pick(g, 2))
		snprintf(out, n, "%s**", sur);
	else
		snprintf(out, n, "%s*%s", sur, ONE(g, cn_given));
}

static void phone(struct rng *g, enum kind k, char *out, size_t n)
{
	switch (k) {
	case K_CN:
		if (pick(g, 5))
			snprintf(out, n, "1%u%u*******%u", 3 + pick(g, 7), pick(g, 10), pick(g, 10));
		else
			snprintf(out, n, "0%u%u-*******%u", 1 + pick(g, 9), pick(g, 10),
				 pick(g, 10));
		break;
	case K_PL:
		snprintf(out, n, "+48 *******%u", pick(g, 10));
		break;
	case K_AR:
		snprintf(out, n, "+966 *******%u", pick(g, 10));
		break;
	case K_HE:
		snprintf(out, n, "+972 *******%u", pick(g, 10));
		break;
	}
}

static json_t *party(struct rng *g)
{
	enum kind k = pick_kind(g);
	char name[128], ph[64], street[256];
	json_t *o = json_object(), *addr = json_array();

	switch (k) {
	case K_CN:
		cn_name(g, name, sizeof(name));
		json_array_append_new(addr, json_string(ONE(g, cn_regions)));
		snprintf(street, sizeof(street), "%s ****", ONE(g, cn_streets));
		json_array_append_new(addr, json_string(street));
		break;
	case K_PL: {
		const char *f = ONE(g, pl_first), *l = ONE(g, pl_last);
		/* initial of each word + "**", as the gateway masks Latin names */
		int fl = (int)(g_utf8_next_char(f) - f);
		int ll = (int)(g_utf8_next_char(l) - l);
		snprintf(name, sizeof(name), "%.*s** %.*s**", fl, f, ll, l);
		snprintf(street, sizeof(street), "%s ****", ONE(g, pl_streets));
		json_array_append_new(addr, json_string(ONE(g, pl_regions)));
		json_array_append_new(addr, json_string(street));
		json_array_append_new(addr, json_string("Poland 波兰"));
		break;
	}
	case K_AR:
		snprintf(name, sizeof(name), "%s", ONE(g, ar_names));
		snprintf(street, sizeof(street), "%s ****", ONE(g, ar_streets));
		json_array_append_new(addr, json_string(ONE(g, ar_regions)));
		json_array_append_new(addr, json_string(street));
		json_array_append_new(addr, json_string("Saudi Arabia / UAE"));
		break;
	case K_HE:
		snprintf(name, sizeof(name), "%s", ONE(g, he_names));
		snprintf(street, sizeof(street), "%s ****", ONE(g, he_streets));
		json_array_append_new(addr, json_string(ONE(g, he_regions)));
		json_array_append_new(addr, json_string(street));
		json_array_append_new(addr, json_string("Israel 以色列"));
		break;
	}
	phone(g, k, ph, sizeof(ph));
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "phone", json_string(ph));
	json_object_set_new(o, "address", addr);
	return o;
}

enum smile_err smile_label_sample(uint64_t seed, uint64_t index, struct smile_buf *out)
{
	static const char b45[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
	struct rng g = {seed * 0x2545F4914F6CDD1Dull ^ (index + 1) * 0x9E3779B97F4A7C15ull};
	char waybill[40], sort[40], date[16], token[LABEL_TOKEN_MAX + 1];
	unsigned day = 1 + (unsigned)(index % 28), tlen;
	unsigned count;
	json_t *o, *p;
	char *s;
	enum smile_err err;

	next(&g);
	snprintf(waybill, sizeof(waybill), "SW2611%02u%07u", day,
		 (unsigned)((seed * 7919 + index) % 10000000));
	/* the gateway's shape (docs/masking.md, "Sort code"): no run of more
	 * than 7 digits, which the privacy check would refuse */
	{
		static const char letters[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
		unsigned pp = pick(&g, 1000), cc = pick(&g, 1000);
		unsigned x = pick(&g, 24), y = pick(&g, 24);

		snprintf(sort, sizeof(sort), "%03u-%03u-%c%c", pp, cc, letters[x], letters[y]);
	}
	snprintf(date, sizeof(date), "2026-11-%02u", day);
	/* a sealed token is ~70 bytes: ~105 base45 characters */
	tlen = 90 + pick(&g, 30);
	memcpy(token, "SW1:", 4);
	for (unsigned i = 4; i < tlen; i++)
		token[i] = b45[pick(&g, 45)];
	token[tlen] = '\0';
	count = pick(&g, 5) ? 1 : 2 + pick(&g, 3);

	o = json_object();
	json_object_set_new(o, "waybill", json_string(waybill));
	json_object_set_new(o, "sort_code", json_string(sort));
	json_object_set_new(o, "service", json_string(ONE(&g, services)));
	json_object_set_new(o, "date", json_string(date));
	json_object_set_new(o, "token", json_string(token));
	json_object_set_new(o, "merchant", json_string(ONE(&g, merchants)));
	json_object_set_new(o, "recipient", party(&g));
	json_object_set_new(o, "sender", party(&g));
	json_object_set_new(o, "weight_g", json_integer(50 + pick(&g, 30000)));
	p = json_object();
	json_object_set_new(p, "index", json_integer(1 + pick(&g, count)));
	json_object_set_new(p, "count", json_integer(count));
	json_object_set_new(o, "parcel", p);
	if (pick(&g, 10) < 3)
		json_object_set_new(o, "note", json_string(ONE(&g, notes)));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (s == NULL)
		return SMILE_ERR_NOMEM;
	err = smile_buf_puts(out, s);
	free(s);
	return err;
}
