/*
 * discord: posts a message into one Discord channel, in one of two modes
 * chosen by the credentials:
 *   - webhook: {"webhook_url": "https://discord.com/api/webhooks/<id>/<token>"}
 *     (the URL is the secret; optional ?thread_id= posts into a thread).
 *     POST /webhooks/<id>/<token>?wait=true so that the message (and its id)
 *     comes back.  Webhooks cannot reply: thread items are follow-up
 *     messages in the same channel.
 *   - bot: {"token": "<bot token>", "channel": "<channel id>", "guild"?}
 *     POST /channels/<channel>/messages with "Authorization: Bot <token>";
 *     thread items reply to the previous item (message_reference).  The
 *     Postiz setting `channel` overrides the channel per post.
 * The API base is https://discord.com/api/v10, replaced as a whole by
 * HERALD_DISCORD_BASE_URL (both modes: a webhook URL keeps only its id and
 * token).  A webhook URL on a host that is not Discord's (a compatible
 * server) is used with that host's /api/v10.
 *
 * Text: Postiz stores HTML; Discord renders Markdown, so the content is
 * rewritten (bold **, italic *, underline __, strike ~~, code, code blocks,
 * [text](url) links, headings, "- " lists, "> " quotes; paragraphs become
 * line breaks).  Content without tags is sent verbatim.  2000 characters
 * after that rewrite; more is refused before anything is sent.
 * Media: each file is fetched (GET) and uploaded as multipart
 * (payload_json + files[n]); at most 10 per message.
 *
 * Errors: 429 (retry_after seconds in the body, Retry-After header) and
 * 5xx are retried; 401 is an auth failure (bot tokens and webhook URLs do
 * not refresh: the message says what to renew); other 4xx fail with
 * Discord's message and the first field error of an "Invalid Form Body".
 *
 * Invariants: nothing is sent in connect (shape checks only); the webhook
 * token never appears in log_url.  Idempotence: none (Discord has no
 * idempotency key for messages; the nonce+enforce_nonce pair only dedupes
 * for a few minutes and not for webhooks), so an ambiguous attempt
 * becomes `unconfirmed`.
 */
#include "provider.h"
#include "util.h"
#include "../core/arena.h"
#include "../http/client.h"

#include <ctype.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DC_BASE "https://discord.com/api/v10"
#define DC_TEXT_MAX 2000
#define DC_FILES_MAX 10
#define DC_FETCH_MAX (25u << 20) /* largest upload Discord takes (boosted servers) */
#define DC_UA "User-Agent: DiscordBot (herald, 0.1)"

static const struct provider_field fields[] = {
	{"webhook_url", "secret", 0,
	 "webhook mode: the channel's webhook URL (https://discord.com/api/webhooks/<id>/<token>)"},
	{"token", "secret", 0, "bot mode: the bot token (Developer Portal > Bot > Reset Token)"},
	{"channel", "string", 0, "bot mode: id of the channel to post in"},
	{"guild", "string", 0, "bot mode, optional: server id, for message links"},
	{NULL, NULL, 0, NULL},
};

struct media {
	const char *url, *alt, *name, *mime;
	const char *data;
	size_t len;
};

/* ---- small string builder (heap; copied into the arena when done) ---- */

/* ---- HTML tokenizer (Postiz content) ---- */

/* ---- Postiz HTML -> Discord Markdown ---- */

#define MD_DEPTH 32
#define MD_LISTS 8

struct md {
	struct arena *a;
	struct sb out;
	struct {
		char src[16];
		const char *close; /* marker written when the element ends */
		size_t start;      /* links: where the link text starts */
		const char *href;
	} st[MD_DEPTH];
	int depth;
	int list_n[MD_LISTS];
	int nlists;
	int skip, literal, quote;
	size_t prefix_end;
};

static int md_line_start(const struct md *v)
{
	return v->out.len == 0 || v->out.p[v->out.len - 1] == '\n' ||
	       (v->prefix_end && v->out.len == v->prefix_end);
}

static void md_nl(struct md *v)
{
	pv_sb_puts(&v->out, "\n");
}

static void md_ensure_line(struct md *v)
{
	if (!md_line_start(v))
		md_nl(v);
}

/* Text, with "> " at the start of each line inside a quote. */
static void md_put(struct md *v, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v->quote && (v->out.len == 0 || v->out.p[v->out.len - 1] == '\n') && s[i] != '\n')
			pv_sb_puts(&v->out, "> ");
		pv_sb_put(&v->out, s + i, 1);
	}
}

static int md_open(const struct md *v, const char *src)
{
	for (int i = 0; i < v->depth; i++)
		if (!strcmp(v->st[i].src, src))
			return 1;
	return 0;
}

static void md_push(struct md *v, const char *src, const char *open, const char *close,
		    const char *href)
{
	if (v->depth >= MD_DEPTH)
		return;
	if (open)
		md_put(v, open, strlen(open));
	snprintf(v->st[v->depth].src, sizeof(v->st[v->depth].src), "%s", src);
	v->st[v->depth].close = close;
	v->st[v->depth].start = v->out.len;
	v->st[v->depth].href = href;
	v->depth++;
}

