/*
 * mastodon: any Mastodon-API instance (Mastodon, and the compatible parts of
 * Pleroma/Akkoma/GoToSocial).
 *
 * Credentials: {instance (base URL), access_token}; connect checks their
 * shape offline.  Tokens do not expire, so a 401 is an auth failure (the
 * engine fails the post and the account needs reconnecting).
 *
 * One item: per attachment GET the bytes, POST /api/v2/media (multipart
 * file + description = alt text).  An image is usually ready at once (200
 * with its url); a video answers 202 with url null while the instance
 * transcodes it: GET /api/v1/media/:id is polled, 1 s after the upload,
 * then 2 s, 3 s and every 5 s (at most MAX_POLLS times, about three
 * minutes), until it answers 200 with a url (206, or 200 with url null:
 * still processing; 422: processing failed).  Then POST /api/v1/statuses
 * (JSON) with media_ids, in_reply_to_id (the previous thread item's status
 * id), visibility, spoiler_text, sensitive, language.  A 422 on the status
 * saying the media has not finished processing (an instance that answered
 * 200 too early) sends the same status again 3 s later, up to
 * MAX_STATUS_WAITS times, then leaves it to the engine's retry.
 *
 * Exactly once: the status carries `Idempotency-Key: <item id>` (plus the
 * occurrence's time for a repeating post), the same on every retry and
 * after a crash; Mastodon answers a repeated key with the status it already
 * made.  Hence PROV_IDEMPOTENT.  Mastodon keeps keys for one hour: a retry
 * later than that could post again if the first attempt did land.
 *
 * Text: Postiz HTML becomes plain text (bsky_html_text from bluesky.c);
 * Mastodon itself links URLs, @mentions and #hashtags.
 */
#include "provider.h"
#include "../core/arena.h"
#include "../core/timeutil.h"
#include "../http/client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

/* shared with bluesky.c (Postiz HTML -> plain text) */
struct bsky_span;
char *bsky_html_text(struct arena *a, const char *in, int inline_links, struct bsky_span **spans,
		     size_t *nspans);

#define MAX_MEDIA 4
#define IMAGE_MAX (16u << 20)      /* image_size_limit default (preflight) */
#define VIDEO_FETCH_MAX 103809024u /* video_size_limit default (preflight) */
#define MAX_POLLS 40
#define MAX_STATUS_WAITS 5
#define STATUS_WAIT_MS 3000

static const struct provider_field fields[] = {
	{"instance", "url", 1, "base URL of the instance, e.g. https://mastodon.social"},
	{"access_token", "secret", 1,
	 "access token with write:statuses and write:media (Preferences > Development > New application)"},
	{NULL, NULL, 0, NULL},
};

static void free_json_masto(void *p)
{
	json_decref(p);
}

static int http_url(const char *u)
{
	return u && (!strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8));
}

static int masto_connect(struct arena *a, json_t *cred, const char **profile, const char **err)
{
	json_t *in = json_object_get(cred, "instance");
	if (!json_is_string(in) || !json_string_length(in)) {
		*err = "credentials.instance is required: the instance's URL, e.g. https://mastodon.social";
		return -1;
	}
	const char *v = json_string_value(in);
	while (*v == ' ')
		v++;
	char *u = http_url(v) ? arena_strdup(a, v) : arena_printf(a, "https://%s", v);
	size_t l = strlen(u);
	while (l && (u[l - 1] == '/' || u[l - 1] == ' '))
		u[--l] = 0;
	const char *host = strstr(u, "://") + 3;
	int ok = *host && *host != '/' && l <= 512;
	for (const char *p = u; ok && *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#')
			ok = 0;
	if (ok && strchr(host, '@'))
		ok = 0;
	if (!ok) {
		*err = "credentials.instance must be an http(s) URL such as https://mastodon.social";
		return -1;
	}
	json_t *tok = json_object_get(cred, "access_token");
	if (!json_is_string(tok) || !json_string_length(tok)) {
		*err = "credentials.access_token is required";
		return -1;
	}
	const char *t = json_string_value(tok);
	if (strlen(t) > 1024) {
		*err = "credentials.access_token is longer than 1024 characters";
		return -1;
	}
	for (const char *p = t; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			*err = "credentials.access_token must not contain spaces or control characters";
			return -1;
		}
	json_object_set_new(cred, "instance", json_string(u));
	*profile = arena_strdup(a, host);
	return 0;
}

enum op { OP_NONE, OP_MEDIA_GET, OP_MEDIA_UP, OP_MEDIA_POLL, OP_STATUS };

struct media {
	const char *url, *alt, *name;
	const unsigned char *bytes;
	size_t len;
	const char *mime;
	const char *id;
	int video;
};

struct ms {
	const char *base;
	const char *text;
	struct media *m;
	size_t nm, mi;
	int polls;
	int status_waits; /* 422 "not finished processing" answers so far */
	enum op op;
};

static const char *sniff(const unsigned char *b, size_t n)
{
	if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return "image/jpeg";
	if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6)))
		return "image/gif";
	if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4))
		return "image/webp";
	if (n >= 12 && !memcmp(b + 4, "ftyp", 4))
		return !memcmp(b + 8, "qt  ", 4) ? "video/quicktime" : "video/mp4";
	if (n >= 4 && !memcmp(b, "\x1a\x45\xdf\xa3", 4))
		return "video/webm";
	return NULL;
}

