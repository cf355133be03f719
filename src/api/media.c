/*
 * media: the media library routes (SPEC 9).
 *
 *   POST /public/v1/upload, POST /v1/media          multipart field "file"
 *   POST /public/v1/upload-from-url, /v1/media/from-url   {"url"}  (media_fetch.c)
 *   GET /v1/media, GET/DELETE /v1/media/{id}
 *   GET /uploads/{name}                             public, Range + ETag
 *
 * An upload's body is parsed by the streaming multipart parser as it comes
 * off the connection (the server's framing filter, src/http/stream.c, hands
 * it over before evhttp would buffer it), and the file part is written to
 * a temporary file while it is hashed (SHA-256): memory stays flat however
 * large the file.  The type
 * is sniffed from the file's bytes; the declared type and file name are
 * never trusted beyond being echoed back as originalName.  The object is
 * named "<ulid>.<real ext>", moved into storage, then recorded.
 */
#include "api.h"
#include "media_int.h"
#include "../core/arena.h"
#include "../core/config.h"
#include "../core/workq.h"
#include "../core/ids.h"
#include "../core/log.h"
#include "../core/timeutil.h"
#include "../media/media.h"
#include "../media/multipart.h"
#include "../http/stream.h"
#include "../http/router.h"
#include "../preflight/rules.h"
#include "../store/store.h"

#include <ctype.h>
#include <event2/http.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

json_t *media_json(struct call *c, const struct store_media *m)
{
	const char *url = arena_printf(c->a, "%s/uploads/%s", c->app->cfg->public_url, m->name);
	if (c->route && (c->route->flags & RF_POSTIZ))
		return json_pack("{s:s,s:s,s:s,s:s,s:n,s:s?}", "id", m->id, "name", m->name,
				 "originalName", m->original_name, "path", url, "thumbnail", "alt",
				 m->alt);
	char ts[32];
	iso_format(m->created_at, ts);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s}", "id", m->id, "url", url, "name",
			      m->name, "originalName", m->original_name, "bytes",
			      (json_int_t)m->bytes, "mime", m->mime, "sha256", m->sha256, "createdAt",
			      ts);
	if (m->width)
		json_object_set_new(o, "width", json_integer(m->width));
	if (m->height)
		json_object_set_new(o, "height", json_integer(m->height));
	if (m->duration_ms)
		json_object_set_new(o, "durationMs", json_integer(m->duration_ms));
	if (m->source_url)
		json_object_set_new(o, "sourceUrl", json_string(m->source_url));
	return o;
}

/* Keep the client's file name printable and short; it is only echoed. */
static const char *clean_name(struct arena *a, const char *s, const char *fallback)
{
	const char *slash = strrchr(s, '/');
	if (slash)
		s = slash + 1;
	slash = strrchr(s, '\\');
	if (slash)
		s = slash + 1;
	size_t n = strlen(s);
	if (n == 0)
		return fallback;
	if (n > 200)
		n = 200;
	char *o = arena_alloc(a, n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		o[k++] = ch < 0x20 || ch == 0x7f ? '_' : (char)ch;
	}
	o[k] = 0;
	return o;
}

int media_tmp_open(struct arena *a, char **path)
{
	char *p = arena_printf(a, "%s/up-XXXXXX", media_tmp_dir());
	int fd = mkostemp(p, O_CLOEXEC);
	if (fd < 0) {
		log_msg(LOG_ERROR, "media", "mkstemp in %s: %s", media_tmp_dir(), strerror(errno));
		return -1;
	}
	*path = p;
	return fd;
}

/* Ingesting a finished file blocks (libmagic, libvips, and with S3 the
 * upload of the whole object), so it runs on a worker (core/workq.h) while
 * the request waits deferred; the loop records and answers when it is done.
 * Only the blocking steps leave the loop: the store handle, the arena and
 * the reply stay on it. */
enum { ING_OK, ING_TOO_LARGE, ING_STORAGE, ING_UNSUPPORTED };

struct ingest {
	struct call *c;
	char tmp[512];
	int64_t bytes;
	const char *sha256, *original_name, *source_url; /* in c->a */
	char id[ULID_LEN + 1], name[64];
	int outcome;
	struct media_facts f;
};