static void md_close_one(struct md *v)
{
	v->depth--;
	const char *src = v->st[v->depth].src;
	if (v->st[v->depth].href) {
		size_t st = v->st[v->depth].start;
		char *text = v->out.p ? arena_strndup(v->a, v->out.p + st, v->out.len - st) : "";
		const char *href = v->st[v->depth].href;
		v->out.len = st;
		if (v->out.p)
			v->out.p[st] = 0;
		if (!*text || !strcmp(text, href)) {
			md_put(v, href, strlen(href));
		} else {
			md_put(v, "[", 1);
			md_put(v, text, strlen(text));
			md_put(v, "](", 2);
			md_put(v, href, strlen(href));
			md_put(v, ")", 1);
		}
		return;
	}
	if (!strcmp(src, "pre") || !strcmp(src, "code"))
		v->literal = 0;
	if (!strcmp(src, "blockquote")) {
		v->quote = 0;
		return;
	}
	if (!strcmp(src, "pre"))
		while (v->out.len && v->out.p[v->out.len - 1] == '\n')
			v->out.p[--v->out.len] = 0;
	if (v->st[v->depth].close)
		pv_sb_puts(&v->out, v->st[v->depth].close);
}

static int md_pop(struct md *v, const char *src)
{
	int i;
	for (i = v->depth - 1; i >= 0; i--)
		if (!strcmp(v->st[i].src, src))
			break;
	if (i < 0)
		return 0;
	while (v->depth > i)
		md_close_one(v);
	return 1;
}

static const char *md_marker(const char *n)
{
	static const char *const map[][2] = {
		{"b", "**"},  {"strong", "**"}, {"i", "*"},    {"em", "*"},   {"u", "__"},
		{"ins", "__"}, {"s", "~~"},      {"strike", "~~"}, {"del", "~~"}, {"code", "`"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i][0], n))
			return map[i][1];
	return NULL;
}

static void md_tag(struct md *v, const struct tag *t)
{
	const char *n = t->name;
	if (!strcmp(n, "script") || !strcmp(n, "style")) {
		v->skip += t->close ? (v->skip > 0 ? -1 : 0) : 1;
		return;
	}
	if (!strcmp(n, "br")) {
		md_nl(v);
		return;
	}
	if (!strcmp(n, "p") || !strcmp(n, "div") || !strcmp(n, "tr")) {
		if (t->close)
			md_nl(v);
		else
			md_ensure_line(v);
		return;
	}
	if (!strcmp(n, "ul") || !strcmp(n, "ol")) {
		if (t->close) {
			if (v->nlists > 0)
				v->nlists--;
		} else if (v->nlists < MD_LISTS) {
			v->list_n[v->nlists++] = !strcmp(n, "ol") ? 1 : 0;
		}
		md_ensure_line(v);
		return;
	}
	if (!strcmp(n, "li")) {
		md_ensure_line(v);
		if (t->close)
			return;
		for (int i = 1; i < v->nlists; i++)
			md_put(v, "  ", 2);
		if (v->nlists > 0 && v->list_n[v->nlists - 1] > 0) {
			char num[16];
			snprintf(num, sizeof(num), "%d. ", v->list_n[v->nlists - 1]++);
			md_put(v, num, strlen(num));
		} else {
			md_put(v, "- ", 2);
		}
		v->prefix_end = v->out.len;
		return;
	}
	if (n[0] == 'h' && n[1] >= '1' && n[1] <= '6' && !n[2]) {
		if (t->close) {
			if (md_pop(v, n))
				md_nl(v);
			return;
		}
		md_ensure_line(v);
		if (v->literal)
			return;
		static const char *const hp[] = {"# ", "## ", "### "};
		if (n[1] <= '3')
			md_push(v, n, hp[n[1] - '1'], NULL, NULL);
		else
			md_push(v, n, "**", "**", NULL);
		return;
	}
	if (!strcmp(n, "blockquote")) {
		if (t->close) {
			if (md_pop(v, n))
				md_ensure_line(v);
			return;
		}
		md_ensure_line(v);
		if (!v->literal && !v->quote) {
			md_push(v, n, NULL, NULL, NULL);
			v->quote = 1;
		}
		return;
	}
	if (!strcmp(n, "pre")) {
		if (t->close) {
			if (md_pop(v, n))
				md_nl(v);
			return;
		}
		md_ensure_line(v);
		if (!v->literal) {
			md_push(v, n, "```\n", "\n```", NULL);
			v->literal = 1;
		}
		return;
	}
	if (!strcmp(n, "a")) {
		if (t->close) {
			md_pop(v, "a");
			return;
		}
		char *href = pv_attr_get(v->a, t, "href");
		if (!v->literal && href && *href && !md_open(v, "a"))
			md_push(v, "a", NULL, NULL, href);
		return;
	}
	const char *mk = md_marker(n);
	if (!mk)
		return;
	if (t->close) {
		md_pop(v, n);
	} else if (!v->literal) {
		md_push(v, n, mk, mk, NULL);
		if (!strcmp(n, "code"))
			v->literal = 1;
	}
}