static const char *token(struct pub_ctx *c)
{
	return json_string_value(json_object_get(c->credentials, "access_token"));
}

static const char *log_url(struct arena *a, const char *u)
{
	size_t q = strcspn(u, "?#");
	return u[q] ? arena_printf(a, "%.*s?...", (int)q, u) : u;
}

/* Mastodon's {"error": "..."} (plus error_description), else a raw excerpt */
static const char *masto_error(struct pub_ctx *c, const struct hresp *r)
{
	json_t *j = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	const char *e = json_string_value(json_object_get(j, "error"));
	const char *d = json_string_value(json_object_get(j, "error_description"));
	const char *out;
	if (e && d)
		out = arena_printf(c->a, "%s (%s)", e, d);
	else if (e)
		out = arena_strdup(c->a, e);
	else
		out = arena_printf(c->a, "%.300s", r->body_len ? r->body : "(empty body)");
	json_decref(j);
	return out;
}

/* 429: X-RateLimit-Reset is an ISO 8601 time; Retry-After if present */
static int64_t masto_retry_after(const struct hresp *r)
{
	int64_t ra = pub_retry_after(r);
	char v[64];
	int64_t at;
	if (!ra && !hresp_header(r, "X-RateLimit-Reset", v, sizeof(v)) && !iso_parse(v, &at)) {
		ra = at - now_ms();
		if (ra < 0)
			ra = 0;
	}
	return ra;
}

static enum pub_status fail(struct pub_ctx *c, const struct hresp *r, const char *what)
{
	const char *msg = masto_error(c, r);
	c->error = arena_printf(c->a, "Mastodon %s: HTTP %ld %s", what, r->status, msg);
	if (r->status == 401)
		return PUB_AUTH_EXPIRED;
	/* media still processing when attached: wait, then try again */
	if (r->status == 422 && strcasestr(msg, "processing")) {
		c->retry_after_ms = 5000;
		return PUB_RETRY;
	}
	enum pub_status st = pub_classify_status(r->status);
	if (st == PUB_RETRY)
		c->retry_after_ms = masto_retry_after(r);
	if (st == PUB_OK || st == PUB_AUTH_EXPIRED)
		st = PUB_FAILED;
	return st;
}

static void auth_headers(struct pub_ctx *c, int h)
{
	c->req.headers[h++] = arena_printf(c->a, "Authorization: Bearer %s", token(c));
	c->req.headers[h++] = "Accept: application/json";
	c->req.headers[h] = NULL;
}

/* multipart/form-data with the file and its description (a plain field: a
 * part with a Content-Type but no filename is a file to Rack) */
