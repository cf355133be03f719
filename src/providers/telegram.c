/*
 * telegram: posts through the Bot API (https://api.telegram.org/bot<token>/
 * <method>) into one chat: a channel, a group or a private chat the bot can
 * write to.  Credentials: the bot token from @BotFather and the chat id
 * (numeric, channels and supergroups are -100..., or @channelusername).
 *
 * One thread item is one Telegram message:
 *   - text only: sendMessage;
 *   - one media: sendPhoto / sendVideo / sendAnimation / sendDocument (by
 *     the bytes' type) with the text as caption;
 *   - 2..10 media: sendMediaGroup (album) with the text as the first
 *     item's caption.
 * Media bytes are fetched first (one GET step per file) and uploaded as
 * multipart: passing URLs would need herald's media to be reachable from
 * Telegram's servers, which a self-hosted herald often is not.
 * Items after the first reply to the previous item's message
 * (reply_parameters.message_id), so a thread reads as a reply chain.
 *
 * Text: Postiz stores HTML (<p>a</p><p>b</p>, <strong>, <a href>, lists).
 * Telegram's HTML parse mode knows only b/i/u/s/a/code/pre/blockquote and
 * newlines, so the content is rewritten to that subset (paragraphs and <br>
 * become newlines, lists become "• " lines, headings bold, everything else
 * dropped with its text kept) and sent with parse_mode HTML.  Content with
 * no tags at all is sent verbatim without a parse mode (Postiz passes plain
 * text through unchanged).  Limits are checked on the visible text after
 * that rewrite, in UTF-16 units: 4096 for a message, 1024 for a caption;
 * more is refused before anything is sent.
 *
 * Invariants: the token only ever appears in the request URL; attempt
 * records get log_url with the secret part replaced by "***".  Nothing is
 * sent in connect (shape checks only).
 *
 * Idempotence: none.  The Bot API has no idempotency key, so a request that
 * may have reached Telegram without an answer becomes `unconfirmed` (the
 * engine's rule for providers without PROV_IDEMPOTENT).  A 400 carrying
 * parameters.migrate_to_chat_id (a group that became a supergroup) was not
 * posted: the chat id is updated in the credentials and the same request is
 * sent once more.
 */
#include "provider.h"
#include "util.h"
#include "../core/arena.h"
#include "../http/client.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TG_BASE "https://api.telegram.org"
#define TG_TEXT_MAX 4096
#define TG_CAPTION_MAX 1024
#define TG_ALBUM_MAX 10
#define TG_FETCH_MAX (50u << 20) /* Bot API upload limit for any file */

static const struct provider_field fields[] = {
	{"token", "secret", 1, "bot token from @BotFather (123456789:AA...)"},
	{"chat_id", "string", 1,
	 "target chat: numeric id (channels and supergroups start with -100) or @channelusername; "
	 "the bot must be allowed to post there (admin of a channel)"},
	{NULL, NULL, 0, NULL},
};

/* ---- small string builder (heap; copied into the arena when done) ---- */

/* ---- HTML tokenizer (Postiz content) ---- */

/* ---- Postiz HTML -> Telegram HTML ---- */

#define CONV_DEPTH 32
#define CONV_LISTS 8

struct conv {
	struct arena *a;
	struct sb out;
	struct {
		char src[16];
		const char *dst; /* a string literal */
	} st[CONV_DEPTH];
	int depth;
	int list_n[CONV_LISTS]; /* 0: bullets, >0: next number */
	int nlists;
	int skip;               /* inside <script>/<style> */
	size_t prefix_end;      /* end of the last list bullet written */
};

/* At the start of a line, ignoring tags just written and a list bullet. */
static int at_line_start(const struct conv *v)
{
	size_t i = v->out.len;
	while (i > 0) {
		if (v->prefix_end && i == v->prefix_end)
			return 1;
		char ch = v->out.p[i - 1];
		if (ch == '\n')
			return 1;
		if (ch != '>')
			return 0;
		/* text never holds a raw '>' (escaped): this ends a tag */
		while (i > 0 && v->out.p[i - 1] != '<')
			i--;
		if (i > 0)
			i--;
	}
	return 1;
}

static void ensure_line(struct conv *v)
{
	if (!at_line_start(v))
		pv_sb_puts(&v->out, "\n");
}

static void trim_newlines(struct conv *v)
{
	while (v->out.len && v->out.p[v->out.len - 1] == '\n')
		v->out.p[--v->out.len] = 0;
}

static int open_has(const struct conv *v, const char *dst)
{
	for (int i = 0; i < v->depth; i++)
		if (!strcmp(v->st[i].dst, dst))
			return 1;
	return 0;
}

static void esc_put(struct sb *b, const char *s, size_t n, int quote)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			pv_sb_puts(b, "&amp;");
			break;
		case '<':
			pv_sb_puts(b, "&lt;");
			break;
		case '>':
			pv_sb_puts(b, "&gt;");
			break;
		case '"':
			if (quote) {
				pv_sb_puts(b, "&quot;");
				break;
			}
			/* fall through */
		default:
			pv_sb_put(b, s + i, 1);
		}
	}
}

static void conv_push(struct conv *v, const char *src, const char *dst, const char *href)
{
	if (v->depth >= CONV_DEPTH)
		return;
	snprintf(v->st[v->depth].src, sizeof(v->st[v->depth].src), "%s", src);
	v->st[v->depth].dst = dst;
	v->depth++;
	if (href) {
		pv_sb_puts(&v->out, "<a href=\"");
		esc_put(&v->out, href, strlen(href), 1);
		pv_sb_puts(&v->out, "\">");
	} else {
		pv_sb_puts(&v->out, "<");
		pv_sb_puts(&v->out, dst);
		pv_sb_puts(&v->out, ">");
	}
}