static void md_text(struct md *v, const char *s, size_t n)
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
	if (!(ws_only && nl && !md_open(v, "pre")))
		md_put(v, d.p ? d.p : "", d.len);
	free(d.p);
}

static char *to_markdown(struct arena *a, const char *html)
{
	struct md v = {.a = a};
	const char *p = html;
	while (*p) {
		const char *lt = strchr(p, '<');
		struct tag t;
		const char *end = NULL;
		while (lt && !(end = pv_parse_tag(lt, &t)))
			lt = strchr(lt + 1, '<');
		if (!lt) {
			md_text(&v, p, strlen(p));
			break;
		}
		if (lt > p)
			md_text(&v, p, (size_t)(lt - p));
		if (strcmp(t.name, "!"))
			md_tag(&v, &t);
		p = end;
	}
	while (v.depth > 0)
		md_close_one(&v);
	while (v.out.len && (v.out.p[v.out.len - 1] == '\n' || v.out.p[v.out.len - 1] == ' '))
		v.out.p[--v.out.len] = 0;
	size_t lead = 0;
	while (lead < v.out.len && v.out.p[lead] == '\n')
		lead++;
	char *r = pv_sb_done(&v.out, a);
	return r + lead;
}

/* ---- media ---- */

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

/* ---- credentials ---- */

struct dcred {
	int webhook;
	const char *wid, *wtoken, *thread, *origin; /* webhook mode */
	int discord_host;
	const char *token, *channel, *guild;        /* bot mode */
};

static int snowflake_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 5 || n > 25)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int b64url_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return n > 0;
}

/* Three base64url segments: id.timestamp.hmac. */
static int bot_token_ok(const char *t)
{
	if (strlen(t) < 30 || strlen(t) > 200)
		return 0;
	const char *d1 = strchr(t, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return 0;
	return b64url_run(t, (size_t)(d1 - t)) && b64url_run(d1 + 1, (size_t)(d2 - d1 - 1)) &&
	       b64url_run(d2 + 1, strlen(d2 + 1));
}

/* http(s)://host/api[/vN]/webhooks/<id>/<token>[?thread_id=<id>] */
static const char *parse_webhook(struct arena *a, const char *u, struct dcred *o)
{
	const char *rest;
	if (!strncasecmp(u, "https://", 8))
		rest = u + 8;
	else if (!strncasecmp(u, "http://", 7))
		rest = u + 7;
	else
		return "credentials.webhook_url must be an https:// URL";
	if (strlen(u) > 1000)
		return "credentials.webhook_url is too long";
	size_t hl = strcspn(rest, "/?#");
	if (!hl || rest[hl] != '/')
		return "credentials.webhook_url has no host or path";
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return "credentials.webhook_url contains spaces or control characters";
	char *host = arena_strndup(a, rest, hl);
	for (char *p = host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	static const char *const known[] = {"discord.com",        "discordapp.com",
					    "ptb.discord.com",    "canary.discord.com",
					    "ptb.discordapp.com", "canary.discordapp.com"};
	o->discord_host = 0;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(host, known[i]))
			o->discord_host = 1;
	o->origin = arena_strndup(a, u, (size_t)(rest - u) + hl);
	const char *p = rest + hl;
	if (strncmp(p, "/api/", 5))
		return "credentials.webhook_url must look like https://discord.com/api/webhooks/<id>/<token>";
	p += 5;
	if (*p == 'v' && isdigit((unsigned char)p[1])) {
		p++;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p++ != '/')
			return "credentials.webhook_url must look like https://discord.com/api/webhooks/<id>/<token>";
	}
	if (strncmp(p, "webhooks/", 9))
		return "credentials.webhook_url must look like https://discord.com/api/webhooks/<id>/<token>";
	p += 9;
	size_t il = strspn(p, "0123456789");
	if (il < 5 || il > 25 || p[il] != '/')
		return "credentials.webhook_url: the webhook id must be a number";
	o->wid = arena_strndup(a, p, il);
	p += il + 1;
	size_t tl = strcspn(p, "/?#");
	if (!b64url_run(p, tl) || tl > 200)
		return "credentials.webhook_url: the webhook token is missing or malformed";
	o->wtoken = arena_strndup(a, p, tl);
	p += tl;
	if (*p == '/')
		p++;
	o->thread = NULL;
	if (*p == '?') {
		const char *q = strstr(p, "thread_id=");
		if (q && (q[-1] == '?' || q[-1] == '&')) {
			size_t n = strspn(q + 10, "0123456789");
			if (n < 5 || n > 25)
				return "credentials.webhook_url: thread_id must be a channel id";
			o->thread = arena_strndup(a, q + 10, n);
		}
	} else if (*p && *p != '#') {
		return "credentials.webhook_url must look like https://discord.com/api/webhooks/<id>/<token>";
	}
	o->webhook = 1;
	return NULL;
}

static const char *str_or_num(struct arena *a, json_t *v)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		return arena_printf(a, "%lld", (long long)json_integer_value(v));
	return NULL;
}