static void ingest_work(void *arg)
{
	struct ingest *g = arg;
	/* the image cap is judged on the sniffed type before any decoding */
	char mime[64];
	if (!media_sniff(g->tmp, mime, sizeof(mime)) && !strncmp(mime, "image/", 6) &&
	    media_ext_for(mime) && g->bytes > MEDIA_IMAGE_MAX) {
		g->outcome = ING_TOO_LARGE;
		goto fail;
	}
	if (media_facts(g->tmp, &g->f)) {
		g->outcome = ING_STORAGE;
		goto fail;
	}
	if (!g->f.ext) {
		g->outcome = ING_UNSUPPORTED;
		goto fail;
	}
	if (!g->f.is_video && g->bytes > MEDIA_IMAGE_MAX) {
		g->outcome = ING_TOO_LARGE;
		goto fail;
	}
	char lower[ULID_LEN + 1];
	for (int i = 0; i <= ULID_LEN; i++)
		lower[i] = (char)tolower((unsigned char)g->id[i]);
	snprintf(g->name, sizeof(g->name), "%s.%s", lower, g->f.ext);
	if (media_put_file(g->tmp, g->name, g->f.mime, g->sha256)) {
		g->outcome = ING_STORAGE;
		goto fail;
	}
	g->outcome = ING_OK;
	return;
fail:
	unlink(g->tmp);
}

static void ingest_finish(void *arg)
{
	struct ingest *g = arg;
	struct call *c = g->c;
	switch (g->outcome) {
	case ING_TOO_LARGE:
		api_fail(c, HERR_PAYLOAD_TOO_LARGE, "file",
			 "File size exceeds the maximum allowed size of %ld bytes.", MEDIA_IMAGE_MAX);
		break;
	case ING_UNSUPPORTED:
		api_fail(c, HERR_UNSUPPORTED_MEDIA, "file",
			 "Unsupported file type. The bytes are %s; accepted: JPEG, PNG, GIF, WebP, AVIF, BMP, TIFF images and MP4 video",
			 g->f.mime[0] ? g->f.mime : "unknown");
		break;
	case ING_STORAGE:
		api_fail_storage(c);
		break;
	default: {
		struct store_media m = {
			.id = arena_strdup(c->a, g->id),
			.org_id = (char *)c->org_id,
			.name = arena_strdup(c->a, g->name),
			.mime = arena_strdup(c->a, g->f.mime),
			.sha256 = (char *)g->sha256,
			.source_url = (char *)g->source_url,
			.bytes = g->bytes,
			.width = g->f.width,
			.height = g->f.height,
			.duration_ms = g->f.duration_ms,
			.created_at = now_ms(),
		};
		m.original_name = (char *)(g->original_name ? g->original_name : m.name);
		if (store_media_create(c->st, &m)) {
			media_delete(m.name);
			api_fail_storage(c);
		} else {
			api_reply(c, 201, media_json(c, &m));
		}
	}
	}
	free(g);
}

void media_ingest(struct call *c, const char *tmp, int64_t bytes, const char *sha256,
		  const char *original_name, const char *source_url)
{
	struct ingest *g = calloc(1, sizeof(*g));
	if (!g || strlen(tmp) >= sizeof(g->tmp)) {
		unlink(tmp);
		free(g);
		api_fail_storage(c);
		return;
	}
	g->c = c;
	snprintf(g->tmp, sizeof(g->tmp), "%s", tmp);
	g->bytes = bytes;
	g->sha256 = sha256;
	g->original_name = original_name;
	g->source_url = source_url;
	ulid_new(g->id); /* monotonic per thread: made on the loop */
	if (workq_submit(c->base, ingest_work, ingest_finish, g) == 0) {
		api_defer(c);
		return;
	}
	/* no worker to spare: here, blocking this loop */
	ingest_work(g);
	ingest_finish(g);
}

/* ---- facts for preflight ---- */

void api_media_facts(struct call *c, const char *media_id, const char *url, const char *platform,
		     struct pf_media *pm)
{
	struct store_media *m = NULL;
	int rc = STORE_NOTFOUND;
	if (media_id && *media_id && strlen(media_id) < 64)
		rc = store_media_get(c->st, c->a, c->org_id, media_id, &m);
	const char *pu = c->app->cfg->public_url;
	size_t pl = strlen(pu);
	if (rc == STORE_NOTFOUND && url && !strncmp(url, pu, pl) && !strncmp(url + pl, "/uploads/", 9)) {
		const char *name = url + pl + 9;
		if (media_name_ok(name))
			rc = store_media_by_name(c->st, c->a, c->org_id, name, &m);
	}
	if (rc)
		return; /* not ours: whatever the caller knew stands */
	pm->mime = m->mime;
	pm->width = m->width;
	pm->height = m->height;
	pm->duration_s = m->duration_ms / 1000.0;
	pm->bytes = m->bytes;
	pm->hosted = 1;
	api_media_fit_facts(platform, pm, 1);
}

