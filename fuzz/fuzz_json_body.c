/*
 * fuzz_json_body: request bodies decoded the way the API decodes them
 * (api_body_object: json_loadb with JSON_REJECT_DUPLICATES, the error
 * message built from json_error_t), then walked the way handlers read them
 * (string fields checked for embedded NUL as api_get_str does, "date"
 * through iso_parse, posts[].value[].content, tags[].label/value), to a
 * bounded depth.
 *
 * Oracles: no sanitizer report; a decoded value survives a compact
 * dump/reload unchanged (json_equal); every object member found by
 * iteration is found again by key.
 */
#include "core/timeutil.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WALK_DEPTH 64

static void die(const char *what)
{
	fprintf(stderr, "fuzz_json_body: %s\n", what);
	abort();
}

static volatile size_t sink;

static void read_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return;
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (strlen(s) > len)
		die("string longer than its length");
	if (!strcmp(key, "date")) {
		int64_t ms;
		if (iso_parse(s, &ms) == 0)
			sink += (size_t)ms;
	}
	sink += len;
}

static void walk(json_t *v, int depth)
{
	if (depth > MAX_WALK_DEPTH)
		return;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *m;
		json_object_foreach(v, k, m) {
			if (json_object_get(v, k) != m)
				die("member not found again by key");
			walk(m, depth + 1);
		}
		break;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *m;
		json_array_foreach(v, i, m) {
			if (!m)
				die("NULL array element");
			walk(m, depth + 1);
		}
		break;
	}
	case JSON_STRING:
		sink += json_string_length(v);
		break;
	case JSON_INTEGER:
		sink += (size_t)json_integer_value(v);
		break;
	case JSON_REAL:
		sink += (size_t)(json_real_value(v) != 0);
		break;
	default:
		break;
	}
}

/* What the posts handler reads (src/api/posts.c). */
static void read_like_api(json_t *body)
{
	if (!json_is_object(body))
		return;
	read_str(body, "type");
	read_str(body, "date");
	read_str(body, "status");
	read_str(body, "creationMethod");
	json_t *tags = json_object_get(body, "tags");
	size_t i, j;
	json_t *t, *e, *it;
	if (json_is_array(tags)) {
		json_array_foreach(tags, i, t) {
			json_t *l = json_is_object(t) ? json_object_get(t, "label") : t;
			if (!json_is_string(l) && json_is_object(t))
				l = json_object_get(t, "value");
			if (json_is_string(l))
				sink += json_string_length(l);
		}
	}
	json_t *posts = json_object_get(body, "posts");
	if (!json_is_array(posts))
		return;
	json_array_foreach(posts, i, e) {
		if (!json_is_object(e))
			continue;
		read_str(e, "group");
		json_t *integ = json_object_get(e, "integration");
		if (json_is_object(integ))
			read_str(integ, "id");
		json_t *value = json_object_get(e, "value");
		if (!json_is_array(value))
			continue;
		json_array_foreach(value, j, it) {
			if (!json_is_object(it))
				continue;
			read_str(it, "content");
			read_str(it, "id");
			json_t *img = json_object_get(it, "image");
			size_t n;
			json_t *im;
			if (json_is_array(img))
				json_array_foreach(img, n, im) if (json_is_object(im)) {
					read_str(im, "path");
					read_str(im, "alt");
				}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		char msg[512];
		snprintf(msg, sizeof(msg), "the body is not valid JSON: %s at line %d column %d",
			 je.text, je.line, je.column);
		sink += strlen(msg);
		return 0;
	}
	walk(v, 0);
	read_like_api(v);

	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		die("a decoded value does not encode");
	json_t *w = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!w) {
		fprintf(stderr, "reload failed: %s (%s)\n", je.text, s);
		die("a dumped value does not reload");
	}
	if (!json_equal(v, w)) {
		fprintf(stderr, "dump: %s\n", s);
		die("dump/reload changed the value");
	}
	json_decref(w);
	free(s);
	json_decref(v);
	return 0;
}