/* Reads and checks credentials; NULL or the reason they are unusable. */
static const char *read_cred(struct arena *a, json_t *cred, struct dcred *o)
{
	memset(o, 0, sizeof(*o));
	json_t *wh = json_object_get(cred, "webhook_url");
	json_t *tok = json_object_get(cred, "token");
	if (wh && tok)
		return "give either credentials.webhook_url (webhook mode) or credentials.token and "
		       "credentials.channel (bot mode), not both";
	if (wh) {
		if (!json_is_string(wh))
			return "credentials.webhook_url must be a string";
		return parse_webhook(a, json_string_value(wh), o);
	}
	if (!tok)
		return "credentials need webhook_url (webhook mode) or token and channel (bot mode)";
	if (!json_is_string(tok))
		return "credentials.token must be a string";
	const char *t = json_string_value(tok);
	if (!strncasecmp(t, "Bot ", 4))
		t += 4;
	if (!bot_token_ok(t))
		return "credentials.token must be a Discord bot token (three dot-separated parts, "
		       "from the Developer Portal)";
	o->token = t;
	o->channel = str_or_num(a, json_object_get(cred, "channel"));
	if (!o->channel || !snowflake_ok(o->channel))
		return "credentials.channel must be the id of the channel to post in (a number; "
		       "Developer Mode > Copy Channel ID)";
	json_t *g = json_object_get(cred, "guild");
	if (g) {
		o->guild = str_or_num(a, g);
		if (!o->guild || !snowflake_ok(o->guild))
			return "credentials.guild must be the server id (a number)";
	}
	return NULL;
}

static int dc_connect(struct arena *a, json_t *cred, const char **profile, const char **err)
{
	struct dcred d;
	const char *bad = read_cred(a, cred, &d);
	if (bad) {
		*err = bad;
		return -1;
	}
	if (d.webhook) {
		*profile = arena_printf(a, "webhook %s", d.wid);
		return 0;
	}
	/* store one representation (copies first: the old values are freed) */
	d.token = arena_strdup(a, d.token);
	d.channel = arena_strdup(a, d.channel);
	d.guild = arena_strdup(a, d.guild);
	json_object_set_new(cred, "token", json_string(d.token));
	json_object_set_new(cred, "channel", json_string(d.channel));
	if (d.guild)
		json_object_set_new(cred, "guild", json_string(d.guild));
	*profile = arena_printf(a, "channel %s", d.channel);
	return 0;
}

/* ---- publish ---- */

enum { PH_FETCH = 1, PH_SEND };

struct dc {
	int phase;
	struct dcred d;
	const char *url, *log_url;
	const char *text;
	const char *reply_to;
	struct media *m;
	size_t nm, cur;
};

static void fetch_req(struct pub_ctx *c, struct dc *s)
{
	c->req.method = "GET";
	c->req.url = s->m[s->cur].url;
	c->req.safe = 1; /* fetching our own media changes nothing on the platform */
	c->req.user_url = 1;
	c->req.log_url = pv_strip_query(c->a, s->m[s->cur].url);
	c->req.max_response = DC_FETCH_MAX;
	c->req.timeout_ms = 60000;
	c->req.headers[0] = NULL;
}

static enum pub_status fetched(struct pub_ctx *c, struct dc *s, const struct hresp *r)
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
	return PUB_SEND;
}

static void build_send(struct pub_ctx *c, struct dc *s)
{
	json_t *b = json_object();
	if (*s->text || !s->nm)
		json_object_set_new(b, "content", json_string(s->text));
	if (s->reply_to)
		json_object_set_new(b, "message_reference", json_pack("{s:s}", "message_id", s->reply_to));
	c->req.method = "POST";
	c->req.url = s->url;
	c->req.log_url = s->log_url;
	c->req.timeout_ms = s->nm ? 120000 : 20000;
	int h = 0;
	c->req.headers[h++] = DC_UA;
	if (!s->d.webhook)
		c->req.headers[h++] = arena_printf(c->a, "Authorization: Bot %s", s->d.token);
	if (!s->nm) {
		char *body = json_dumps(b, JSON_COMPACT);
		json_decref(b);
		c->req.body = arena_strdup(c->a, body);
		c->req.body_len = strlen(body);
		free(body);
		c->req.headers[h++] = "Content-Type: application/json";
		c->req.headers[h] = NULL;
		return;
	}
	json_t *att = json_array();
	for (size_t i = 0; i < s->nm; i++) {
		json_t *o = json_pack("{s:I,s:s}", "id", (json_int_t)i, "filename", s->m[i].name);
		if (s->m[i].alt && *s->m[i].alt)
			json_object_set_new(o, "description", json_string(s->m[i].alt));
		json_array_append_new(att, o);
	}
	json_object_set_new(b, "attachments", att);
	char *payload = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	struct mp m;
	mp_begin(&m);
	pv_sb_puts(&m.b, "--");
	pv_sb_puts(&m.b, m.boundary);
	pv_sb_puts(&m.b, "\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n"
		      "Content-Type: application/json\r\n\r\n");
	pv_sb_puts(&m.b, payload);
	pv_sb_puts(&m.b, "\r\n");
	free(payload);
	for (size_t i = 0; i < s->nm; i++)
		mp_file(&m, arena_printf(c->a, "files[%zu]", i), &s->m[i]);
	mp_finish(&m, c, h);
}