void api_media_fit_facts(const char *platform, struct pf_media *pm, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pf_media *x = &pm[i];
		const struct media_fit *fit = platform ? media_fit_for(platform) : NULL;
		if (fit && x->hosted && x->mime && !strncmp(x->mime, "image/", 6) && fit->max_bytes &&
		    x->bytes > fit->max_bytes)
			x->bytes = 0; /* herald sends a copy that fits: its size is not known yet */
	}
}

/* ---- multipart upload ----
 *
 * The same struct upload serves both ways a body arrives: streamed from
 * the connection (api_stream_ops: the sink is created when the head is
 * complete, before any body byte, and the handler finds it in r->stream)
 * or, for a request that was not streamed (an in-process call), fed from
 * the buffered body.  Either way the file part goes to a temporary file
 * while it is hashed, and the idempotency fingerprint is taken on the fly.
 */

struct upload {
	struct mp mp;
	int mp_ok;            /* boundary valid, parser running */
	int fd;
	char tmp[512];        /* the temporary file while it is ours */
	int in_file, have_file, too_big, io_error, unauth, bad_type;
	const char *broken;   /* the body did not arrive whole: why */
	int64_t bytes, cap;
	crypto_hash_sha256_state hs;     /* the file's bytes */
	crypto_hash_sha256_state parts;  /* fingerprint: every part */
	crypto_hash_sha256_state raw;    /* fingerprint: the body as sent */
	char filename[256];
};

static void up_fp(struct upload *up, const void *p, size_t n)
{
	crypto_hash_sha256_update(&up->parts, p, n);
}

static int up_begin(void *u, const struct mp_part *p)
{
	struct upload *up = u;
	up_fp(up, "B", 1);
	up_fp(up, p->name, strlen(p->name) + 1);
	up_fp(up, p->has_filename ? p->filename : "", (p->has_filename ? strlen(p->filename) : 0) + 1);
	up_fp(up, p->content_type, strlen(p->content_type) + 1);
	up->in_file = !up->have_file && !strcmp(p->name, "file");
	if (up->in_file) {
		up->have_file = 1;
		snprintf(up->filename, sizeof(up->filename), "%s", p->filename);
	}
	return 0;
}

static int up_data(void *u, const char *d, size_t n)
{
	struct upload *up = u;
	up_fp(up, d, n);
	if (!up->in_file)
		return 0;
	up->bytes += (int64_t)n;
	if (up->bytes > up->cap) {
		up->too_big = 1;
		return 1;
	}
	crypto_hash_sha256_update(&up->hs, (const unsigned char *)d, n);
	if (up->fd < 0)
		return 0; /* a fingerprint only */
	size_t off = 0;
	while (off < n) {
		ssize_t k = write(up->fd, d + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			up->io_error = 1;
			return 1;
		}
		off += (size_t)k;
	}
	return 0;
}

static int up_end(void *u)
{
	struct upload *up = u;
	up_fp(up, "E", 1);
	up->in_file = 0;
	return 0;
}

static const struct mp_callbacks up_cb = {up_begin, up_data, up_end};

static void upload_free(void *p)
{
	struct upload *up = p;
	if (!up)
		return;
	if (up->fd >= 0)
		close(up->fd);
	if (up->tmp[0])
		unlink(up->tmp);
	free(up);
}

/* A new upload for a body of Content-Type ctype: never NULL but for
 * memory; what is wrong is recorded for the handler to answer. */