static void media_upload(struct pub_ctx *c, struct ms *s, struct media *m)
{
	unsigned char rnd[12];
	char bnd[64], hex[25];
	randombytes_buf(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	snprintf(bnd, sizeof(bnd), "----herald%s", hex);
	/* a filename safe inside a quoted header parameter */
	char *name = arena_strdup(c->a, m->name);
	for (char *p = name; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '_';
	const char *head = arena_printf(c->a,
					"--%s\r\nContent-Disposition: form-data; name=\"file\"; "
					"filename=\"%s\"\r\nContent-Type: %s\r\n\r\n",
					bnd, name, m->mime);
	const char *tail;
	if (m->alt && *m->alt)
		tail = arena_printf(c->a,
				    "\r\n--%s\r\nContent-Disposition: form-data; name=\"description\"\r\n"
				    "\r\n%s\r\n--%s--\r\n",
				    bnd, m->alt, bnd);
	else
		tail = arena_printf(c->a, "\r\n--%s--\r\n", bnd);
	size_t hl = strlen(head), tl = strlen(tail);
	char *body = arena_alloc(c->a, hl + m->len + tl + 1);
	memcpy(body, head, hl);
	memcpy(body + hl, m->bytes, m->len);
	memcpy(body + hl + m->len, tail, tl);
	c->req.method = "POST";
	c->req.url = arena_printf(c->a, "%s/api/v2/media", s->base);
	c->req.body = body;
	c->req.body_len = hl + m->len + tl;
	c->req.headers[0] = arena_printf(c->a, "Content-Type: multipart/form-data; boundary=%s", bnd);
	auth_headers(c, 1);
	c->req.timeout_ms = 120000;
	c->req.safe = 1; /* media no status uses is never shown (and is cleaned up) */
}

static const char *setting_str(struct pub_ctx *c, const char *k)
{
	const char *v = json_string_value(json_object_get(c->settings, k));
	return v && *v ? v : NULL;
}

static enum pub_status status_request(struct pub_ctx *c, struct ms *s)
{
	json_t *b = json_object();
	json_object_set_new(b, "status", json_string(s->text));
	if (s->nm) {
		json_t *ids = json_array();
		for (size_t i = 0; i < s->nm; i++)
			json_array_append_new(ids, json_string(s->m[i].id));
		json_object_set_new(b, "media_ids", ids);
	}
	if (c->parent_release_id)
		json_object_set_new(b, "in_reply_to_id", json_string(c->parent_release_id));
	const char *vis = setting_str(c, "visibility");
	if (vis) {
		if (strcmp(vis, "public") && strcmp(vis, "unlisted") && strcmp(vis, "private") &&
		    strcmp(vis, "direct")) {
			json_decref(b);
			c->error = arena_printf(c->a,
						"settings.visibility must be public, unlisted, private or direct (not '%s')",
						vis);
			return PUB_FAILED;
		}
		json_object_set_new(b, "visibility", json_string(vis));
	}
	const char *spoiler = setting_str(c, "spoiler_text");
	if (spoiler)
		json_object_set_new(b, "spoiler_text", json_string(spoiler));
	json_t *sens = json_object_get(c->settings, "sensitive");
	if (json_is_boolean(sens))
		json_object_set_new(b, "sensitive", json_boolean(json_is_true(sens)));
	else if (spoiler)
		json_object_set_new(b, "sensitive", json_true());
	const char *lang = setting_str(c, "language");
	if (lang)
		json_object_set_new(b, "language", json_string(lang));
	char *txt = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	if (!txt) {
		c->error = "cannot encode the status";
		return PUB_FAILED;
	}
	s->op = OP_STATUS;
	c->req.method = "POST";
	c->req.url = arena_printf(c->a, "%s/api/v1/statuses", s->base);
	c->req.body = arena_strdup(c->a, txt);
	c->req.body_len = strlen(txt);
	free(txt);
	c->req.headers[0] = "Content-Type: application/json";
	/* stable across retries; a repeating post's occurrences are new posts */
	c->req.headers[1] = c->repeating ? arena_printf(c->a, "Idempotency-Key: %s_%lld", c->item_id,
							 (long long)(c->publish_at / 1000))
					 : arena_printf(c->a, "Idempotency-Key: %s", c->item_id);
	auth_headers(c, 2);
	c->req.timeout_ms = 30000;
	return PUB_SEND;
}

static enum pub_status advance(struct pub_ctx *c, struct ms *s)
{
	if (s->mi < s->nm) {
		struct media *m = &s->m[s->mi];
		s->op = OP_MEDIA_GET;
		c->req.method = "GET";
		c->req.url = m->url;
		c->req.log_url = log_url(c->a, m->url);
		/* the bytes tell an image from a video: the larger cap for both,
		 * an image over its own cap is refused once fetched */
		c->req.max_response = VIDEO_FETCH_MAX;
		c->req.safe = 1; /* fetching our own media changes nothing on the platform */
		c->req.user_url = 1;
		c->req.timeout_ms = 120000;
		c->req.headers[0] = NULL;
		return PUB_SEND;
	}
	return status_request(c, s);
}

/* Delay before poll number n (1-based): 1 s, 2 s, 3 s, then 5 s. */
static long poll_delay_ms(int n)
{
	return n <= 3 ? 1000L * n : 5000L;
}

static enum pub_status poll(struct pub_ctx *c, struct ms *s)
{
	s->op = OP_MEDIA_POLL;
	s->polls++;
	c->req.delay_ms = poll_delay_ms(s->polls);
	c->req.method = "GET";
	c->req.url = arena_printf(c->a, "%s/api/v1/media/%s", s->base, s->m[s->mi].id);
	c->req.safe = 1;
	auth_headers(c, 0);
	c->req.timeout_ms = 15000;
	return PUB_SEND;
}

static enum pub_status begin(struct pub_ctx *c)
{
	struct ms *s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	const char *base = c->base_url && *c->base_url
				   ? c->base_url
				   : json_string_value(json_object_get(c->credentials, "instance"));
	if (!http_url(base) || !token(c) || !*token(c)) {
		c->error = "the channel has no instance URL or access token; reconnect it";
		return PUB_AUTH_EXPIRED;
	}
	char *b = arena_strdup(c->a, base);
	size_t l = strlen(b);
	while (l && b[l - 1] == '/')
		b[--l] = 0;
	s->base = b;
	s->text = bsky_html_text(c->a, c->content, 1, NULL, NULL);
	size_t nm = json_array_size(c->media);
	if (nm > MAX_MEDIA) {
		c->error = arena_printf(c->a, "Mastodon takes at most %d attachments (this post has %zu)",
					MAX_MEDIA, nm);
		return PUB_FAILED;
	}
	if (nm) {
		s->m = arena_alloc(c->a, nm * sizeof(*s->m));
		size_t i;
		json_t *it;
		json_array_foreach(c->media, i, it) {
			const char *p = json_string_value(json_object_get(it, "path"));
			if (!http_url(p)) {
				c->error = arena_printf(c->a, "media[%zu] has no http(s) path", i);
				return PUB_FAILED;
			}
			struct media *m = &s->m[i];
			m->url = p;
			m->alt = json_string_value(json_object_get(it, "alt"));
			size_t pl = strcspn(p, "?#");
			const char *slash = p;
			for (size_t k = 0; k < pl; k++)
				if (p[k] == '/')
					slash = p + k + 1;
			m->name = *slash && (size_t)(slash - p) < pl
					  ? arena_strndup(c->a, slash, pl - (size_t)(slash - p))
					  : "media";
		}
		s->nm = nm;
	}
	if (!*s->text && !nm) {
		c->error = "the post is empty: Mastodon needs text or media";
		return PUB_FAILED;
	}
	return advance(c, s);
}

/* A MediaAttachment answer whose url is set: processed, usable in a status.
 * (202 and 206 answers, and 200 with url null, are still processing.) */
static int media_ready(const struct hresp *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	json_t *u = json_object_get(j, "url");
	int ready = json_is_string(u) && json_string_length(u) > 0;
	json_decref(j);
	return ready;
}

static enum pub_status poll_again(struct pub_ctx *c, struct ms *s, const struct media *m)
{
	if (s->polls >= MAX_POLLS) {
		c->error = arena_printf(c->a, "Mastodon was still processing media %s after %d checks",
					m->id, s->polls);
		c->retry_after_ms = 30000;
		return PUB_RETRY;
	}
	return poll(c, s);
}

static enum pub_status masto_publish(struct pub_ctx *c, const struct hresp *r)
{
	if (!r)
		return begin(c);
	struct ms *s = c->state;
	int ok = r->status >= 200 && r->status < 300;
	switch (s->op) {
	case OP_MEDIA_GET: {
		struct media *m = &s->m[s->mi];
		if (!ok) {
			c->error = arena_printf(c->a, "cannot fetch media %s: HTTP %ld", log_url(c->a, m->url),
						r->status);
			return r->status == 429 || r->status >= 500 ? PUB_RETRY : PUB_FAILED;
		}
		m->mime = sniff((const unsigned char *)r->body, r->body_len);
		if (!m->mime) {
			c->error = arena_printf(c->a, "media %s is not an image or video herald recognizes",
						log_url(c->a, m->url));
			return PUB_FAILED;
		}
		if (!strncmp(m->mime, "image/", 6) && r->body_len > IMAGE_MAX) {
			c->error = arena_printf(c->a,
						"media %s is an image of %zu bytes; Mastodon takes images up "
						"to %u bytes (image_size_limit)",
						log_url(c->a, m->url), r->body_len, IMAGE_MAX);
			return PUB_FAILED;
		}
		m->video = !strncmp(m->mime, "video/", 6);
		unsigned char *b = arena_alloc(c->a, r->body_len + 1);
		memcpy(b, r->body, r->body_len);
		m->bytes = b;
		m->len = r->body_len;
		s->op = OP_MEDIA_UP;
		media_upload(c, s, m);
		return PUB_SEND;
	}
	case OP_MEDIA_UP:
	case OP_MEDIA_POLL: {
		struct media *m = &s->m[s->mi];
		if (s->op == OP_MEDIA_POLL && r->status == 206)
			return poll_again(c, s, m);
		if (s->op == OP_MEDIA_POLL && r->status == 422) {
			c->error = arena_printf(c->a, "Mastodon could not process media %s (%s): %s",
						m->id, log_url(c->a, m->url), masto_error(c, r));
			return PUB_FAILED;
		}
		if (!ok)
			return fail(c, r, s->op == OP_MEDIA_UP ? "media upload" : "media status");
		if (s->op == OP_MEDIA_POLL) {
			if (!media_ready(r))
				return poll_again(c, s, m);
		} else {
			json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
			json_t *idv = json_object_get(j, "id");
			const char *id = json_is_string(idv) ? json_string_value(idv) : NULL;
			char num[32];
			if (!id && json_is_integer(idv)) {
				snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(idv));
				id = num;
			}
			if (!id) {
				json_decref(j);
				c->error = arena_printf(c->a, "Mastodon's media answer has no id: %.200s", r->body);
				return PUB_RETRY;
			}
			m->id = arena_strdup(c->a, id);
			json_decref(j);
			if (r->status == 202 || !media_ready(r)) {
				s->polls = 0;
				return poll(c, s);
			}
		}
		s->mi++;
		return advance(c, s);
	}
	case OP_STATUS: {
		if (r->status == 422 && s->nm && s->status_waits < MAX_STATUS_WAITS &&
		    strcasestr(masto_error(c, r), "processing")) {
			/* "Cannot attach files that have not finished processing":
			 * the same status (same Idempotency-Key) a little later */
			s->status_waits++;
			enum pub_status st = status_request(c, s);
			c->req.delay_ms = STATUS_WAIT_MS;
			return st;
		}
		if (!ok)
			return fail(c, r, "refused the status");
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		json_t *idv = json_object_get(j, "id");
		const char *url = json_string_value(json_object_get(j, "url"));
		if (!url)
			url = json_string_value(json_object_get(j, "uri"));
		enum pub_status st = PUB_OK;
		if (json_is_string(idv)) {
			c->release_id = arena_strdup(c->a, json_string_value(idv));
		} else if (json_is_integer(idv)) {
			c->release_id = arena_printf(c->a, "%lld", (long long)json_integer_value(idv));
		} else {
			/* it is there (the key makes a resend safe) but we cannot name it */
			c->error = arena_printf(c->a, "Mastodon accepted the status but answered without an id: %.200s",
						r->body);
			st = PUB_RETRY;
		}
		if (st == PUB_OK)
			c->release_url = url ? arena_strdup(c->a, url) : NULL;
		json_decref(j);
		return st;
	}
	case OP_NONE:
	default:
		break;
	}
	c->error = "internal error: answer to an unknown step";
	return PUB_FAILED;
}

/* Unpublish: DELETE /api/v1/statuses/:id.  404 is success: the status is
 * gone already (an earlier attempt, or deleted by hand).  The answer (the
 * deleted status with its source text) is kept in the attempt record. */
static enum pub_status masto_unpublish(struct pub_ctx *c, const struct hresp *r)
{
	if (r) {
		if ((r->status >= 200 && r->status < 300) || r->status == 404)
			return PUB_OK;
		return fail(c, r, "refused the delete");
	}
	const char *base = c->base_url && *c->base_url
				   ? c->base_url
				   : json_string_value(json_object_get(c->credentials, "instance"));
	if (!http_url(base) || !token(c) || !*token(c)) {
		c->error = "the channel has no instance URL or access token; reconnect it";
		return PUB_AUTH_EXPIRED;
	}
	const char *id = c->release_id;
	if (!id || !*id || strspn(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != strlen(id)) {
		c->error = arena_printf(c->a, "the post's release id is not a Mastodon status id (%s)",
					id ? id : "none");
		return PUB_FAILED;
	}
	size_t l = strlen(base);
	while (l && base[l - 1] == '/')
		l--;
	c->req.method = "DELETE";
	c->req.url = arena_printf(c->a, "%.*s/api/v1/statuses/%s", (int)l, base, id);
	c->req.timeout_ms = 30000;
	auth_headers(c, 0);
	return PUB_SEND;
}

/* A GET of path on the channel's instance with its token: the reads of
 * tools, verify and metrics. */
static enum pub_status masto_read(struct pub_ctx *c, const char *path)
{
	const char *base = c->base_url && *c->base_url
				   ? c->base_url
				   : json_string_value(json_object_get(c->credentials, "instance"));
	if (!http_url(base) || !token(c) || !*token(c)) {
		c->error = "the channel has no instance URL or access token; reconnect it";
		return PUB_AUTH_EXPIRED;
	}
	size_t l = strlen(base);
	while (l && base[l - 1] == '/')
		l--;
	c->req.method = "GET";
	c->req.url = arena_printf(c->a, "%.*s%s", (int)l, base, path);
	c->req.safe = 1;
	c->req.timeout_ms = 20000;
	auth_headers(c, 0);
	return PUB_SEND;
}

/* Tools: "profile" (GET /api/v1/accounts/verify_credentials: the account
 * the token belongs to) and "lists" (GET /api/v1/lists: [{id, title}]). */
static enum pub_status masto_tool_get(struct pub_ctx *c, const struct hresp *r, const char *path,
				      int lists)
{
	if (r) {
		if (r->status < 200 || r->status >= 300)
			return fail(c, r, lists ? "refused the lists" : "refused the profile");
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		if (!j || (lists ? !json_is_array(j) : !json_is_object(j))) {
			json_decref(j);
			c->error = arena_printf(c->a, "Mastodon answered %s with something unexpected: %.200s",
						path, r->body_len ? r->body : "(empty body)");
			return PUB_RETRY;
		}
		arena_defer(c->a, free_json_masto, j);
		if (lists) {
			json_t *out = json_array();
			arena_defer(c->a, free_json_masto, out);
			size_t i;
			json_t *l;
			json_array_foreach(j, i, l)
			{
				json_t *id = json_object_get(l, "id");
				const char *title = json_string_value(json_object_get(l, "title"));
				if (json_is_string(id) && title)
					json_array_append_new(out, json_pack("{s:O,s:s}", "id", id, "title", title));
			}
			c->output = out;
		} else {
			json_t *out = json_object();
			arena_defer(c->a, free_json_masto, out);
			static const char *const keep[] = {"id", "username", "acct", "display_name", "url",
							   "avatar", "note", "followers_count",
							   "following_count", "statuses_count", "locked",
							   "bot", NULL};
			for (int k = 0; keep[k]; k++) {
				json_t *v = json_object_get(j, keep[k]);
				if (v)
					json_object_set(out, keep[k], v);
			}
			c->output = out;
		}
		return PUB_OK;
	}
	return masto_read(c, path);
}

static enum pub_status masto_tool_profile(struct pub_ctx *c, const struct hresp *r)
{
	return masto_tool_get(c, r, "/api/v1/accounts/verify_credentials", 0);
}

static enum pub_status masto_tool_lists(struct pub_ctx *c, const struct hresp *r)
{
	return masto_tool_get(c, r, "/api/v1/lists", 1);
}

/* Verify: GET /api/v1/accounts/verify_credentials with the token (the
 * tool "profile"), plus the profile herald shows: @username@instance. */
static enum pub_status masto_verify(struct pub_ctx *c, const struct hresp *r)
{
	enum pub_status st = masto_tool_get(c, r, "/api/v1/accounts/verify_credentials", 0);
	if (!r) {
		if (st != PUB_SEND)
			c->error_field = "credentials.access_token";
		return st;
	}
	if (st == PUB_AUTH_EXPIRED || r->status == 401 || r->status == 403) {
		c->error = arena_printf(c->a, "Mastodon refused the access token (verify_credentials): "
					      "HTTP %ld %s", r->status, masto_error(c, r));
		c->error_field = "credentials.access_token";
		return PUB_FAILED;
	}
	if (st == PUB_FAILED) {
		/* 404 and the like: that URL is no Mastodon API */
		c->error = arena_printf(c->a, "%s has no Mastodon API (verify_credentials: HTTP %ld %s)",
					json_string_value(json_object_get(c->credentials, "instance")),
					r->status, masto_error(c, r));
		c->error_field = "credentials.instance";
		return st;
	}
	if (st != PUB_OK)
		return st;
	const char *inst = json_string_value(json_object_get(c->credentials, "instance"));
	const char *host = inst && strstr(inst, "://") ? strstr(inst, "://") + 3 : inst;
	const char *user = json_string_value(json_object_get(c->output, "username"));
	const char *dn = json_string_value(json_object_get(c->output, "display_name"));
	if (user)
		json_object_set_new(c->output, "profile",
				    json_string(arena_printf(c->a, "@%s@%s", user, host ? host : "")));
	if (dn && *dn)
		json_object_set_new(c->output, "name", json_string(dn));
	return PUB_OK;
}

/* Metrics: GET /api/v1/statuses/:id (Bearer) -> favourites_count,
 * reblogs_count, replies_count and, since Mastodon 4.5, quotes_count.  A
 * 404 is final: the status is gone (or no longer visible to the token). */
static enum pub_status masto_metrics(struct pub_ctx *c, const struct hresp *r)
{
	if (r) {
		if (r->status < 200 || r->status >= 300)
			return fail(c, r, "refused to read the status");
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		static const struct {
			const char *wire, *name;
		} map[] = {{"favourites_count", METRIC_LIKES},
			   {"reblogs_count", METRIC_REPOSTS},
			   {"replies_count", METRIC_REPLIES},
			   {"quotes_count", METRIC_QUOTES}};
		json_t *out = json_object();
		arena_defer(c->a, free_json_masto, out);
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			json_t *v = json_object_get(j, map[i].wire);
			if (json_is_integer(v) && json_integer_value(v) >= 0)
				json_object_set_new(out, map[i].name, json_integer(json_integer_value(v)));
		}
		json_decref(j);
		if (!json_object_size(out)) {
			c->error = arena_printf(c->a, "Mastodon answered the status without counters: %.200s",
						r->body_len ? r->body : "(empty body)");
			return PUB_RETRY;
		}
		c->output = out;
		return PUB_OK;
	}
	const char *id = c->release_id;
	if (!id || !*id ||
	    strspn(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != strlen(id)) {
		c->error = arena_printf(c->a, "the post's release id is not a Mastodon status id (%s)",
					id ? id : "none");
		return PUB_FAILED;
	}
	return masto_read(c, arena_printf(c->a, "/api/v1/statuses/%s", id));
}

static const struct provider_tool masto_tools[] = {
	{"profile", "the account the token belongs to (verify_credentials)", "[]", masto_tool_profile},
	{"lists", "the account's lists: [{id, title}]", "[]", masto_tool_lists},
	{NULL, NULL, NULL, NULL},
};

const struct provider provider_mastodon = {
	.api_version = "Mastodon REST API: /api/v1/statuses, /api/v2/media (Mastodon 3.1.3 and later)",
	.api_sunset = NULL,
	.identifier = "mastodon",
	.name = "Mastodon",
	.flags = PROV_THREADS | PROV_IMAGES | PROV_VIDEO | PROV_DELETE | PROV_IDEMPOTENT |
		 PROV_CREDENTIALS | PROV_METRICS,
	.max_length = 500,
	.editor = "normal",
	.rules = "Up to 500 characters on most instances (each link counts 23). Up to 4 images, or "
		 "one video. Thread items publish as replies. Settings: visibility "
		 "(public, unlisted, private, direct), spoiler_text (content warning), sensitive.",
	.credentials = fields,
	.settings_schema = "{\"type\":\"object\",\"properties\":{"
			   "\"visibility\":{\"type\":\"string\",\"enum\":[\"public\",\"unlisted\",\"private\",\"direct\"]},"
			   "\"spoiler_text\":{\"type\":\"string\",\"description\":\"content warning shown before the text\"},"
			   "\"sensitive\":{\"type\":\"boolean\",\"description\":\"hide media behind a warning\"},"
			   "\"language\":{\"type\":\"string\",\"description\":\"ISO 639-1 code of the text\"}}}",
	.connect = masto_connect,
	.publish = masto_publish,
	.unpublish = masto_unpublish,
	.tools = masto_tools,
	.refresh = NULL,
	.min_interval_ms = 0,
	.verify = masto_verify,
	.metrics = masto_metrics,
};