/* "content: Must be 2000 or fewer in length." from a nested errors object. */
static const char *first_field_error(struct arena *a, json_t *e, const char *path, int depth)
{
	if (!json_is_object(e) || depth > 8)
		return NULL;
	json_t *list = json_object_get(e, "_errors");
	if (json_is_array(list)) {
		const char *msg = json_string_value(json_object_get(json_array_get(list, 0), "message"));
		if (msg)
			return path && *path ? arena_printf(a, "%s: %s", path, msg) : msg;
	}
	const char *k;
	json_t *v;
	json_object_foreach(e, k, v)
	{
		if (!strcmp(k, "_errors"))
			continue;
		const char *sub = path && *path ? arena_printf(a, "%s.%s", path, k) : k;
		const char *r = first_field_error(a, v, sub, depth + 1);
		if (r)
			return r;
	}
	return NULL;
}

static enum pub_status answer(struct pub_ctx *c, struct dc *s, const struct hresp *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	if (j)
		arena_defer(c->a, pv_free_json, j);
	long st = r->status;
	if (st >= 200 && st < 300) {
		const char *id = json_string_value(json_object_get(j, "id"));
		if (!id) {
			/* 204 (no wait) or an unexpected body: it is posted, id unknown */
			c->release_id = c->item_id;
			return PUB_OK;
		}
		c->release_id = arena_strdup(c->a, id);
		const char *ch = json_string_value(json_object_get(j, "channel_id"));
		const char *g = json_string_value(json_object_get(j, "guild_id"));
		if (!g)
			g = s->d.guild;
		if (ch && g)
			c->release_url =
				arena_printf(c->a, "https://discord.com/channels/%s/%s/%s", g, ch, id);
		return PUB_OK;
	}
	const char *msg = json_string_value(json_object_get(j, "message"));
	json_t *code = json_object_get(j, "code");
	const char *detail = first_field_error(c->a, json_object_get(j, "errors"), "", 0);
	const char *what;
	if (msg)
		what = arena_printf(c->a, "%s%s%s%s", msg,
				    json_is_integer(code) ? arena_printf(c->a, " (code %lld)",
									 (long long)json_integer_value(code))
							  : "",
				    detail ? ": " : "", detail ? detail : "");
	else
		what = r->body_len ? arena_printf(c->a, "%.300s", r->body) : "(empty body)";
	if (st == 429) {
		json_t *ra = json_object_get(j, "retry_after");
		int64_t ms = json_is_number(ra) ? (int64_t)ceil(json_number_value(ra) * 1000) : 0;
		int64_t h = pub_retry_after(r);
		c->retry_after_ms = ms > h ? ms : h;
		c->error = arena_printf(c->a, "Discord rate limit%s (HTTP 429): %s",
					json_is_true(json_object_get(j, "global")) ? " (global)" : "", what);
		return PUB_RETRY;
	}
	if (st >= 500 || st == 408) {
		c->retry_after_ms = pub_retry_after(r);
		c->error = arena_printf(c->a, "Discord answered HTTP %ld: %s", st, what);
		return PUB_RETRY;
	}
	if (st == 401) {
		c->error = s->d.webhook
				   ? arena_printf(c->a,
						  "Discord refused the webhook URL (HTTP 401: %s); webhook "
						  "URLs do not expire: create a new webhook and reconnect",
						  what)
				   : arena_printf(c->a,
						  "Discord refused the bot token (HTTP 401: %s); bot tokens "
						  "do not expire or refresh: reset the token in the Developer "
						  "Portal and reconnect the channel",
						  what);
		return PUB_AUTH_EXPIRED;
	}
	long cv = json_is_integer(code) ? (long)json_integer_value(code) : 0;
	if (cv == 10015)
		c->error = arena_printf(c->a,
					"Discord: the webhook no longer exists (HTTP %ld: %s); create a "
					"new webhook and reconnect",
					st, what);
	else if (st == 403)
		c->error = arena_printf(c->a,
					"Discord refused the message (HTTP 403: %s); the bot needs View "
					"Channel and Send Messages (and Attach Files for media) there",
					what);
	else
		c->error = arena_printf(c->a, "Discord refused the message (HTTP %ld): %s", st, what);
	return PUB_FAILED;
}