/* Close the innermost open element started by `src` (and whatever was left
 * open inside it).  0 when there was none. */
static int conv_pop(struct conv *v, const char *src)
{
	int i;
	for (i = v->depth - 1; i >= 0; i--)
		if (!strcmp(v->st[i].src, src))
			break;
	if (i < 0)
		return 0;
	while (v->depth > i) {
		v->depth--;
		const char *d = v->st[v->depth].dst;
		if (!strcmp(d, "blockquote") || !strcmp(d, "pre"))
			trim_newlines(v);
		pv_sb_puts(&v->out, "</");
		pv_sb_puts(&v->out, d);
		pv_sb_puts(&v->out, ">");
	}
	return 1;
}

static const char *inline_map(const char *n)
{
	static const char *const map[][2] = {
		{"b", "b"},     {"strong", "b"}, {"i", "i"},     {"em", "i"},   {"u", "u"},
		{"ins", "u"},   {"s", "s"},      {"strike", "s"}, {"del", "s"}, {"code", "code"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i][0], n))
			return map[i][1];
	return NULL;
}

static int is_heading(const char *n)
{
	return n[0] == 'h' && n[1] >= '1' && n[1] <= '6' && !n[2];
}

static void conv_tag(struct conv *v, const struct tag *t)
{
	const char *n = t->name;
	int literal = open_has(v, "pre") || open_has(v, "code");
	if (!strcmp(n, "script") || !strcmp(n, "style")) {
		v->skip += t->close ? (v->skip > 0 ? -1 : 0) : 1;
		return;
	}
	if (!strcmp(n, "br")) {
		pv_sb_puts(&v->out, "\n");
		return;
	}
	if (!strcmp(n, "p") || !strcmp(n, "div") || !strcmp(n, "tr")) {
		if (t->close)
			pv_sb_puts(&v->out, "\n");
		else
			ensure_line(v);
		return;
	}
	if (!strcmp(n, "ul") || !strcmp(n, "ol")) {
		if (t->close) {
			if (v->nlists > 0)
				v->nlists--;
		} else if (v->nlists < CONV_LISTS) {
			v->list_n[v->nlists++] = !strcmp(n, "ol") ? 1 : 0;
		}
		ensure_line(v);
		return;
	}
	if (!strcmp(n, "li")) {
		if (t->close) {
			ensure_line(v);
			return;
		}
		ensure_line(v);
		for (int i = 1; i < v->nlists; i++)
			pv_sb_puts(&v->out, "  ");
		if (v->nlists > 0 && v->list_n[v->nlists - 1] > 0) {
			char num[16];
			snprintf(num, sizeof(num), "%d. ", v->list_n[v->nlists - 1]++);
			pv_sb_puts(&v->out, num);
		} else {
			pv_sb_puts(&v->out, "\xe2\x80\xa2 ");
		}
		v->prefix_end = v->out.len;
		return;
	}
	if (is_heading(n)) {
		if (t->close) {
			if (conv_pop(v, n))
				pv_sb_puts(&v->out, "\n");
		} else {
			ensure_line(v);
			if (!literal)
				conv_push(v, n, "b", NULL);
		}
		return;
	}
	if (!strcmp(n, "blockquote") || !strcmp(n, "pre")) {
		if (t->close) {
			if (conv_pop(v, n))
				pv_sb_puts(&v->out, "\n");
		} else {
			ensure_line(v);
			if (!literal && !open_has(v, n))
				conv_push(v, n, n[0] == 'p' ? "pre" : "blockquote", NULL);
		}
		return;
	}
	if (!strcmp(n, "a")) {
		if (t->close) {
			conv_pop(v, "a");
			return;
		}
		char *href = pv_attr_get(v->a, t, "href");
		if (!literal && href && *href && !open_has(v, "a"))
			conv_push(v, "a", "a", href);
		return;
	}
	const char *dst = inline_map(n);
	if (!dst)
		return; /* unknown or unsupported: drop the tag, keep its text */
	if (t->close)
		conv_pop(v, n);
	else if (!literal)
		conv_push(v, n, dst, NULL);
}

static void conv_text(struct conv *v, const char *s, size_t n)
{
	if (v->skip)
		return;
	struct sb d = {0};
	pv_decode_entities(&d, s, n);
	int ws_only = 1, nl = 0;
	for (size_t i = 0; i < d.len; i++) {
		if (d.p[i] == '\n' || d.p[i] == '\r')
			nl = 1;
		else if (!isspace((unsigned char)d.p[i]))
			ws_only = 0;
	}
	/* whitespace between tags (source formatting) is not content */
	if (!(ws_only && nl && !open_has(v, "pre")))
		esc_put(&v->out, d.p ? d.p : "", d.len, 0);
	free(d.p);
}

/* Visible length (UTF-16) of Telegram HTML: tags dropped, entities 1 unit. */
static size_t tg_visible(const char *s)
{
	size_t k = 0;
	for (const char *p = s; *p;) {
		if (*p == '<') {
			const char *e = strchr(p, '>');
			p = e ? e + 1 : p + strlen(p);
			continue;
		}
		if (*p == '&') {
			const char *e = strchr(p, ';');
			if (e && e - p < 12) {
				k++;
				p = e + 1;
				continue;
			}
		}
		unsigned char ch = (unsigned char)*p++;
		if ((ch & 0xc0) != 0x80)
			k += ch >= 0xf0 ? 2 : 1;
	}
	return k;
}