static struct upload *upload_new(const char *ctype, int64_t cap, int with_file)
{
	struct upload *up = calloc(1, sizeof(*up));
	if (!up)
		return NULL;
	up->fd = -1;
	up->cap = cap;
	crypto_hash_sha256_init(&up->hs);
	crypto_hash_sha256_init(&up->parts);
	crypto_hash_sha256_init(&up->raw);
	char boundary[MP_MAX_BOUNDARY + 1];
	if (!ctype || mp_boundary(ctype, boundary, sizeof(boundary)) ||
	    mp_init(&up->mp, boundary, &up_cb, up)) {
		up->bad_type = 1;
		return up;
	}
	up->mp_ok = 1;
	if (!with_file)
		return up;
	snprintf(up->tmp, sizeof(up->tmp), "%s/up-XXXXXX", media_tmp_dir());
	up->fd = mkostemp(up->tmp, O_CLOEXEC);
	if (up->fd < 0) {
		log_msg(LOG_ERROR, "media", "mkstemp in %s: %s", media_tmp_dir(), strerror(errno));
		up->tmp[0] = 0;
		up->io_error = 1;
	}
	return up;
}

/* Body bytes; non-zero once nothing more is wanted. */
static int upload_feed(void *u, const char *p, size_t n)
{
	struct upload *up = u;
	crypto_hash_sha256_update(&up->raw, (const unsigned char *)p, n);
	if (up->io_error || up->too_big)
		return 1;
	if (!up->mp_ok)
		return 0; /* malformed: read on, for a fingerprint of all of it */
	if (mp_feed(&up->mp, p, n)) {
		up->mp_ok = 0;
		/* an oversized or unwritable file ends the upload; a malformed
		 * body is read to its end so the fingerprint is of all of it */
		return up->too_big || up->io_error;
	}
	return 0;
}

static void upload_end(void *u, const char *error)
{
	struct upload *up = u;
	if (error)
		up->broken = error;
	else if (up->mp_ok && mp_finish(&up->mp))
		up->mp_ok = 0;
}

/* ---- streamed: the hooks the server calls ---- */

/* Every request with a body passes here when its head is complete.  An
 * upload gets a sink that writes its file part to a temporary file as it
 * arrives.  Any other body announced larger than HERALD_MAX_BODY gets a
 * refusing sink: the handler answers 413 with the envelope at once and
 * the body is dropped as it arrives, never buffered. */
static void *stream_open(void *arg, void *loop_ctx, const struct http_head *h, int *refuse)
{
	(void)arg;
	struct api_loop *loop = loop_ctx;
	if (!loop)
		return NULL;
	const struct config *cfg = loop->app->cfg;
	char cl[32];
	long long length = -1;
	if (!http_head_field(h, "Content-Length", cl, sizeof(cl)))
		length = strtoll(cl, NULL, 10);
	int upload = 0;
	char target[1024];
	if (h->method_len == 4 && !memcmp(h->method, "POST", 4) && h->target_len < sizeof(target)) {
		memcpy(target, h->target, h->target_len);
		target[h->target_len] = 0;
		char *q = strchr(target, '?');
		if (q)
			*q = 0;
		const char *path = target;
		char *dec = NULL;
		if (strchr(target, '%')) {
			size_t dlen = 0;
			dec = evhttp_uridecode(target, 0, &dlen);
			path = dec && strlen(dec) == dlen ? dec : NULL;
		}
		if (path && !strncmp(path, "/api/public/v1/", 15))
			path += 4;
		struct arena *a = arena_new();
		struct route_match m;
		upload = path && router_match(api_routes, api_nroutes, HM_POST, path, a, &m) &&
			 (m.route->flags & RF_UPLOAD);
		arena_free(a);
		free(dec);
	}
	if (!upload) {
		if (length <= cfg->max_body)
			return NULL;
		struct upload *big = calloc(1, sizeof(*big));
		if (!big)
			return NULL;
		big->fd = -1;
		big->too_big = 1;
		*refuse = 1;
		return big;
	}
	char ctype[512], auth[600];
	struct upload *up = upload_new(http_head_field(h, "Content-Type", ctype, sizeof(ctype)) ? NULL : ctype,
				       cfg->max_upload, 1);
	if (!up)
		return NULL;
	/* nothing of a stranger's body touches the disk: the handler answers
	 * 401 at once, before the body is read */
	if (http_head_field(h, "Authorization", auth, sizeof(auth)) || !api_key_ok(loop, auth)) {
		up->unauth = 1;
		*refuse = 1;
		return up;
	}
	if (length > cfg->max_upload + 65536)
		up->too_big = 1;
	if (up->bad_type || up->too_big || up->io_error)
		*refuse = 1;
	return up;
}

const struct http_stream_ops api_stream_ops = {
	.open = stream_open,
	.write = upload_feed,
	.end = upload_end,
	.free = upload_free,
};