static enum pub_status dc_start(struct pub_ctx *c)
{
	struct dc *s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	const char *bad = read_cred(c->a, c->credentials, &s->d);
	if (bad) {
		c->error = arena_printf(c->a, "the channel's credentials are unusable (%s); reconnect it",
					bad);
		return PUB_FAILED;
	}
	const char *base = c->base_url && *c->base_url ? c->base_url : NULL;
	if (!base)
		base = s->d.webhook && !s->d.discord_host ? arena_printf(c->a, "%s/api/v10", s->d.origin)
							   : DC_BASE;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	base = arena_strndup(c->a, base, bl);
	if (s->d.webhook) {
		const char *tail = s->d.thread ? arena_printf(c->a, "?wait=true&thread_id=%s", s->d.thread)
					       : "?wait=true";
		s->url = arena_printf(c->a, "%s/webhooks/%s/%s%s", base, s->d.wid, s->d.wtoken, tail);
		s->log_url = arena_printf(c->a, "%s/webhooks/%s/***%s", base, s->d.wid, tail);
	} else {
		json_t *sc = json_object_get(c->settings, "channel");
		const char *ch = str_or_num(c->a, sc);
		if (sc && !json_is_null(sc) && !(ch && !*ch)) {
			if (!ch || !snowflake_ok(ch)) {
				c->error = "settings.channel must be a Discord channel id (a number)";
				return PUB_FAILED;
			}
			s->d.channel = ch;
		}
		s->url = arena_printf(c->a, "%s/channels/%s/messages", base, s->d.channel);
		s->log_url = s->url;
		if (c->parent_release_id && snowflake_ok(c->parent_release_id))
			s->reply_to = c->parent_release_id;
	}
	const char *content = c->content ? c->content : "";
	s->text = pv_has_tags(content) ? to_markdown(c->a, content) : content;
	size_t len = pv_u16len(s->text, strlen(s->text));
	if (len > DC_TEXT_MAX) {
		c->error = arena_printf(c->a,
					"discord.text.max_length: the message is %zu characters after "
					"formatting; Discord allows %d",
					len, DC_TEXT_MAX);
		return PUB_FAILED;
	}
	size_t nm = json_array_size(c->media);
	if (nm > DC_FILES_MAX) {
		c->error = arena_printf(c->a,
					"discord.media.max_count: %zu files in one message; Discord "
					"allows %d",
					nm, DC_FILES_MAX);
		return PUB_FAILED;
	}
	if (!nm && !len) {
		c->error = "nothing to send: the text is empty after formatting and there is no media";
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
		s->m[i].url = u;
		s->m[i].alt = json_string_value(json_object_get(it, "alt"));
	}
	s->nm = nm;
	if (nm) {
		s->phase = PH_FETCH;
		fetch_req(c, s);
		return PUB_SEND;
	}
	s->phase = PH_SEND;
	build_send(c, s);
	return PUB_SEND;
}

static enum pub_status dc_publish(struct pub_ctx *c, const struct hresp *prev)
{
	if (!prev)
		return dc_start(c);
	struct dc *s = c->state;
	if (s->phase == PH_FETCH) {
		enum pub_status st = fetched(c, s, prev);
		if (st != PUB_SEND)
			return st;
		if (++s->cur < s->nm) {
			fetch_req(c, s);
			return PUB_SEND;
		}
		s->phase = PH_SEND;
		build_send(c, s);
		return PUB_SEND;
	}
	return answer(c, s, prev);
}

/* Unpublish: webhook mode DELETE /webhooks/<id>/<token>/messages/<msg>
 * (with ?thread_id= when the webhook posts into a thread); bot mode
 * DELETE /channels/<channel>/messages/<msg> with the channel read from the
 * message's URL (or the setting / connected channel).  204 is done;
 * 404 code 10008 "Unknown Message" is done too (already gone).  Other
 * answers are classified like publishing's. */
static enum pub_status dc_unpublish(struct pub_ctx *c, const struct hresp *r)
{
	if (r) {
		if (r->status >= 200 && r->status < 300)
			return PUB_OK;
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		long code = json_is_integer(json_object_get(j, "code"))
				    ? (long)json_integer_value(json_object_get(j, "code"))
				    : 0;
		json_decref(j);
		if (r->status == 404 && code == 10008)
			return PUB_OK;
		enum pub_status st = answer(c, c->state, r);
		if (st == PUB_FAILED)
			c->error = arena_printf(c->a, "%s (deleting message %s)", c->error, c->release_id);
		return st;
	}
	struct dc *s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	const char *bad = read_cred(c->a, c->credentials, &s->d);
	if (bad) {
		c->error = arena_printf(c->a, "the channel's credentials are unusable (%s); reconnect it",
					bad);
		return PUB_FAILED;
	}
	if (!c->release_id || !snowflake_ok(c->release_id)) {
		c->error = "Discord did not say the message's id when it was posted (a webhook without "
			   "?wait=true), so herald cannot delete it; delete it in Discord";
		return PUB_FAILED;
	}
	const char *base = c->base_url && *c->base_url ? c->base_url : NULL;
	if (!base)
		base = s->d.webhook && !s->d.discord_host ? arena_printf(c->a, "%s/api/v10", s->d.origin)
							   : DC_BASE;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	base = arena_strndup(c->a, base, bl);
	int h = 0;
	c->req.headers[h++] = DC_UA;
	if (s->d.webhook) {
		const char *tail = s->d.thread ? arena_printf(c->a, "?thread_id=%s", s->d.thread) : "";
		c->req.url = arena_printf(c->a, "%s/webhooks/%s/%s/messages/%s%s", base, s->d.wid,
					  s->d.wtoken, c->release_id, tail);
		c->req.log_url = arena_printf(c->a, "%s/webhooks/%s/***/messages/%s%s", base, s->d.wid,
					      c->release_id, tail);
	} else {
		/* the channel it was posted in: .../channels/<guild>/<channel>/<id> */
		const char *ch = NULL;
		const char *u = c->release_url;
		const char *pfx = "https://discord.com/channels/";
		if (u && !strncmp(u, pfx, strlen(pfx))) {
			const char *g = u + strlen(pfx), *s1 = strchr(g, '/');
			const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
			if (s2 && !strcmp(s2 + 1, c->release_id)) {
				ch = arena_strndup(c->a, s1 + 1, (size_t)(s2 - s1 - 1));
				if (!snowflake_ok(ch))
					ch = NULL;
			}
		}
		if (!ch) {
			const char *sc = str_or_num(c->a, json_object_get(c->settings, "channel"));
			ch = sc && snowflake_ok(sc) ? sc : s->d.channel;
		}
		c->req.url = arena_printf(c->a, "%s/channels/%s/messages/%s", base, ch, c->release_id);
		c->req.headers[h++] = arena_printf(c->a, "Authorization: Bot %s", s->d.token);
	}
	c->req.headers[h] = NULL;
	c->req.method = "DELETE";
	c->req.timeout_ms = 20000;
	return PUB_SEND;
}