/* Postiz HTML -> Telegram HTML.  Returns the text (arena). */
static char *tg_html(struct arena *a, const char *html)
{
	struct conv v = {.a = a};
	const char *p = html;
	while (*p) {
		const char *lt = strchr(p, '<');
		struct tag t;
		const char *end = NULL;
		while (lt && !(end = pv_parse_tag(lt, &t)))
			lt = strchr(lt + 1, '<');
		if (!lt) {
			conv_text(&v, p, strlen(p));
			break;
		}
		if (lt > p)
			conv_text(&v, p, (size_t)(lt - p));
		if (strcmp(t.name, "!"))
			conv_tag(&v, &t);
		p = end;
	}
	while (v.depth > 0)
		conv_pop(&v, v.st[v.depth - 1].src);
	/* trim: no leading newlines, no trailing whitespace */
	while (v.out.len && (v.out.p[v.out.len - 1] == '\n' || v.out.p[v.out.len - 1] == ' '))
		v.out.p[--v.out.len] = 0;
	size_t lead = 0;
	while (lead < v.out.len && v.out.p[lead] == '\n')
		lead++;
	char *r = pv_sb_done(&v.out, a);
	return r + lead;
}

/* ---- media ---- */

enum kind { K_PHOTO, K_VIDEO, K_ANIMATION, K_DOCUMENT };

struct media {
	const char *url, *alt, *name, *mime;
	const char *data;
	size_t len;
	enum kind kind;
};

/* ---- multipart ---- */

struct mp {
	struct sb b;
	char boundary[48];
};

static void mp_begin(struct mp *m)
{
	unsigned char r[12];
	char hex[25];
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	snprintf(m->boundary, sizeof(m->boundary), "herald-%s", hex);
	memset(&m->b, 0, sizeof(m->b));
}

static void mp_field(struct mp *m, const char *name, const char *value)
{
	pv_sb_puts(&m->b, "--");
	pv_sb_puts(&m->b, m->boundary);
	pv_sb_puts(&m->b, "\r\nContent-Disposition: form-data; name=\"");
	pv_sb_puts(&m->b, name);
	pv_sb_puts(&m->b, "\"\r\n\r\n");
	pv_sb_puts(&m->b, value);
	pv_sb_puts(&m->b, "\r\n");
}

static void mp_file(struct mp *m, const char *name, const struct media *f)
{
	pv_sb_puts(&m->b, "--");
	pv_sb_puts(&m->b, m->boundary);
	pv_sb_puts(&m->b, "\r\nContent-Disposition: form-data; name=\"");
	pv_sb_puts(&m->b, name);
	pv_sb_puts(&m->b, "\"; filename=\"");
	pv_sb_puts(&m->b, f->name);
	pv_sb_puts(&m->b, "\"\r\nContent-Type: ");
	pv_sb_puts(&m->b, f->mime);
	pv_sb_puts(&m->b, "\r\n\r\n");
	pv_sb_put(&m->b, f->data, f->len);
	pv_sb_puts(&m->b, "\r\n");
}

static void mp_finish(struct mp *m, struct pub_ctx *c, int hi)
{
	pv_sb_puts(&m->b, "--");
	pv_sb_puts(&m->b, m->boundary);
	pv_sb_puts(&m->b, "--\r\n");
	c->req.body_len = m->b.len;
	c->req.body = pv_sb_done(&m->b, c->a);
	c->req.headers[hi] =
		arena_printf(c->a, "Content-Type: multipart/form-data; boundary=%s", m->boundary);
	c->req.headers[hi + 1] = NULL;
}

/* ---- connect ---- */