/* ---- the route ---- */

static int feed_chunk(void *u, const char *p, size_t n)
{
	upload_feed(u, p, n);
	return 0;
}

void h_media_upload(void *arg)
{
	struct call *c = arg;
	struct upload *up = c->r->stream;
	if (!up) {
		/* not streamed (an in-process call): the body is in memory */
		up = upload_new(http_header(c->r, "Content-Type"), c->app->cfg->max_upload, 1);
		if (!up) {
			api_fail_storage(c);
			return;
		}
		arena_defer(c->a, upload_free, up);
		http_body_each(c->r, feed_chunk, up);
		upload_end(up, NULL);
	}
	if (up->bad_type) {
		api_fail(c, HERR_VALIDATION, "file",
			 "No file provided: send multipart/form-data with the file in field \"file\"");
		return;
	}
	if (up->too_big) {
		api_fail(c, HERR_PAYLOAD_TOO_LARGE, "file",
			 "File size exceeds the maximum allowed size of %ld bytes.", c->app->cfg->max_upload);
		return;
	}
	if (up->io_error || (!up->broken && up->mp_ok && fsync(up->fd))) {
		api_fail_storage(c);
		return;
	}
	if (up->broken || !up->mp_ok) {
		api_fail(c, HERR_VALIDATION, "body", "the multipart body is malformed: %s",
			 up->broken ? up->broken : up->mp.error ? up->mp.error : "unknown");
		return;
	}
	if (!up->have_file || up->bytes == 0) {
		api_fail(c, HERR_VALIDATION, "file", "No file provided");
		return;
	}
	close(up->fd);
	up->fd = -1;
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&up->hs, h);
	char *hex = arena_alloc(c->a, 2 * sizeof(h) + 1);
	sodium_bin2hex(hex, 2 * sizeof(h) + 1, h, sizeof(h));
	char *tmp = arena_strdup(c->a, up->tmp);
	up->tmp[0] = 0; /* media_ingest consumes it */
	media_ingest(c, tmp, up->bytes, hex, clean_name(c->a, up->filename, NULL), NULL);
}

/* ---- idempotency fingerprint ---- */

void api_upload_fingerprint(struct call *c, void *hs)
{
	struct upload *up = c->r->stream;
	int mine = 0;
	if (!up) {
		up = upload_new(http_header(c->r, "Content-Type"), INT64_MAX, 0);
		if (!up)
			return;
		mine = 1;
		http_body_each(c->r, feed_chunk, up);
		upload_end(up, NULL);
	}
	/* finalising consumes a state: work on copies, the upload goes on */
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	if (up->mp_ok && !up->broken && up->mp.state == MP_DONE) {
		st = up->parts;
		crypto_hash_sha256_final(&st, h);
		crypto_hash_sha256_update(hs, (const unsigned char *)"multipart\n", 10);
	} else {
		st = up->raw;
		crypto_hash_sha256_final(&st, h);
		crypto_hash_sha256_update(hs, (const unsigned char *)"raw\n", 4);
	}
	crypto_hash_sha256_update(hs, h, sizeof(h));
	if (mine)
		upload_free(up);
}

/* ---- library ---- */

void h_media_list(void *arg)
{
	struct call *c = arg;
	long long limit = 20;
	const char *ls = http_query_param(c->r, "limit");
	if (ls) {
		char *end;
		limit = strtoll(ls, &end, 10);
		if (*end || limit < 1 || limit > 100) {
			api_fail(c, HERR_VALIDATION, "limit", "limit must be between 1 and 100");
			return;
		}
	}
	const char *cursor = http_query_param(c->r, "cursor");
	if (cursor && (!*cursor || strlen(cursor) > 64)) {
		api_fail(c, HERR_VALIDATION, "cursor", "cursor is not one this API returned");
		return;
	}
	struct store_media *v = NULL;
	size_t n = 0;
	if (store_media_list(c->st, c->a, c->org_id, cursor, (int)limit + 1, &v, &n)) {
		api_fail_storage(c);
		return;
	}
	json_t *data = json_array();
	size_t shown = n > (size_t)limit ? (size_t)limit : n;
	for (size_t i = 0; i < shown; i++)
		json_array_append_new(data, media_json(c, &v[i]));
	json_t *o = json_pack("{s:o}", "data", data);
	json_object_set_new(o, "nextCursor", n > (size_t)limit ? json_string(v[shown - 1].id)
							       : json_null());
	api_reply(c, 200, o);
}

