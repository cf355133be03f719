/*
 * rules: preflight (SPEC 6).  One table of rules (rules.c) is the source
 * of truth for both the validator (pf_check, pf_check_thread) and the
 * machine-readable catalog (pf_catalog_json, GET /v1/preflight/rules).
 *
 * A rule id is <platform>.<surface>.<check>: platform is a Postiz provider
 * identifier (postiz.md section 3) or one of herald's own (webhook, rss);
 * surface is what is checked (text, caption, title, media, image, video,
 * gif, comment, carousel, story, article, ...); check names the test and,
 * for text lengths, the unit: max_length is UTF-16 units (Postiz's
 * maxLength as JavaScript counts it, and the id herald's providers already
 * report at publish time, e.g. telegram.caption.max_length), max_graphemes,
 * max_bytes, max_weighted_length (X), max_characters (the platform's own
 * counting: Mastodon, Threads).  Ids hold only [a-z_-] and '.', so clients
 * may match them with ^[a-z-]+\.[a-z_]+\.[a-z_]+$.
 *
 * Limits are data: a platform has rules before herald has a provider for
 * it.  Facts that are not known (MIME NULL, bytes/width/height/duration 0)
 * make the rules that need them skip that media item, never fail it.
 *
 * Everything a check returns is allocated in the caller's arena.
 */
#ifndef HERALD_RULES_H
#define HERALD_RULES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

struct pf_media {
	const char *mime; /* "image/jpeg"; NULL: unknown */
	int64_t bytes;    /* 0: unknown */
	int width, height; /* 0: unknown */
	double duration_s; /* videos; 0: unknown */
	int hosted;        /* herald holds the bytes (facts are real; copies can be made) */
};

struct pf_target {
	const char *platform;  /* provider identifier */
	const char *text;      /* plain text or Postiz HTML; NULL = "" */
	int text_is_html;      /* 1: convert with text_from_html before counting */
	const struct pf_media *media;
	size_t nmedia;
	json_t *settings;      /* object or NULL (the post's provider settings) */
};

enum pf_kind {
	PF_TEXT_MAX,       /* text length in `unit` <= max (plus the settings string `arg`) */
	PF_TEXT_OR_MEDIA,  /* non-blank text unless there is media */
	PF_TEXT_FORBIDDEN, /* text holds none of the characters of `arg` */
	PF_HASHTAGS_MAX,   /* at most max #hashtags */
	PF_SETTING_MAX,    /* the settings string(s) at path `arg` ("a.b", "a[].b"): length <= max */
	PF_MEDIA_REQUIRED, /* at least one media item */
	PF_MEDIA_MIN,      /* at least min media items (when there is media at all) */
	PF_MEDIA_MAX,      /* at most max media items (0: none) */
	PF_IMAGES_MAX,     /* at most max images (image/...) */
	PF_VIDEOS_MAX,     /* at most max videos (video/...) */
	PF_IMAGE_VIDEO_EXCLUSIVE, /* images and videos never together */
	PF_SOLO,           /* a media item matching `arg` must be the only one */
	PF_EXACTLY_ONE,    /* exactly one media item, matching `arg` */
	PF_FIRST_IS,       /* the first media item matches `arg` */
	PF_MIME_ALLOWED,   /* every media item's MIME is in `arg` */
	PF_MAX_BYTES,      /* media matching `arg`: bytes <= max */
	PF_MIN_DURATION,   /* media matching `arg`: duration >= min */
	PF_MAX_DURATION,   /* media matching `arg`: duration <= max */
	PF_MIN_WIDTH,      /* media matching `arg`: width >= min */
	PF_MAX_WIDTH,      /* media matching `arg`: width <= max */
	PF_MIN_SHORT_EDGE, /* media matching `arg`: min(width, height) >= min */
	PF_MAX_PIXELS,     /* media matching `arg`: width * height <= max */
	PF_ASPECT_RATIO,   /* media matching `arg`: min <= width / height <= max */
	PF_DIMENSIONS_IN,  /* images: "WxH" one of the list `arg` */
	PF_KIND__COUNT
};

enum pf_unit {
	PF_U_NONE,
	PF_U_GRAPHEMES,
	PF_U_UTF16,
	PF_U_BYTES,
	PF_U_CODE_POINTS,
	PF_U_X_WEIGHTED,
	PF_U_MASTODON,
	PF_U_THREADS,
	PF_U_ITEMS,
	PF_U_HASHTAGS,
	PF_U_SECONDS,
	PF_U_PIXELS,
	PF_U_RATIO,
	PF_U_MIME,
	PF_U__COUNT
};

enum pf_when {
	PF_ALWAYS,
	PF_WITH_MEDIA,    /* only when the item has media (Telegram captions) */
	PF_WITHOUT_MEDIA, /* only when it has none */
};

enum pf_scope {
	PF_EVERY_ITEM, /* every thread item (replies are posts of their own) */
	PF_FIRST_ITEM, /* only the post itself (value[0]) */
	PF_LATER_ITEMS /* only comments/replies (value[1..]) */
};

struct pf_rule {
	const char *id, *platform, *surface, *check;
	enum pf_kind kind;
	enum pf_unit unit;
	enum pf_when when;
	enum pf_scope scope;
	const char *cond;   /* "key=value" / "key!=value" on settings, or NULL */
	double min, max;
	const char *arg;    /* see enum pf_kind */
	const char *message; /* template: {name} {actual} {limit} {min} {unit}
			      * {media} {mime} {allowed} */
	const char *remediation;
	const char *source;  /* reference and where in it */
	const char *confidence; /* "V" verified, "C" postiz code, "M" memory or
				 * secondary, "H" herald's own contract */
};

struct pf_violation {
	const struct pf_rule *rule;
	const char *id, *platform;
	long item;        /* thread item index, -1: single target */
	long media;       /* media index, -1: not about one media item */
	double limit;     /* max (or min for minimum rules) */
	double actual;
	const char *actual_str; /* e.g. the MIME type, else NULL */
	const char *unit;
	const char *message, *remediation;
};

/* All violations of one target (as the first item of a post) in *out and *n.
 * Returns *n, or -1 when no rule knows the platform (*n = 0). */
int pf_check(const struct pf_target *t, struct pf_violation **out, size_t *n, struct arena *a);
/* Each item of a thread (items[0] is the post, the rest replies or
 * comments) with the platform's per-item rules; violations carry the item
 * index.  All items name the same platform (items[0].platform is used). */
int pf_check_thread(const struct pf_target *items, size_t nitems, struct pf_violation **out,
		    size_t *n, struct arena *a);

json_t *pf_violation_json(const struct pf_violation *v);
/* The catalog: [{id, platform, surface, check, kind, limit, min?, unit,
 * when?, scope, condition?, appliesTo?, message, remediation, source,
 * confidence}] in table order. */
json_t *pf_catalog_json(void);

size_t pf_rule_count(void);
const struct pf_rule *pf_rule_at(size_t i);
const char *pf_unit_name(enum pf_unit u);
const char *pf_kind_name(enum pf_kind k);
/* Display name of a platform ("Bluesky"), or NULL when no rule knows it. */
const char *pf_platform_name(const char *platform);
size_t pf_platform_count(void);
const char *pf_platform_at(size_t i);

/* MIME type from the extension of a URL or file path ("…/a.JPG?x=1" ->
 * "image/jpeg"), or NULL when unknown. */
const char *pf_mime_from_path(const char *path);
/* 1 when `mime` matches a list "image/jpeg,video/" (entries ending in '/'
 * are prefixes; NULL or "" list matches everything). */
int pf_mime_matches(const char *mime, const char *list);

#endif