static int token_ok(const char *t)
{
	const char *p = t;
	while (isdigit((unsigned char)*p))
		p++;
	if (p == t || *p != ':' || !p[1] || strlen(t) > 200)
		return 0;
	for (p++; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return 0;
	return 1;
}

/* "-1001234", "42" or "@name" (5-32 of [A-Za-z0-9_]). */
static int chat_ok(const char *s)
{
	if (*s == '@') {
		size_t n = strlen(s + 1);
		if (n < 4 || n > 32)
			return 0;
		for (const char *p = s + 1; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				return 0;
		return 1;
	}
	const char *p = s + (*s == '-');
	if (!*p || strlen(p) > 20)
		return 0;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

/* chat_id as a string whether stored as a JSON string or number. */
static const char *chat_of(struct arena *a, json_t *cred)
{
	json_t *v = json_object_get(cred, "chat_id");
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		return arena_printf(a, "%lld", (long long)json_integer_value(v));
	return NULL;
}

static int tg_connect(struct arena *a, json_t *cred, const char **profile, const char **err)
{
	json_t *t = json_object_get(cred, "token");
	if (!json_is_string(t) || !token_ok(json_string_value(t))) {
		*err = "credentials.token must be a Telegram bot token: digits, ':' and the secret "
		       "(123456789:AA...), as @BotFather gives it";
		return -1;
	}
	const char *chat = arena_strdup(a, chat_of(a, cred));
	if (!chat || !chat_ok(chat)) {
		*err = "credentials.chat_id must be a numeric chat id (-100... for channels and "
		       "supergroups) or @channelusername";
		return -1;
	}
	/* keep one representation: a string */
	json_object_set_new(cred, "chat_id", json_string(chat));
	*profile = chat[0] == '@' ? arena_strdup(a, chat) : arena_printf(a, "chat %s", chat);
	return 0;
}

/* ---- publish ---- */

enum { PH_FETCH = 1, PH_SEND };

struct tg {
	int phase;
	const char *token, *chat, *base, *botid;
	const char *text; /* converted */
	int html;
	struct media *m;
	size_t nm, cur;
	long long reply_to; /* 0: not a reply */
	const char *method;
	int migrated;
};

static void api_req(struct pub_ctx *c, struct tg *s, const char *method)
{
	s->method = method;
	c->req.method = "POST";
	c->req.url = arena_printf(c->a, "%s/bot%s/%s", s->base, s->token, method);
	c->req.log_url = arena_printf(c->a, "%s/bot%s:***/%s", s->base, s->botid, method);
	c->req.timeout_ms = s->nm ? 120000 : 20000;
}

static const char *kind_field(enum kind k)
{
	return k == K_PHOTO ? "photo" : k == K_VIDEO ? "video" : k == K_ANIMATION ? "animation" : "document";
}

static void build_send(struct pub_ctx *c, struct tg *s)
{
	if (s->nm == 0) {
		json_t *b = json_pack("{s:s,s:s}", "chat_id", s->chat, "text", s->text);
		if (s->html)
			json_object_set_new(b, "parse_mode", json_string("HTML"));
		if (s->reply_to)
			json_object_set_new(b, "reply_parameters",
					    json_pack("{s:I}", "message_id", (json_int_t)s->reply_to));
		char *body = json_dumps(b, JSON_COMPACT);
		json_decref(b);
		api_req(c, s, "sendMessage");
		c->req.body = arena_strdup(c->a, body);
		c->req.body_len = strlen(body);
		free(body);
		c->req.headers[0] = "Content-Type: application/json";
		c->req.headers[1] = NULL;
		return;
	}
	struct mp m;
	mp_begin(&m);
	mp_field(&m, "chat_id", s->chat);
	if (s->reply_to)
		mp_field(&m, "reply_parameters",
			 arena_printf(c->a, "{\"message_id\":%lld}", s->reply_to));
	if (s->nm == 1) {
		static const char *const methods[] = {"sendPhoto", "sendVideo", "sendAnimation",
						      "sendDocument"};
		const struct media *f = &s->m[0];
		if (*s->text) {
			mp_field(&m, "caption", s->text);
			if (s->html)
				mp_field(&m, "parse_mode", "HTML");
		}
		if (f->kind == K_VIDEO)
			mp_field(&m, "supports_streaming", "true");
		mp_file(&m, kind_field(f->kind), f);
		api_req(c, s, methods[f->kind]);
	} else {
		json_t *arr = json_array();
		for (size_t i = 0; i < s->nm; i++) {
			const struct media *f = &s->m[i];
			const char *type = f->kind == K_DOCUMENT ? "document"
					   : f->kind == K_VIDEO  ? "video"
								 : "photo";
			json_t *it = json_pack("{s:s,s:s}", "type", type, "media",
					       arena_printf(c->a, "attach://file%zu", i));
			if (i == 0 && *s->text) {
				json_object_set_new(it, "caption", json_string(s->text));
				if (s->html)
					json_object_set_new(it, "parse_mode", json_string("HTML"));
			}
			json_array_append_new(arr, it);
		}
		char *media = json_dumps(arr, JSON_COMPACT);
		json_decref(arr);
		mp_field(&m, "media", media);
		free(media);
		for (size_t i = 0; i < s->nm; i++)
			mp_file(&m, arena_printf(c->a, "file%zu", i), &s->m[i]);
		api_req(c, s, "sendMediaGroup");
	}
	mp_finish(&m, c, 0);
}

static void fetch_req(struct pub_ctx *c, struct tg *s)
{
	c->req.method = "GET";
	c->req.url = s->m[s->cur].url;
	c->req.safe = 1; /* fetching our own media changes nothing on the platform */
	c->req.user_url = 1;
	c->req.log_url = pv_strip_query(c->a, s->m[s->cur].url);
	c->req.max_response = TG_FETCH_MAX;
	c->req.timeout_ms = 60000;
	c->req.headers[0] = NULL;
}

static enum pub_status fetched(struct pub_ctx *c, struct tg *s, const struct hresp *r)
{
	struct media *f = &s->m[s->cur];
	if (r->status < 200 || r->status >= 300) {
		c->error = arena_printf(c->a, "media %zu (%s) could not be fetched: HTTP %ld", s->cur + 1,
					pv_strip_query(c->a, f->url), r->status);
		enum pub_status st = pub_classify_status(r->status);
		if (st == PUB_RETRY)
			c->retry_after_ms = pub_retry_after(r);
		return st == PUB_RETRY ? PUB_RETRY : PUB_FAILED;
	}
	if (r->body_len == 0) {
		c->error = arena_printf(c->a, "media %zu (%s) is empty", s->cur + 1,
					pv_strip_query(c->a, f->url));
		return PUB_FAILED;
	}
	char *d = arena_alloc(c->a, r->body_len);
	memcpy(d, r->body, r->body_len);
	f->data = d;
	f->len = r->body_len;
	f->mime = pv_sniff((const unsigned char *)d, r->body_len);
	f->name = pv_file_name(c->a, f->url, f->mime, s->cur);
	if (!strcmp(f->mime, "image/gif"))
		f->kind = K_ANIMATION;
	else if (!strncmp(f->mime, "image/", 6))
		f->kind = K_PHOTO;
	else if (!strncmp(f->mime, "video/", 6))
		f->kind = K_VIDEO;
	else
		f->kind = K_DOCUMENT;
	if (f->kind == K_PHOTO && f->len > (10u << 20))
		f->kind = K_DOCUMENT; /* photos are capped at 10 MB; keep it as a file */
	return PUB_SEND;
}

/* An album may not mix documents with photos/videos. */
static const char *album_check(struct tg *s)
{
	if (s->nm < 2)
		return NULL;
	size_t docs = 0;
	for (size_t i = 0; i < s->nm; i++)
		docs += s->m[i].kind == K_DOCUMENT;
	if (docs && docs != s->nm)
		return "Telegram albums cannot mix documents with photos or videos; post the files "
		       "in separate thread items";
	return NULL;
}

static const char *release_url(struct pub_ctx *c, struct tg *s, json_t *msg, long long id)
{
	const char *user = json_string_value(json_object_get(json_object_get(msg, "chat"), "username"));
	if (s->chat[0] == '@')
		return arena_printf(c->a, "https://t.me/%s/%lld", s->chat + 1, id);
	if (user && *user)
		return arena_printf(c->a, "https://t.me/%s/%lld", user, id);
	if (!strncmp(s->chat, "-100", 4) && s->chat[4])
		return arena_printf(c->a, "https://t.me/c/%s/%lld", s->chat + 4, id);
	return NULL; /* private chats and basic groups have no message links */
}

/* An album is one message per media, and Telegram does not promise their
 * ids are consecutive (other messages of the chat interleave): keep every
 * id it returned, {"message_ids":[..]}, for unpublish.  NULL when the
 * answer holds something else than messages with ids. */
static const char *album_ids(struct pub_ctx *c, json_t *res)
{
	json_t *ids = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(res, i, m) {
		json_t *mid = json_object_get(m, "message_id");
		if (!json_is_integer(mid) || json_integer_value(mid) <= 0 || i >= TG_ALBUM_MAX) {
			json_decref(ids);
			return NULL;
		}
		json_array_append(ids, mid);
	}
	json_t *o = json_pack("{s:o}", "message_ids", ids);
	char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	const char *out = txt ? arena_strdup(c->a, txt) : NULL;
	free(txt);
	return out;
}

/* The album's message ids stored at publish (album_ids), into `out` (up to
 * TG_ALBUM_MAX); 0 when release_data holds none (rows published before it
 * was kept, or a single message). */
static size_t stored_album_ids(const struct pub_ctx *c, long long *out)
{
	if (!c->release_data)
		return 0;
	json_t *j = json_loads(c->release_data, 0, NULL);
	json_t *ids = json_object_get(j, "message_ids");
	size_t n = json_array_size(ids);
	if (n < 2 || n > TG_ALBUM_MAX)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(ids, i);
		if (!json_is_integer(v) || json_integer_value(v) <= 0) {
			n = 0;
			break;
		}
		out[i] = (long long)json_integer_value(v);
	}
	json_decref(j);
	return n;
}

static enum pub_status answer(struct pub_ctx *c, struct tg *s, const struct hresp *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	if (j)
		arena_defer(c->a, pv_free_json, j);
	long st = r->status;
	if (st >= 200 && st < 300 && json_is_true(json_object_get(j, "ok"))) {
		json_t *res = json_object_get(j, "result");
		json_t *msg = json_is_array(res) ? json_array_get(res, 0) : res;
		json_t *mid = json_object_get(msg, "message_id");
		if (!json_is_integer(mid)) {
			c->error = arena_printf(c->a,
						"Telegram answered %s with ok but no message_id; check the "
						"chat before retrying",
						s->method);
			return PUB_UNKNOWN;
		}
		long long id = (long long)json_integer_value(mid);
		c->release_id = arena_printf(c->a, "%lld", id);
		c->release_url = release_url(c, s, msg, id);
		if (json_is_array(res) && json_array_size(res) > 1)
			c->release_data = album_ids(c, res);
		return PUB_OK;
	}
	const char *desc = json_string_value(json_object_get(j, "description"));
	if (!desc)
		desc = r->body_len ? arena_printf(c->a, "%.300s", r->body) : "(empty body)";
	json_t *params = json_object_get(j, "parameters");
	if (st >= 200 && st < 300) {
		c->error = arena_printf(c->a, "Telegram answered %s with HTTP %ld but not ok: %s; check "
					"the chat before retrying", s->method, st, desc);
		return PUB_UNKNOWN;
	}
	json_t *mig = json_object_get(params, "migrate_to_chat_id");
	if (json_is_integer(mig) && !s->migrated) {
		/* the group became a supergroup: nothing was posted, use the new id */
		s->migrated = 1;
		s->chat = arena_printf(c->a, "%lld", (long long)json_integer_value(mig));
		json_object_set_new(c->credentials, "chat_id", json_string(s->chat));
		c->credentials_changed = 1;
		build_send(c, s);
		return PUB_SEND;
	}
	long code = json_is_integer(json_object_get(j, "error_code"))
			    ? (long)json_integer_value(json_object_get(j, "error_code"))
			    : st;
	if (st == 429 || code == 429) {
		json_t *ra = json_object_get(params, "retry_after");
		int64_t ms = json_is_integer(ra) ? (int64_t)json_integer_value(ra) * 1000 : 0;
		if (json_is_real(ra))
			ms = (int64_t)(json_real_value(ra) * 1000);
		int64_t h = pub_retry_after(r);
		c->retry_after_ms = ms > h ? ms : h;
		c->error = arena_printf(c->a, "Telegram rate limit (HTTP %ld): %s", st, desc);
		return PUB_RETRY;
	}
	if (st >= 500 || st == 408) {
		c->error = arena_printf(c->a, "Telegram answered HTTP %ld: %s", st, desc);
		c->retry_after_ms = pub_retry_after(r);
		return PUB_RETRY;
	}
	if (st == 401) {
		c->error = arena_printf(c->a,
					"Telegram refused the bot token (HTTP 401: %s); get a new token "
					"from @BotFather and reconnect the channel",
					desc);
		return PUB_AUTH_EXPIRED;
	}
	if (st == 403)
		c->error = arena_printf(c->a,
					"Telegram refused the message (HTTP 403: %s); the bot must be a "
					"member of the chat (an admin of a channel) with the right to post",
					desc);
	else
		c->error = arena_printf(c->a, "Telegram refused the message (HTTP %ld): %s", st, desc);
	return PUB_FAILED;
}

static enum pub_status tg_start(struct pub_ctx *c)
{
	struct tg *s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	json_t *t = json_object_get(c->credentials, "token");
	s->token = json_string_value(t);
	s->chat = chat_of(c->a, c->credentials);
	if (!s->token || !token_ok(s->token) || !s->chat) {
		c->error = "the channel has no valid token or chat_id; reconnect it";
		return PUB_FAILED;
	}
	s->botid = arena_strndup(c->a, s->token, strcspn(s->token, ":"));
	const char *base = c->base_url && *c->base_url ? c->base_url : TG_BASE;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	s->base = arena_strndup(c->a, base, bl);

	const char *content = c->content ? c->content : "";
	s->html = pv_has_tags(content);
	s->text = s->html ? tg_html(c->a, content) : content;
	size_t len = s->html ? tg_visible(s->text) : pv_u16len(s->text, strlen(s->text));

	size_t nm = json_array_size(c->media);
	if (nm > TG_ALBUM_MAX) {
		c->error = arena_printf(c->a,
					"telegram.media.max_count: %zu media in one item; a Telegram album "
					"holds at most %d",
					nm, TG_ALBUM_MAX);
		return PUB_FAILED;
	}
	s->m = arena_alloc(c->a, (nm ? nm : 1) * sizeof(*s->m));
	for (size_t i = 0; i < nm; i++) {
		json_t *it = json_array_get(c->media, i);
		const char *u = json_string_value(json_object_get(it, "path"));
		if (!u || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))) {
			c->error = arena_printf(c->a, "media %zu has no http(s) path", i + 1);
			return PUB_FAILED;
		}
		s->m[s->nm].url = u;
		s->m[s->nm].alt = json_string_value(json_object_get(it, "alt"));
		s->nm++;
	}
	if (s->nm && len > TG_CAPTION_MAX) {
		c->error = arena_printf(c->a,
					"telegram.caption.max_length: the text is %zu characters; a "
					"Telegram caption (text with media) holds %d. Shorten it or put "
					"the media in a thread item of its own",
					len, TG_CAPTION_MAX);
		return PUB_FAILED;
	}
	if (!s->nm && len > TG_TEXT_MAX) {
		c->error = arena_printf(c->a,
					"telegram.text.max_length: the text is %zu characters after "
					"formatting; a Telegram message holds %d",
					len, TG_TEXT_MAX);
		return PUB_FAILED;
	}
	if (!s->nm && len == 0) {
		c->error = "nothing to send: the text is empty after formatting and there is no media";
		return PUB_FAILED;
	}
	if (c->parent_release_id) {
		char *end;
		long long id = strtoll(c->parent_release_id, &end, 10);
		if (end != c->parent_release_id && !*end && id > 0)
			s->reply_to = id;
	}
	if (s->nm) {
		s->phase = PH_FETCH;
		s->cur = 0;
		fetch_req(c, s);
		return PUB_SEND;
	}
	s->phase = PH_SEND;
	build_send(c, s);
	return PUB_SEND;
}

