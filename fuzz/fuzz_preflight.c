/*
 * fuzz_preflight: pf_check and pf_check_thread of arbitrary targets.
 *
 * Input layout: byte 0 picks the platform (of the catalog's platforms),
 * byte 1 the shape (bit 0 HTML, bits 1-2 thread items - 1, bits 3-5
 * media count, bit 6 settings), then per media item 8 bytes (MIME from a
 * fixed list, size, width, height, duration), then one byte choosing the
 * settings, and the rest is the text of the items, split at 0x1e bytes.
 *
 * Oracles: no sanitizer report; a known platform is never refused; every
 * violation names a rule of the catalog for that platform, with an item
 * index in range, a media index in range, and a complete message and
 * remediation (no template placeholder left); the same target gives the
 * same violations again; pf_violation_json gives an object naming the rule.
 */
#include "core/arena.h"
#include "preflight/rules.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const char *platform, const char *id)
{
	fprintf(stderr, "fuzz_preflight: %s (platform %s, rule %s)\n", what, platform,
		id ? id : "-");
	abort();
}

static const char *const mimes[] = {
	NULL,        "image/jpeg", "image/png",       "image/gif",  "image/webp",
	"video/mp4", "video/quicktime", "application/pdf", "image/bmp", "video/webm",
	"IMAGE/JPEG", "video/mp4; codecs=avc1", "", "image/", "video/x-m4v", "text/plain",
};

static json_t *settings_for(uint8_t b, const char *text, size_t tl)
{
	json_t *s = json_object();
	json_t *str = json_stringn_nocheck(text, tl < 400 ? tl : 400);
	if (b & 1)
		json_object_set_new(s, "post_type", json_string(b & 2 ? "article" : "story"));
	if (b & 4)
		json_object_set_new(s, "post_as_images_carousel", json_boolean(b & 8));
	if (b & 16)
		json_object_set(s, "title", str);
	if (b & 32)
		json_object_set(s, "spoiler_text", str);
	if (b & 64)
		json_object_set_new(s, "subreddit",
				    json_pack("[{s:{s:O}},{s:i}]", "value", "title", str, "x", 1));
	if (b & 128)
		json_object_set_new(s, "text_format_preset_id", json_integer(b));
	json_decref(str);
	return s;
}

static void check(const struct pf_violation *v, size_t n, const char *platform, size_t nitems,
		  const struct pf_target *t)
{
	for (size_t i = 0; i < n; i++) {
		const struct pf_rule *r = v[i].rule;
		int known = 0;
		for (size_t k = 0; k < pf_rule_count(); k++)
			if (pf_rule_at(k) == r)
				known = 1;
		if (!known || strcmp(v[i].id, r->id) || strcmp(r->platform, platform))
			die("violation of an unknown rule or another platform", platform, v[i].id);
		if (v[i].item >= (long)nitems || v[i].item < -1)
			die("item index out of range", platform, v[i].id);
		size_t item = v[i].item < 0 ? 0 : (size_t)v[i].item;
		if (v[i].media >= (long)t[item].nmedia || v[i].media < -1)
			die("media index out of range", platform, v[i].id);
		if (!v[i].message || !*v[i].message || strchr(v[i].message, '{') ||
		    !v[i].remediation || !*v[i].remediation || strchr(v[i].remediation, '{'))
			die("incomplete message", platform, v[i].id);
		json_t *o = pf_violation_json(&v[i]);
		if (!json_is_object(o) || strcmp(json_string_value(json_object_get(o, "rule")), r->id))
			die("violation JSON", platform, v[i].id);
		json_decref(o);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int catalog_checked;
	if (!catalog_checked) {
		json_t *c = pf_catalog_json();
		if (json_array_size(c) != pf_rule_count())
			die("catalog size", "-", NULL);
		json_decref(c);
		catalog_checked = 1;
	}
	if (size < 3 || size > 32 * 1024)
		return 0;
	const char *platform = pf_platform_at(data[0] % pf_platform_count());
	uint8_t shape = data[1];
	size_t nitems = 1 + ((shape >> 1) & 3);
	size_t nmedia = (shape >> 3) & 7;
	size_t pos = 2;
	struct pf_media media[7];
	memset(media, 0, sizeof(media));
	for (size_t i = 0; i < nmedia; i++) {
		if (size - pos < 8) {
			nmedia = i;
			break;
		}
		const uint8_t *d = data + pos;
		media[i].mime = mimes[d[0] % (sizeof(mimes) / sizeof(mimes[0]))];
		media[i].bytes = (int64_t)d[1] << (d[2] % 40);
		media[i].width = (int)d[3] * (1 + d[4] % 40);
		media[i].height = (int)d[5] * (1 + d[6] % 40);
		media[i].duration_s = d[7] / 4.0;
		pos += 8;
	}
	uint8_t sb = pos < size ? data[pos++] : 0;
	const char *text = (const char *)data + pos;
	size_t tl = size - pos;

	struct arena *a = arena_new();
	json_t *settings = (shape & 64) ? settings_for(sb, text, tl) : NULL;
	struct pf_target t[4];
	size_t start = 0;
	for (size_t i = 0; i < nitems; i++) {
		size_t end = start;
		while (end < tl && text[end] != 0x1e)
			end++;
		if (i == nitems - 1)
			end = tl;
		char *s = arena_strndup(a, text + start, end - start);
		t[i] = (struct pf_target){platform, s, shape & 1, i == 0 ? media : media + nmedia / 2,
					  i == 0 ? nmedia : nmedia - nmedia / 2, settings};
		start = end < tl ? end + 1 : tl;
	}

	struct pf_violation *v, *v2;
	size_t n, n2;
	if (pf_check(&t[0], &v, &n, a) < 0)
		die("known platform refused", platform, NULL);
	check(v, n, platform, 1, t);
	if (pf_check(&t[0], &v2, &n2, a) < 0 || n2 != n)
		die("not deterministic", platform, NULL);
	for (size_t i = 0; i < n; i++)
		if (v[i].rule != v2[i].rule || strcmp(v[i].message, v2[i].message))
			die("not deterministic", platform, v[i].id);
	if (pf_check_thread(t, nitems, &v, &n, a) < 0)
		die("known platform refused (thread)", platform, NULL);
	check(v, n, platform, nitems, t);

	json_decref(settings);
	arena_free(a);
	return 0;
}