/* Tool "channels" (bot channels): GET /guilds/<guild>/channels with the
 * bot token; the guild is data.guild or the connected one.  Output
 * [{id, name, type}] of the channels a message can go to (text 0,
 * announcement 5, forum 15, media 16).  Webhook channels have one fixed
 * channel and no token that may list a guild: refused with that reason. */
static enum pub_status dc_tool_channels(struct pub_ctx *c, const struct hresp *r)
{
	if (r) {
		if (r->status < 200 || r->status >= 300)
			return answer(c, c->state, r);
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		if (!json_is_array(j)) {
			json_decref(j);
			c->error = "Discord answered the channel list with something that is not a list";
			return PUB_RETRY;
		}
		json_t *out = json_array();
		arena_defer(c->a, pv_free_json, out);
		size_t i;
		json_t *ch;
		json_array_foreach(j, i, ch)
		{
			const char *id = json_string_value(json_object_get(ch, "id"));
			const char *name = json_string_value(json_object_get(ch, "name"));
			json_t *ty = json_object_get(ch, "type");
			long type = json_is_integer(ty) ? (long)json_integer_value(ty) : -1;
			if (id && name && (type == 0 || type == 5 || type == 15 || type == 16))
				json_array_append_new(out, json_pack("{s:s,s:s,s:I}", "id", id, "name",
								     name, "type", (json_int_t)type));
		}
		json_decref(j);
		c->output = out;
		return PUB_OK;
	}
	struct dc *s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	const char *bad = read_cred(c->a, c->credentials, &s->d);
	if (bad) {
		c->error = arena_printf(c->a, "the channel's credentials are unusable (%s); reconnect it",
					bad);
		return PUB_FAILED;
	}
	if (s->d.webhook) {
		c->error = "a webhook channel posts into one fixed channel and cannot list a server's "
			   "channels; connect with a bot token for this tool";
		return PUB_FAILED;
	}
	const char *guild = str_or_num(c->a, json_object_get(c->data, "guild"));
	if (!guild || !*guild)
		guild = s->d.guild;
	if (!guild || !snowflake_ok(guild)) {
		c->error = "data.guild must be the server (guild) id: the channel was connected without one";
		return PUB_FAILED;
	}
	const char *base = c->base_url && *c->base_url ? c->base_url : DC_BASE;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	c->req.method = "GET";
	c->req.url = arena_printf(c->a, "%.*s/guilds/%s/channels", (int)bl, base, guild);
	c->req.safe = 1;
	c->req.timeout_ms = 20000;
	c->req.headers[0] = DC_UA;
	c->req.headers[1] = arena_printf(c->a, "Authorization: Bot %s", s->d.token);
	c->req.headers[2] = NULL;
	return PUB_SEND;
}

/* Verify.  Webhook mode: GET the webhook URL itself (no auth header: the
 * token is in the URL), which answers the webhook object {id, type,
 * guild_id, channel_id, name, ...}; 401 or 404 (Unknown Webhook, 10015)
 * means the URL is dead.  Bot mode: GET /channels/{channel} with
 * `Authorization: Bot <token>`: 401 is the token, 403 (Missing Access) and
 * 404 (Unknown Channel) the channel.  The server id a bot channel answers
 * is kept (credentials.guild) for message links when none was given. */