static enum pub_status tg_publish(struct pub_ctx *c, const struct hresp *prev)
{
	if (!prev)
		return tg_start(c);
	struct tg *s = c->state;
	if (s->phase == PH_FETCH) {
		enum pub_status st = fetched(c, s, prev);
		if (st != PUB_SEND)
			return st;
		if (++s->cur < s->nm) {
			fetch_req(c, s);
			return PUB_SEND;
		}
		const char *bad = album_check(s);
		if (bad) {
			c->error = bad;
			return PUB_FAILED;
		}
		s->phase = PH_SEND;
		build_send(c, s);
		return PUB_SEND;
	}
	return answer(c, s, prev);
}

/* Unpublish: deleteMessage {chat_id, message_id}; an item sent as an album
 * (several media) was several messages, removed with deleteMessages and the
 * ids stored at publish (release_data).  "message to delete not found" is
 * success (already gone); "message can't be deleted" (a bot may delete its
 * messages in private chats and groups for 48 hours only, unless it is an
 * admin) is a refusal, in Telegram's words. */
static enum pub_status tg_unpublish(struct pub_ctx *c, const struct hresp *r)
{
	if (r) {
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		if (j)
			arena_defer(c->a, pv_free_json, j);
		const char *desc = json_string_value(json_object_get(j, "description"));
		if (!desc)
			desc = r->body_len ? arena_printf(c->a, "%.300s", r->body) : "(empty body)";
		if (r->status >= 200 && r->status < 300 && json_is_true(json_object_get(j, "ok")))
			return PUB_OK;
		if (r->status == 400 && strcasestr(desc, "message to delete not found"))
			return PUB_OK;
		if (r->status == 429 || r->status >= 500 || r->status == 408) {
			json_t *ra = json_object_get(json_object_get(j, "parameters"), "retry_after");
			int64_t ms = json_is_integer(ra) ? (int64_t)json_integer_value(ra) * 1000 : 0;
			int64_t h = pub_retry_after(r);
			c->retry_after_ms = ms > h ? ms : h;
			c->error = arena_printf(c->a, "Telegram answered HTTP %ld: %s", r->status, desc);
			return PUB_RETRY;
		}
		if (r->status == 401) {
			c->error = arena_printf(c->a, "Telegram refused the bot token (HTTP 401: %s)", desc);
			return PUB_AUTH_EXPIRED;
		}
		c->error = arena_printf(c->a, "Telegram refused to delete message %s (HTTP %ld): %s",
					c->release_id, r->status, desc);
		return PUB_FAILED;
	}
	struct tg *s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	s->token = json_string_value(json_object_get(c->credentials, "token"));
	s->chat = chat_of(c->a, c->credentials);
	if (!s->token || !token_ok(s->token) || !s->chat) {
		c->error = "the channel has no valid token or chat_id; reconnect it";
		return PUB_FAILED;
	}
	char *end = NULL;
	long long id = c->release_id ? strtoll(c->release_id, &end, 10) : 0;
	if (!c->release_id || end == c->release_id || *end || id <= 0) {
		c->error = arena_printf(c->a, "the post's release id is not a Telegram message id (%s)",
					c->release_id ? c->release_id : "none");
		return PUB_FAILED;
	}
	s->botid = arena_strndup(c->a, s->token, strcspn(s->token, ":"));
	const char *base = c->base_url && *c->base_url ? c->base_url : TG_BASE;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	s->base = arena_strndup(c->a, base, bl);
	size_t nm = json_array_size(c->media);
	long long album[TG_ALBUM_MAX];
	size_t na = stored_album_ids(c, album);
	json_t *b;
	if (na) {
		json_t *ids = json_array();
		for (size_t i = 0; i < na; i++)
			json_array_append_new(ids, json_integer((json_int_t)album[i]));
		b = json_pack("{s:s,s:o}", "chat_id", s->chat, "message_ids", ids);
		api_req(c, s, "deleteMessages");
	} else if (nm > 1 && nm <= TG_ALBUM_MAX) {
		/* an album published before its ids were kept (release_data NULL):
		 * only the first id is known, and the rest are assumed to follow
		 * it, which holds unless other messages came in between */
		json_t *ids = json_array();
		for (size_t i = 0; i < nm; i++)
			json_array_append_new(ids, json_integer((json_int_t)(id + (long long)i)));
		b = json_pack("{s:s,s:o}", "chat_id", s->chat, "message_ids", ids);
		api_req(c, s, "deleteMessages");
	} else {
		b = json_pack("{s:s,s:I}", "chat_id", s->chat, "message_id", (json_int_t)id);
		api_req(c, s, "deleteMessage");
	}
	char *body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	if (!body) {
		c->error = "cannot encode the request";
		return PUB_FAILED;
	}
	c->req.body = arena_strdup(c->a, body);
	c->req.body_len = strlen(body);
	free(body);
	c->req.headers[0] = "Content-Type: application/json";
	c->req.headers[1] = NULL;
	c->req.timeout_ms = 20000;
	return PUB_SEND;
}