void h_media_get(void *arg)
{
	struct call *c = arg;
	struct store_media *m;
	int rc = store_media_get(c->st, c->a, c->org_id, c->params[0], &m);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "no media %s", c->params[0]);
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	api_reply(c, 200, media_json(c, m));
}

void h_media_delete(void *arg)
{
	struct call *c = arg;
	struct store_media *m;
	int rc = store_media_get(c->st, c->a, c->org_id, c->params[0], &m);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "no media %s", c->params[0]);
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	rc = store_media_delete(c->st, c->org_id, m->id, m->name);
	if (rc == STORE_CONFLICT) {
		api_fail(c, HERR_INVALID_STATE, "id",
			 "media %s is used by a draft or queued post; cancel or edit that post first", m->id);
		return;
	}
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "no media %s", c->params[0]);
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	media_delete(m->name);
	json_t *o = media_json(c, m);
	json_object_set_new(o, "deleted", json_true());
	api_reply(c, 200, o);
}

/* ---- serving ---- */

/* "bytes=a-b" | "bytes=a-" | "bytes=-n" against size; 1 with [*from, *to]
 * inclusive, 0 when the header should be ignored (serve everything), -1
 * when unsatisfiable. */
static int parse_range(const char *h, int64_t size, int64_t *from, int64_t *to)
{
	if (strncasecmp(h, "bytes=", 6))
		return 0;
	h += 6;
	while (*h == ' ')
		h++;
	if (strchr(h, ','))
		return 0; /* multiple ranges: a full answer is allowed */
	char *end;
	if (*h == '-') {
		long long n = strtoll(h + 1, &end, 10);
		if (end == h + 1 || *end || n < 0)
			return 0;
		if (n == 0 || size == 0)
			return -1;
		*from = n >= size ? 0 : size - n;
		*to = size - 1;
		return 1;
	}
	if (!isdigit((unsigned char)*h))
		return 0;
	long long a = strtoll(h, &end, 10);
	if (*end != '-')
		return 0;
	const char *b = end + 1;
	long long z = size - 1;
	if (*b) {
		z = strtoll(b, &end, 10);
		if (end == b || *end || z < a)
			return 0;
		if (z >= size)
			z = size - 1;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = z;
	return 1;
}

void h_uploads_serve(void *arg)
{
	struct call *c = arg;
	const char *name = c->params[0];
	struct store_media *m = NULL;
	int rc = media_name_ok(name) ? store_media_by_name(c->st, c->a, NULL, name, &m) : STORE_NOTFOUND;
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "path", "no such file");
		return;
	}
	if (rc) {
		api_fail_storage(c);
		return;
	}
	int fd;
	int64_t size;
	if (media_open(name, &fd, &size)) {
		api_fail(c, HERR_NOT_FOUND, "path", "no such file");
		return;
	}
	char etag[80];
	snprintf(etag, sizeof(etag), "\"%.64s\"", m->sha256);
	c->replied = 1;
	http_add_header(c->r, "ETag", etag);
	http_add_header(c->r, "Accept-Ranges", "bytes");
	http_add_header(c->r, "Cache-Control", "public, max-age=31536000, immutable");
	http_add_header(c->r, "X-Content-Type-Options", "nosniff");
	const char *inm = http_header(c->r, "If-None-Match");
	if (inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
		http_reply_file(c->r, 304, NULL, fd, 0, 0);
		return;
	}
	const char *rh = http_header(c->r, "Range");
	const char *ifr = http_header(c->r, "If-Range");
	if (rh && (!ifr || !strcmp(ifr, etag))) {
		int64_t a = 0, z = 0;
		int pr = parse_range(rh, size, &a, &z);
		if (pr < 0) {
			char cr[64];
			snprintf(cr, sizeof(cr), "bytes */%lld", (long long)size);
			http_add_header(c->r, "Content-Range", cr);
			http_reply_file(c->r, 416, NULL, fd, 0, 0);
			return;
		}
		if (pr > 0) {
			char cr[96];
			snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)a, (long long)z,
				 (long long)size);
			http_add_header(c->r, "Content-Range", cr);
			http_reply_file(c->r, 206, m->mime, fd, a, z - a + 1);
			return;
		}
	}
	http_reply_file(c->r, 200, m->mime, fd, 0, size);
}