static enum pub_status dc_verify(struct pub_ctx *c, const struct hresp *r)
{
	struct dc *s = c->state;
	if (!r) {
		s = arena_alloc(c->a, sizeof(*s));
		c->state = s;
		const char *bad = read_cred(c->a, c->credentials, &s->d);
		if (bad) {
			c->error = bad;
			c->error_field = "credentials";
			return PUB_FAILED;
		}
		const char *base = c->base_url && *c->base_url ? c->base_url : NULL;
		if (!base)
			base = s->d.webhook && !s->d.discord_host
				       ? arena_printf(c->a, "%s/api/v10", s->d.origin)
				       : DC_BASE;
		size_t bl = strlen(base);
		while (bl && base[bl - 1] == '/')
			bl--;
		c->req.method = "GET";
		c->req.safe = 1;
		c->req.timeout_ms = 20000;
		c->req.headers[0] = DC_UA;
		if (s->d.webhook) {
			c->req.url = arena_printf(c->a, "%.*s/webhooks/%s/%s", (int)bl, base, s->d.wid,
						  s->d.wtoken);
			c->req.log_url = arena_printf(c->a, "%.*s/webhooks/%s/***", (int)bl, base, s->d.wid);
			c->req.headers[1] = NULL;
		} else {
			c->req.url = arena_printf(c->a, "%.*s/channels/%s", (int)bl, base, s->d.channel);
			c->req.headers[1] = arena_printf(c->a, "Authorization: Bot %s", s->d.token);
			c->req.headers[2] = NULL;
		}
		return PUB_SEND;
	}
	long st = r->status;
	if (st < 200 || st >= 300) {
		enum pub_status ps = answer(c, s, r);
		if (ps == PUB_RETRY)
			return ps;
		json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
		const char *msg = json_string_value(json_object_get(j, "message"));
		const char *what = arena_printf(c->a, "HTTP %ld: %s", st,
						msg ? msg : r->body_len ? arena_printf(c->a, "%.300s", r->body)
									: "(empty body)");
		json_decref(j);
		if (s->d.webhook) {
			c->error = arena_printf(c->a,
						"Discord does not know this webhook (%s); copy the URL "
						"again from the channel's Integrations > Webhooks",
						what);
			c->error_field = "credentials.webhook_url";
		} else if (st == 401) {
			c->error = arena_printf(c->a,
						"Discord refused the bot token (%s); reset it in the "
						"Developer Portal (Bot > Reset Token)",
						what);
			c->error_field = "credentials.token";
		} else {
			c->error = arena_printf(c->a,
						"the bot cannot see channel %s (%s); invite the bot to the "
						"server and give it View Channel and Send Messages there",
						s->d.channel, what);
			c->error_field = "credentials.channel";
		}
		return PUB_FAILED;
	}
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		c->error = "Discord answered with something that is not an object";
		return PUB_RETRY;
	}
	arena_defer(c->a, pv_free_json, j);
	json_t *out = json_object();
	arena_defer(c->a, pv_free_json, out);
	static const char *const keep[] = {"id", "type", "guild_id", "channel_id", "name", NULL};
	for (int k = 0; keep[k]; k++) {
		json_t *v = json_object_get(j, keep[k]);
		if (v && !json_is_null(v))
			json_object_set(out, keep[k], v);
	}
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *guild = json_string_value(json_object_get(j, "guild_id"));
	if (s->d.webhook) {
		json_object_set_new(out, "profile",
				    json_string(name ? arena_printf(c->a, "webhook %s", name)
						     : arena_printf(c->a, "webhook %s", s->d.wid)));
	} else {
		json_object_set_new(out, "profile",
				    json_string(name ? arena_printf(c->a, "#%s", name)
						     : arena_printf(c->a, "channel %s", s->d.channel)));
		if (!s->d.guild && guild && snowflake_ok(guild)) {
			json_object_set_new(c->credentials, "guild", json_string(guild));
			c->credentials_changed = 1;
		}
	}
	if (name)
		json_object_set_new(out, "name", json_string(name));
	c->output = out;
	return PUB_OK;
}

static const struct provider_tool dc_tools[] = {
	{"channels", "text, announcement and forum channels of the bot's server: ids for the channel setting",
	 "[{\"key\":\"guild\",\"type\":\"string\",\"description\":\"server id (default: the connected one)\"}]",
	 dc_tool_channels},
	{NULL, NULL, NULL, NULL},
};

const struct provider provider_discord = {
	.api_version = "Discord API v10",
	.api_sunset = NULL,
	.identifier = "discord",
	.name = "Discord",
	.flags = PROV_THREADS | PROV_IMAGES | PROV_VIDEO | PROV_DELETE | PROV_CREDENTIALS,
	.max_length = DC_TEXT_MAX,
	.editor = "markdown",
	.rules = "Messages up to 2000 characters after formatting (Markdown: bold, italic, "
		 "underline, strikethrough, code, links, headings, lists, quotes). Up to 10 files "
		 "per message, each fetched and uploaded (25 MB at most; servers without boosts "
		 "take 10 MB). Webhook channels post thread items as follow-up messages; bot "
		 "channels post them as replies. The channel setting (bot mode) overrides the "
		 "connected channel.",
	.credentials = fields,
	.settings_schema =
		"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
		"\"properties\":{\"channel\":{\"type\":\"string\",\"pattern\":\"^[0-9]{5,25}$\","
		"\"description\":\"Channel id to post in (bot channels; overrides the connected "
		"channel, ignored by webhook channels)\"}},\"additionalProperties\":true}",
	.connect = dc_connect,
	.publish = dc_publish,
	.unpublish = dc_unpublish,
	.tools = dc_tools,
	.min_interval_ms = 1000,
	.verify = dc_verify,
};