/* Tool "getChat": the connected chat as Telegram describes it (id, type,
 * title, username...), which also proves the bot can see it. */
static enum pub_status tg_tool_getchat(struct pub_ctx *c, const struct hresp *r)
{
	if (r) {
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		if (j)
			arena_defer(c->a, pv_free_json, j);
		json_t *res = json_object_get(j, "result");
		if (r->status >= 200 && r->status < 300 && json_is_true(json_object_get(j, "ok")) &&
		    json_is_object(res)) {
			c->output = res;
			return PUB_OK;
		}
		const char *desc = json_string_value(json_object_get(j, "description"));
		c->error = arena_printf(c->a, "Telegram answered getChat with HTTP %ld: %s", r->status,
					desc ? desc : r->body_len ? arena_printf(c->a, "%.300s", r->body)
								  : "(empty body)");
		if (r->status == 401)
			return PUB_AUTH_EXPIRED;
		return r->status == 429 || r->status >= 500 ? PUB_RETRY : PUB_FAILED;
	}
	struct tg *s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	s->token = json_string_value(json_object_get(c->credentials, "token"));
	s->chat = chat_of(c->a, c->credentials);
	if (!s->token || !token_ok(s->token) || !s->chat) {
		c->error = "the channel has no valid token or chat_id; reconnect it";
		return PUB_FAILED;
	}
	s->botid = arena_strndup(c->a, s->token, strcspn(s->token, ":"));
	const char *base = c->base_url && *c->base_url ? c->base_url : TG_BASE;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	s->base = arena_strndup(c->a, base, bl);
	json_t *b = json_pack("{s:s}", "chat_id", s->chat);
	char *body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	if (!body) {
		c->error = "cannot encode the request";
		return PUB_FAILED;
	}
	api_req(c, s, "getChat");
	c->req.body = arena_strdup(c->a, body);
	c->req.body_len = strlen(body);
	free(body);
	c->req.headers[0] = "Content-Type: application/json";
	c->req.headers[1] = NULL;
	c->req.safe = 1;
	return PUB_SEND;
}

/* Verify: getMe (the token is a live bot), getChat (the chat exists and
 * the bot can see it) and getChatMember of the bot in it (still a member;
 * an administrator where only administrators post: channels).  Each is a
 * POST of JSON to /bot<token>/<method> (no getChatMember for a private
 * chat: it has no members to ask about); Telegram answers {"ok", "result"}
 * or {"ok": false, "error_code", "description"}. */
struct tg_verify {
	struct tg s;
	json_t *bot, *chat;
};

static void tg_verify_req(struct pub_ctx *c, struct tg_verify *v, const char *method, json_t *body)
{
	api_req(c, &v->s, method);
	char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	c->req.body = txt ? arena_strdup(c->a, txt) : "{}";
	c->req.body_len = strlen(c->req.body);
	free(txt);
	c->req.headers[0] = "Content-Type: application/json";
	c->req.headers[1] = NULL;
	c->req.timeout_ms = 20000;
	c->req.safe = 1;
}

static enum pub_status tg_verified(struct pub_ctx *c, struct tg_verify *v, const char *status);

static enum pub_status tg_verify(struct pub_ctx *c, const struct hresp *r)
{
	struct tg_verify *v = c->state;
	if (!r) {
		v = arena_alloc(c->a, sizeof(*v));
		c->state = v;
		v->s.token = json_string_value(json_object_get(c->credentials, "token"));
		v->s.chat = chat_of(c->a, c->credentials);
		if (!v->s.token || !token_ok(v->s.token)) {
			c->error = "credentials.token is not a bot token";
			c->error_field = "credentials.token";
			return PUB_FAILED;
		}
		if (!v->s.chat) {
			c->error = "credentials.chat_id is missing";
			c->error_field = "credentials.chat_id";
			return PUB_FAILED;
		}
		v->s.botid = arena_strndup(c->a, v->s.token, strcspn(v->s.token, ":"));
		const char *base = c->base_url && *c->base_url ? c->base_url : TG_BASE;
		size_t bl = strlen(base);
		while (bl && base[bl - 1] == '/')
			bl--;
		v->s.base = arena_strndup(c->a, base, bl);
		tg_verify_req(c, v, "getMe", NULL);
		return PUB_SEND;
	}
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	if (j)
		arena_defer(c->a, pv_free_json, j);
	json_t *res = json_object_get(j, "result");
	int ok = r->status >= 200 && r->status < 300 && json_is_true(json_object_get(j, "ok"));
	const char *m = v->s.method;
	if (!ok || !json_is_object(res)) {
		const char *desc = json_string_value(json_object_get(j, "description"));
		c->error = arena_printf(c->a, "Telegram answered %s with HTTP %ld: %s", m, r->status,
					desc ? desc : r->body_len ? arena_printf(c->a, "%.300s", r->body)
								  : "(empty body)");
		if (r->status == 429 || r->status >= 500)
			return PUB_RETRY;
		if (ok) /* 200 without a result object */
			return PUB_RETRY;
		/* getMe: 401 Unauthorized, or 404 Not Found for a token
		 * Telegram does not know; later calls: the chat */
		c->error_field = !strcmp(m, "getMe") ? "credentials.token" : "credentials.chat_id";
		return PUB_FAILED;
	}
	if (!strcmp(m, "getMe")) {
		v->bot = res;
		tg_verify_req(c, v, "getChat", json_pack("{s:s}", "chat_id", v->s.chat));
		return PUB_SEND;
	}
	if (!strcmp(m, "getChat")) {
		v->chat = res;
		const char *ty = json_string_value(json_object_get(res, "type"));
		/* a private chat the bot can read is one whose user started it:
		 * there is no membership to ask about */
		if (ty && !strcmp(ty, "private"))
			return tg_verified(c, v, "private");
		json_t *id = json_object_get(v->bot, "id");
		tg_verify_req(c, v, "getChatMember",
			      json_pack("{s:s,s:O}", "chat_id", v->s.chat, "user_id", id ? id : json_null()));
		return PUB_SEND;
	}
	/* getChatMember */
	const char *status = json_string_value(json_object_get(res, "status"));
	const char *type = json_string_value(json_object_get(v->chat, "type"));
	const char *bot = json_string_value(json_object_get(v->bot, "username"));
	status = status ? status : "";
	int admin = !strcmp(status, "administrator") || !strcmp(status, "creator");
	int gone = !strcmp(status, "left") || !strcmp(status, "kicked");
	int restricted = !strcmp(status, "restricted") &&
			 json_is_false(json_object_get(res, "can_send_messages"));
	if (gone || restricted || (type && !strcmp(type, "channel") && !admin)) {
		c->error = arena_printf(c->a,
					"the bot @%s is %s chat %s; %s", bot ? bot : "?",
					gone ? "not a member of" : restricted ? "not allowed to post in"
									  : "not an administrator of",
					v->s.chat,
					type && !strcmp(type, "channel")
						? "add it to the channel as an administrator that may post messages"
						: "add it to the chat and let it send messages");
		c->error_field = "credentials.chat_id";
		return PUB_FAILED;
	}
	return tg_verified(c, v, status);
}

static enum pub_status tg_verified(struct pub_ctx *c, struct tg_verify *v, const char *status)
{
	const char *bot = json_string_value(json_object_get(v->bot, "username"));
	const char *title = json_string_value(json_object_get(v->chat, "title"));
	const char *uname = json_string_value(json_object_get(v->chat, "username"));
	const char *first = json_string_value(json_object_get(v->chat, "first_name"));
	json_t *out = json_object();
	arena_defer(c->a, pv_free_json, out);
	json_object_set_new(out, "profile",
			    json_string(uname ? arena_printf(c->a, "@%s", uname)
					      : arena_printf(c->a, "chat %s", v->s.chat)));
	if (title || first)
		json_object_set_new(out, "name", json_string(title ? title : first));
	json_object_set(out, "chat", v->chat);
	json_object_set_new(out, "bot",
			    json_pack("{s:O,s:s,s:s}", "id",
				      json_object_get(v->bot, "id") ? json_object_get(v->bot, "id")
								    : json_null(),
				      "username", bot ? bot : "", "first_name",
				      json_string_value(json_object_get(v->bot, "first_name"))
					      ? json_string_value(json_object_get(v->bot, "first_name"))
					      : ""));
	json_object_set_new(out, "memberStatus", json_string(status));
	c->output = out;
	return PUB_OK;
}

static const struct provider_tool tg_tools[] = {
	{"getChat", "the connected chat (id, type, title, username) as the bot sees it", "[]",
	 tg_tool_getchat},
	{NULL, NULL, NULL, NULL},
};

const struct provider provider_telegram = {
	.api_version = "Telegram Bot API (unversioned; methods of Bot API 6.0 and later)",
	.api_sunset = NULL,
	.identifier = "telegram",
	.name = "Telegram",
	.flags = PROV_THREADS | PROV_IMAGES | PROV_VIDEO | PROV_DELETE | PROV_CREDENTIALS,
	.max_length = TG_TEXT_MAX,
	.editor = "html",
	.rules = "Text up to 4096 characters (1024 as the caption of media), counted after "
		 "formatting. Formatting: bold, italic, underline, strikethrough, links, code, "
		 "pre and quotes; paragraphs become line breaks and lists bullet lines. Up to 10 "
		 "media per item (photos and videos may share an album; documents only with "
		 "documents), each fetched and uploaded (photos up to 10 MB, other files up to "
		 "50 MB). Thread items are sent as replies to the previous message.",
	.credentials = fields,
	.settings_schema = NULL,
	.connect = tg_connect,
	.publish = tg_publish,
	.unpublish = tg_unpublish,
	.tools = tg_tools,
	.min_interval_ms = 1000,
	.verify = tg_verify,
};
