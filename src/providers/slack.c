/*
 * slack: posts into one Slack channel with a bot (or user) token through
 * the Web API (https://slack.com/api/<method>, replaced as a whole by
 * HERALD_SLACK_BASE_URL).  Credentials: {"token": "xoxb-...", "channel":
 * "C0123456789", "workspace"?: "acme" (for message links)}.  The Postiz
 * setting `channel` overrides the channel per post.
 *
 * One thread item is one message:
 *   - text only: chat.postMessage {channel, text[, thread_ts]};
 *   - with media, per file: GET the bytes, files.getUploadURLExternal
 *     (filename, length), POST the raw bytes to the returned upload_url;
 *     then one files.completeUploadExternal {files, channel_id,
 *     initial_comment = the text[, thread_ts]} shares them as one message.
 * Thread items go into the root's thread: thread_ts is always the ROOT
 * item's ts (Slack threads are one level deep), never a reply's.
 *
 * Text: Postiz HTML is rewritten to Slack mrkdwn (*bold*, _italic_,
 * ~strike~, `code`, ``` blocks, <url|text> links, "• " lists, "> " quotes,
 * paragraphs as line breaks) with &, < and > escaped as Slack requires.
 * Content without tags is sent as is (escaped).  40,000 characters at most.
 *
 * Errors: Slack answers most failures with HTTP 200 and {"ok":false,
 * "error":"..."}, so every answer's `ok` is checked.  ratelimited (also
 * HTTP 429 with Retry-After), service_unavailable and 5xx are retried;
 * invalid_auth, not_authed, token_revoked, token_expired and
 * account_inactive are auth failures (no refresh: the engine fails the post
 * with "platform_auth_failed:"); internal_error and fatal_error on the call
 * that posts are reported `unconfirmed` (Slack documents that "some aspect
 * of the operation" may have succeeded); everything else (channel_not_found,
 * not_in_channel, msg_too_long, missing_scope...) fails with Slack's code
 * and a hint.
 *
 * Invariants: nothing is sent in connect (shape checks only); the token
 * goes only to the API base in an Authorization header, never to the
 * upload URL.  Idempotence: none (chat.postMessage has no idempotency
 * key), so an ambiguous attempt becomes `unconfirmed`.  The release id is
 * the message ts; for a file message whose share is not reported yet it is
 * the first file's id, and its permalink is the release URL.
 */
#include "provider.h"
#include "util.h"
#include "../core/arena.h"
#include "../http/client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SL_BASE "https://slack.com/api"
#define SL_TEXT_MAX 40000
#define SL_FILES_MAX 10
#define SL_FETCH_MAX (50u << 20)

static const struct provider_field fields[] = {
	{"token", "secret", 1, "bot token (xoxb-...) with chat:write and files:write"},
	{"channel", "string", 1, "channel id (C..., G... or D...; channel details > About)"},
	{"workspace", "string", 0, "workspace domain (acme or acme.slack.com), for message links"},
	{NULL, NULL, 0, NULL},
};

struct media {
	const char *url, *alt, *name, *mime;
	const char *data;
	size_t len;
	const char *file_id, *upload_url;
};

/* ---- small string builder (heap; copied into the arena when done) ---- */

/* ---- HTML tokenizer (Postiz content) ---- */

/* ---- Postiz HTML -> Slack mrkdwn ---- */

#define MD_DEPTH 32
#define MD_LISTS 8

struct md {
	struct arena *a;
	struct sb out;
	struct {
		char src[16];
		const char *close;
		size_t start;
		const char *href; /* escaped */
	} st[MD_DEPTH];
	int depth;
	int list_n[MD_LISTS];
	int nlists;
	int skip, literal, quote;
	size_t prefix_end;
};

/* Slack's three control characters. */
static void esc_put(struct sb *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '&')
			pv_sb_puts(b, "&amp;");
		else if (s[i] == '<')
			pv_sb_puts(b, "&lt;");
		else if (s[i] == '>')
			pv_sb_puts(b, "&gt;");
		else
			pv_sb_put(b, s + i, 1);
	}
}

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

/* Already-escaped output, with "> " at the start of lines inside a quote. */
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
		md_put(v, "<", 1);
		md_put(v, href, strlen(href));
		if (*text && strcmp(text, href)) {
			md_put(v, "|", 1);
			md_put(v, text, strlen(text));
		}
		md_put(v, ">", 1);
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
		{"b", "*"},   {"strong", "*"}, {"i", "_"},   {"em", "_"},   {"s", "~"},
		{"strike", "~"}, {"del", "~"},   {"code", "`"},
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
			md_put(v, "    ", 4);
		if (v->nlists > 0 && v->list_n[v->nlists - 1] > 0) {
			char num[16];
			snprintf(num, sizeof(num), "%d. ", v->list_n[v->nlists - 1]++);
			md_put(v, num, strlen(num));
		} else {
			md_put(v, "\xe2\x80\xa2 ", 4);
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
		if (!v->literal)
			md_push(v, n, "*", "*", NULL);
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
		if (!v->literal && href && *href && !md_open(v, "a")) {
			struct sb e = {0};
			esc_put(&e, href, strlen(href));
			md_push(v, "a", NULL, NULL, pv_sb_done(&e, v->a));
		}
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
	struct sb d = {0}, e = {0};
	pv_decode_entities(&d, s, n);
	int ws_only = 1, nl = 0;
	for (size_t i = 0; i < d.len; i++) {
		if (d.p[i] == '\n' || d.p[i] == '\r')
			nl = 1;
		else if (!isspace((unsigned char)d.p[i]))
			ws_only = 0;
	}
	if (!(ws_only && nl && !md_open(v, "pre"))) {
		esc_put(&e, d.p ? d.p : "", d.len);
		md_put(v, e.p ? e.p : "", e.len);
	}
	free(d.p);
	free(e.p);
}

static char *to_mrkdwn(struct arena *a, const char *html)
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

/* Plain content: only the control characters are escaped. */
static char *plain_text(struct arena *a, const char *s)
{
	struct sb e = {0};
	esc_put(&e, s, strlen(s));
	return pv_sb_done(&e, a);
}

/* ---- media ---- */

/* ---- credentials ---- */

static int token_ok(const char *t)
{
	static const char *const pre[] = {"xoxb-", "xoxp-", "xoxe.xoxb-", "xoxe.xoxp-"};
	size_t i;
	for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (!strncmp(t, pre[i], strlen(pre[i])))
			break;
	if (i == sizeof(pre) / sizeof(pre[0]))
		return 0;
	const char *p = t + strlen(pre[i]);
	if (strlen(p) < 10 || strlen(t) > 500)
		return 0;
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
	return 1;
}

static int channel_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 7 || n > 24 || (s[0] != 'C' && s[0] != 'G' && s[0] != 'D'))
		return 0;
	for (; *s; s++)
		if (!isupper((unsigned char)*s) && !isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* "acme", "acme.slack.com" or "https://acme.slack.com/" -> host; NULL if bad. */
static const char *workspace_host(struct arena *a, const char *w)
{
	if (!strncasecmp(w, "https://", 8))
		w += 8;
	size_t n = strcspn(w, "/");
	if (w[n] && strcmp(w + n, "/"))
		return NULL;
	if (!n || n > 100)
		return NULL;
	char *h = arena_strndup(a, w, n);
	for (char *p = h; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return NULL;
	}
	return strchr(h, '.') ? h : arena_printf(a, "%s.slack.com", h);
}

static int sl_connect(struct arena *a, json_t *cred, const char **profile, const char **err)
{
	json_t *t = json_object_get(cred, "token");
	if (!json_is_string(t) || !token_ok(json_string_value(t))) {
		*err = "credentials.token must be a Slack token (xoxb-... for a bot, xoxp-... for a "
		       "user)";
		return -1;
	}
	json_t *ch = json_object_get(cred, "channel");
	if (!json_is_string(ch) || !channel_ok(json_string_value(ch))) {
		*err = "credentials.channel must be a channel id such as C0123456789 (channel "
		       "details > About), not a #name";
		return -1;
	}
	json_t *w = json_object_get(cred, "workspace");
	const char *host = NULL;
	if (w && !json_is_null(w)) {
		if (!json_is_string(w) || !(host = workspace_host(a, json_string_value(w)))) {
			*err = "credentials.workspace must be the workspace domain (acme or "
			       "acme.slack.com)";
			return -1;
		}
		json_object_set_new(cred, "workspace", json_string(host));
	}
	*profile = host ? arena_printf(a, "%s #%s", host, json_string_value(ch))
			: arena_printf(a, "#%s", json_string_value(ch));
	return 0;
}

/* ---- publish ---- */

enum { PH_FETCH = 1, PH_URL, PH_UPLOAD, PH_COMPLETE, PH_POST };

struct sl {
	int phase;
	const char *token, *channel, *host, *base;
	const char *text, *thread_ts;
	struct media *m;
	size_t nm, cur;
};

static const char *urlenc(struct arena *a, const char *s)
{
	struct sb b = {0};
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			pv_sb_put(&b, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			pv_sb_put(&b, e, 3);
		}
	}
	return pv_sb_done(&b, a);
}

static int is_ts(const char *s)
{
	const char *p = s;
	while (isdigit((unsigned char)*p))
		p++;
	if (p == s || *p != '.')
		return 0;
	const char *q = ++p;
	while (isdigit((unsigned char)*p))
		p++;
	return p > q && !*p;
}

static void api_req(struct pub_ctx *c, struct sl *s, const char *method, const char *ctype,
		    const char *body)
{
	c->req.method = "POST";
	c->req.url = arena_printf(c->a, "%s/%s", s->base, method);
	c->req.body = body;
	c->req.body_len = strlen(body);
	c->req.timeout_ms = 30000;
	c->req.headers[0] = arena_printf(c->a, "Authorization: Bearer %s", s->token);
	c->req.headers[1] = ctype;
	c->req.headers[2] = NULL;
}

#define FORM "Content-Type: application/x-www-form-urlencoded"
#define JSONCT "Content-Type: application/json; charset=utf-8"

static void post_req(struct pub_ctx *c, struct sl *s)
{
	json_t *b = json_pack("{s:s,s:s}", "channel", s->channel, "text", s->text);
	if (s->thread_ts)
		json_object_set_new(b, "thread_ts", json_string(s->thread_ts));
	char *body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	api_req(c, s, "chat.postMessage", JSONCT, arena_strdup(c->a, body));
	free(body);
}

static void fetch_req(struct pub_ctx *c, struct sl *s)
{
	c->req.method = "GET";
	c->req.url = s->m[s->cur].url;
	c->req.safe = 1; /* fetching our own media changes nothing on the platform */
	c->req.user_url = 1;
	c->req.log_url = pv_strip_query(c->a, s->m[s->cur].url);
	c->req.max_response = SL_FETCH_MAX;
	c->req.timeout_ms = 60000;
	c->req.headers[0] = NULL;
}

static void url_req(struct pub_ctx *c, struct sl *s)
{
	const struct media *f = &s->m[s->cur];
	const char *body = arena_printf(c->a, "filename=%s&length=%zu", urlenc(c->a, f->name), f->len);
	if (f->alt && *f->alt)
		body = arena_printf(c->a, "%s&alt_txt=%s", body, urlenc(c->a, f->alt));
	api_req(c, s, "files.getUploadURLExternal", FORM, body);
	c->req.safe = 1; /* an upload slot posts nothing */
}

static void upload_req(struct pub_ctx *c, struct sl *s)
{
	const struct media *f = &s->m[s->cur];
	c->req.method = "POST";
	c->req.url = f->upload_url;
	c->req.log_url = pv_strip_query(c->a, f->upload_url);
	c->req.body = f->data;
	c->req.body_len = f->len;
	c->req.timeout_ms = 120000;
	c->req.safe = 1; /* the file is not shared until completeUploadExternal */
	/* no Authorization: the upload URL is pre-signed and may be anywhere */
	c->req.headers[0] = "Content-Type: application/octet-stream";
	c->req.headers[1] = NULL;
}

static void complete_req(struct pub_ctx *c, struct sl *s)
{
	json_t *files = json_array();
	for (size_t i = 0; i < s->nm; i++)
		json_array_append_new(files, json_pack("{s:s,s:s}", "id", s->m[i].file_id, "title",
						       s->m[i].name));
	char *fj = json_dumps(files, JSON_COMPACT);
	json_decref(files);
	const char *body = arena_printf(c->a, "files=%s&channel_id=%s", urlenc(c->a, fj),
					urlenc(c->a, s->channel));
	free(fj);
	if (*s->text)
		body = arena_printf(c->a, "%s&initial_comment=%s", body, urlenc(c->a, s->text));
	if (s->thread_ts)
		body = arena_printf(c->a, "%s&thread_ts=%s", body, urlenc(c->a, s->thread_ts));
	api_req(c, s, "files.completeUploadExternal", FORM, body);
}

static const char *hint(struct arena *a, const char *err, struct sl *s, json_t *j)
{
	if (!strcmp(err, "channel_not_found"))
		return arena_printf(a, "channel %s does not exist or the bot cannot see it (invite "
				    "the bot to private channels)", s->channel);
	if (!strcmp(err, "not_in_channel"))
		return arena_printf(a, "the bot is not a member of %s: invite it (/invite @bot) or "
				    "grant chat:write.public", s->channel);
	if (!strcmp(err, "is_archived"))
		return "the channel is archived";
	if (!strcmp(err, "msg_too_long"))
		return "the message is too long";
	if (!strcmp(err, "no_text"))
		return "the message is empty";
	if (!strcmp(err, "missing_scope")) {
		const char *n = json_string_value(json_object_get(j, "needed"));
		return arena_printf(a, "the token lacks the scope %s: add it and reinstall the app",
				    n ? n : "(see the app's OAuth scopes)");
	}
	if (!strcmp(err, "restricted_action"))
		return "the workspace does not let this app post in the channel";
	return NULL;
}

/* Check a Web API answer.  PUB_OK when ok:true (*out = body), otherwise
 * the classification with c->error set.  `posting`: the call makes the
 * message visible (an ambiguous failure there is not retried blindly). */
static enum pub_status api_check(struct pub_ctx *c, struct sl *s, const struct hresp *r,
				 const char *method, int posting, json_t **out)
{
	long st = r->status;
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	if (j)
		arena_defer(c->a, pv_free_json, j);
	*out = j;
	const char *raw = r->body_len ? arena_printf(c->a, "%.300s", r->body) : "(empty body)";
	if (st == 429) {
		c->retry_after_ms = pub_retry_after(r);
		c->error = arena_printf(c->a, "Slack rate limit on %s (HTTP 429)", method);
		return PUB_RETRY;
	}
	if (st >= 500 || st == 408) {
		c->retry_after_ms = pub_retry_after(r);
		c->error = arena_printf(c->a, "Slack answered HTTP %ld on %s: %s", st, method, raw);
		return PUB_RETRY;
	}
	if (st < 200 || st >= 300) {
		c->error = arena_printf(c->a, "Slack answered HTTP %ld on %s: %s", st, method, raw);
		return st == 401 ? PUB_AUTH_EXPIRED : PUB_FAILED;
	}
	if (!json_is_object(j)) {
		c->error = arena_printf(c->a, "Slack answered %s with something that is not JSON: %s",
					method, raw);
		return posting ? PUB_UNKNOWN : PUB_RETRY;
	}
	if (json_is_true(json_object_get(j, "ok")))
		return PUB_OK;
	const char *e = json_string_value(json_object_get(j, "error"));
	if (!e)
		e = "unknown_error";
	static const char *const retry[] = {"ratelimited", "rate_limited", "service_unavailable",
					    "request_timeout"};
	static const char *const auth[] = {"invalid_auth",   "not_authed",      "token_revoked",
					   "token_expired",  "account_inactive", "no_permission",
					   "org_login_required", "ekm_access_denied"};
	for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
		if (!strcmp(e, retry[i])) {
			c->retry_after_ms = pub_retry_after(r);
			c->error = arena_printf(c->a, "Slack: %s on %s (temporary)", e, method);
			return PUB_RETRY;
		}
	for (size_t i = 0; i < sizeof(auth) / sizeof(auth[0]); i++)
		if (!strcmp(e, auth[i])) {
			c->error = arena_printf(c->a,
						"Slack refused the token: %s; reinstall the app (or "
						"create a new token) and reconnect the channel",
						e);
			return PUB_AUTH_EXPIRED;
		}
	if (!strcmp(e, "internal_error") || !strcmp(e, "fatal_error")) {
		if (posting) {
			c->error = arena_printf(c->a,
						"Slack: %s on %s; Slack says part of the operation may "
						"have succeeded: check the channel, then retry or resolve",
						e, method);
			return PUB_UNKNOWN;
		}
		c->error = arena_printf(c->a, "Slack: %s on %s (temporary)", e, method);
		return PUB_RETRY;
	}
	const char *h = hint(c->a, e, s, j);
	c->error = h ? arena_printf(c->a, "Slack refused %s: %s (%s)", method, e, h)
		     : arena_printf(c->a, "Slack refused %s: %s", method, e);
	return PUB_FAILED;
}

static const char *message_url(struct pub_ctx *c, struct sl *s, const char *channel,
			       const char *ts)
{
	if (!s->host || !is_ts(ts))
		return NULL;
	char p[64];
	size_t k = 0;
	for (const char *q = ts; *q && k + 1 < sizeof(p); q++)
		if (*q != '.')
			p[k++] = *q;
	p[k] = 0;
	if (s->thread_ts)
		return arena_printf(c->a, "https://%s/archives/%s/p%s?thread_ts=%s&cid=%s", s->host,
				    channel, p, s->thread_ts, channel);
	return arena_printf(c->a, "https://%s/archives/%s/p%s", s->host, channel, p);
}

static enum pub_status fetched(struct pub_ctx *c, struct sl *s, const struct hresp *r)
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

/* The message ts of a completed upload, from files[0].shares. */
static const char *share_ts(json_t *file, const char *channel)
{
	const char *kinds[] = {"public", "private"};
	json_t *sh = json_object_get(file, "shares");
	for (size_t i = 0; i < 2; i++) {
		json_t *list = json_object_get(json_object_get(sh, kinds[i]), channel);
		const char *ts = json_string_value(json_object_get(json_array_get(list, 0), "ts"));
		if (ts && is_ts(ts))
			return ts;
	}
	return NULL;
}

static enum pub_status sl_start(struct pub_ctx *c)
{
	struct sl *s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	s->token = json_string_value(json_object_get(c->credentials, "token"));
	s->channel = json_string_value(json_object_get(c->credentials, "channel"));
	s->host = json_string_value(json_object_get(c->credentials, "workspace"));
	if (!s->token || !token_ok(s->token) || !s->channel) {
		c->error = "the channel has no valid token or channel; reconnect it";
		return PUB_FAILED;
	}
	json_t *sc = json_object_get(c->settings, "channel");
	if (json_is_string(sc) && *json_string_value(sc)) {
		if (!channel_ok(json_string_value(sc))) {
			c->error = "settings.channel must be a Slack channel id such as C0123456789";
			return PUB_FAILED;
		}
		s->channel = json_string_value(sc);
	} else if (sc && !json_is_null(sc) && !json_is_string(sc)) {
		c->error = "settings.channel must be a Slack channel id such as C0123456789";
		return PUB_FAILED;
	}
	const char *base = c->base_url && *c->base_url ? c->base_url : SL_BASE;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	s->base = arena_strndup(c->a, base, bl);
	if (c->root_release_id && is_ts(c->root_release_id))
		s->thread_ts = c->root_release_id;

	const char *content = c->content ? c->content : "";
	s->text = pv_has_tags(content) ? to_mrkdwn(c->a, content) : plain_text(c->a, content);
	size_t len = pv_u16len(s->text, strlen(s->text));
	if (len > SL_TEXT_MAX) {
		c->error = arena_printf(c->a,
					"slack.text.max_length: the message is %zu characters after "
					"formatting; Slack takes %d",
					len, SL_TEXT_MAX);
		return PUB_FAILED;
	}
	size_t nm = json_array_size(c->media);
	if (nm > SL_FILES_MAX) {
		c->error = arena_printf(c->a,
					"slack.media.max_count: %zu files in one message; at most %d",
					nm, SL_FILES_MAX);
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
	} else {
		s->phase = PH_POST;
		post_req(c, s);
	}
	return PUB_SEND;
}

static enum pub_status sl_publish(struct pub_ctx *c, const struct hresp *prev)
{
	if (!prev)
		return sl_start(c);
	struct sl *s = c->state;
	json_t *j = NULL;
	enum pub_status st;
	switch (s->phase) {
	case PH_FETCH:
		st = fetched(c, s, prev);
		if (st != PUB_SEND)
			return st;
		s->phase = PH_URL;
		url_req(c, s);
		return PUB_SEND;
	case PH_URL: {
		st = api_check(c, s, prev, "files.getUploadURLExternal", 0, &j);
		if (st != PUB_OK)
			return st;
		const char *u = json_string_value(json_object_get(j, "upload_url"));
		const char *id = json_string_value(json_object_get(j, "file_id"));
		if (!u || !id || (strncmp(u, "https://", 8) && strncmp(u, "http://", 7))) {
			c->error = "Slack answered files.getUploadURLExternal without upload_url or file_id";
			return PUB_RETRY;
		}
		s->m[s->cur].upload_url = arena_strdup(c->a, u);
		s->m[s->cur].file_id = arena_strdup(c->a, id);
		s->phase = PH_UPLOAD;
		upload_req(c, s);
		return PUB_SEND;
	}
	case PH_UPLOAD:
		if (prev->status < 200 || prev->status >= 300) {
			c->error = arena_printf(c->a, "Slack refused the upload of %s: HTTP %ld: %.200s",
						s->m[s->cur].name, prev->status,
						prev->body_len ? prev->body : "(empty body)");
			st = pub_classify_status(prev->status);
			if (st == PUB_RETRY)
				c->retry_after_ms = pub_retry_after(prev);
			return st == PUB_RETRY ? PUB_RETRY : PUB_FAILED;
		}
		if (++s->cur < s->nm) {
			s->phase = PH_FETCH;
			fetch_req(c, s);
			return PUB_SEND;
		}
		s->phase = PH_COMPLETE;
		complete_req(c, s);
		return PUB_SEND;
	case PH_COMPLETE: {
		st = api_check(c, s, prev, "files.completeUploadExternal", 1, &j);
		if (st != PUB_OK)
			return st;
		json_t *f0 = json_array_get(json_object_get(j, "files"), 0);
		const char *ts = share_ts(f0, s->channel);
		const char *perma = json_string_value(json_object_get(f0, "permalink"));
		c->release_id = arena_strdup(c->a, ts ? ts : s->m[0].file_id);
		c->release_url = ts ? message_url(c, s, s->channel, ts) : NULL;
		if (!c->release_url && perma)
			c->release_url = arena_strdup(c->a, perma);
		return PUB_OK;
	}
	case PH_POST:
	default: {
		st = api_check(c, s, prev, "chat.postMessage", 1, &j);
		if (st != PUB_OK)
			return st;
		const char *ts = json_string_value(json_object_get(j, "ts"));
		const char *ch = json_string_value(json_object_get(j, "channel"));
		if (!ts) {
			c->error = "Slack answered chat.postMessage with ok but no ts; check the channel "
				   "before retrying";
			return PUB_UNKNOWN;
		}
		c->release_id = arena_strdup(c->a, ts);
		c->release_url = message_url(c, s, ch ? ch : s->channel, ts);
		return PUB_OK;
	}
	}
}

/* Unpublish: chat.delete {channel, ts} (the channel read from the
 * message's URL, else the setting or the connected channel); an item that
 * was only a file share without a message ts is removed with files.delete
 * {file}.  "message_not_found" / "file_not_found" / "file_deleted" are done
 * (already gone); the rest is classified like publishing ("cant_delete_message":
 * the token may not delete it, a refusal). */
static enum pub_status sl_unpublish(struct pub_ctx *c, const struct hresp *r)
{
	struct sl *s = c->state;
	if (r) {
		json_t *j;
		enum pub_status st = api_check(c, s, r, is_ts(c->release_id) ? "chat.delete"
									 : "files.delete", 0, &j);
		const char *e = json_string_value(json_object_get(j, "error"));
		if (st == PUB_FAILED && e &&
		    (!strcmp(e, "message_not_found") || !strcmp(e, "file_not_found") ||
		     !strcmp(e, "file_deleted")))
			return PUB_OK;
		return st;
	}
	s = arena_alloc(c->a, sizeof(*s));
	c->state = s;
	s->token = json_string_value(json_object_get(c->credentials, "token"));
	s->channel = json_string_value(json_object_get(c->credentials, "channel"));
	s->host = json_string_value(json_object_get(c->credentials, "workspace"));
	if (!s->token || !token_ok(s->token) || !s->channel) {
		c->error = "the channel has no valid token or channel; reconnect it";
		return PUB_FAILED;
	}
	json_t *sc = json_object_get(c->settings, "channel");
	if (json_is_string(sc) && channel_ok(json_string_value(sc)))
		s->channel = json_string_value(sc);
	const char *arch = c->release_url ? strstr(c->release_url, "/archives/") : NULL;
	if (arch) {
		arch += strlen("/archives/");
		const char *ch = arena_strndup(c->a, arch, strcspn(arch, "/?"));
		if (channel_ok(ch))
			s->channel = ch;
	}
	const char *base = c->base_url && *c->base_url ? c->base_url : SL_BASE;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	s->base = arena_strndup(c->a, base, bl);
	if (!c->release_id || !*c->release_id) {
		c->error = "the post has no Slack message id";
		return PUB_FAILED;
	}
	json_t *b = is_ts(c->release_id)
			    ? json_pack("{s:s,s:s}", "channel", s->channel, "ts", c->release_id)
			    : json_pack("{s:s}", "file", c->release_id);
	char *body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	if (!body) {
		c->error = "cannot encode the request";
		return PUB_FAILED;
	}
	api_req(c, s, is_ts(c->release_id) ? "chat.delete" : "files.delete", JSONCT,
		arena_strdup(c->a, body));
	free(body);
	return PUB_SEND;
}

/* Tool "channels": conversations.list (public and private channels the
 * token can see, archived ones left out), following next_cursor for up to
 * 5 pages of 200.  Output [{id, name, isPrivate, isMember}]: the ids the
 * `channel` setting takes. */
struct sl_tool {
	struct sl s;
	json_t *out;
	int pages;
};

static void sl_list_req(struct pub_ctx *c, struct sl_tool *t, const char *cursor)
{
	c->req.method = "GET";
	c->req.url = arena_printf(c->a,
				  "%s/conversations.list?types=public_channel%%2Cprivate_channel"
				  "&exclude_archived=true&limit=200%s%s",
				  t->s.base, cursor ? "&cursor=" : "", cursor ? urlenc(c->a, cursor) : "");
	c->req.timeout_ms = 20000;
	c->req.safe = 1;
	c->req.headers[0] = arena_printf(c->a, "Authorization: Bearer %s", t->s.token);
	c->req.headers[1] = NULL;
}

static enum pub_status sl_tool_channels(struct pub_ctx *c, const struct hresp *r)
{
	struct sl_tool *t = c->state;
	if (!r) {
		t = arena_alloc(c->a, sizeof(*t));
		c->state = t;
		t->s.token = json_string_value(json_object_get(c->credentials, "token"));
		t->s.channel = json_string_value(json_object_get(c->credentials, "channel"));
		if (!t->s.token || !token_ok(t->s.token)) {
			c->error = "the channel has no valid token; reconnect it";
			return PUB_AUTH_EXPIRED;
		}
		const char *base = c->base_url && *c->base_url ? c->base_url : SL_BASE;
		size_t bl = strlen(base);
		while (bl && base[bl - 1] == '/')
			bl--;
		t->s.base = arena_strndup(c->a, base, bl);
		t->out = json_array();
		arena_defer(c->a, pv_free_json, t->out);
		c->output = t->out;
		sl_list_req(c, t, NULL);
		return PUB_SEND;
	}
	json_t *j;
	enum pub_status st = api_check(c, &t->s, r, "conversations.list", 0, &j);
	if (st != PUB_OK)
		return st;
	size_t i;
	json_t *ch;
	json_array_foreach(json_object_get(j, "channels"), i, ch)
	{
		const char *id = json_string_value(json_object_get(ch, "id"));
		const char *name = json_string_value(json_object_get(ch, "name"));
		if (!id || !name)
			continue;
		json_array_append_new(t->out,
				      json_pack("{s:s,s:s,s:b,s:b}", "id", id, "name", name, "isPrivate",
						json_is_true(json_object_get(ch, "is_private")),
						"isMember", json_is_true(json_object_get(ch, "is_member"))));
	}
	const char *next = json_string_value(
		json_object_get(json_object_get(j, "response_metadata"), "next_cursor"));
	if (next && *next && ++t->pages < 5) {
		sl_list_req(c, t, next);
		return PUB_SEND;
	}
	return PUB_OK;
}

/* Verify: auth.test (POST, Bearer token) -> {ok, url, team, user,
 * team_id, user_id, bot_id?}, then conversations.info?channel=<id> (GET,
 * Bearer) -> {ok, channel:{id, name, is_private, is_member, ...}}.  Slack
 * answers refusals as HTTP 200 with ok:false: invalid_auth, not_authed,
 * account_inactive, token_revoked... name the token; channel_not_found and
 * the like name the channel.  The workspace host auth.test reports is
 * kept (credentials.workspace, for message links) when none was given. */
struct sl_verify {
	struct sl s;
	json_t *auth;
	int phase; /* 0 auth.test, 1 conversations.info */
};

static enum pub_status sl_verify(struct pub_ctx *c, const struct hresp *r)
{
	struct sl_verify *v = c->state;
	if (!r) {
		v = arena_alloc(c->a, sizeof(*v));
		c->state = v;
		v->s.token = json_string_value(json_object_get(c->credentials, "token"));
		v->s.channel = json_string_value(json_object_get(c->credentials, "channel"));
		if (!v->s.token || !token_ok(v->s.token)) {
			c->error = "credentials.token is not a Slack token";
			c->error_field = "credentials.token";
			return PUB_FAILED;
		}
		if (!v->s.channel || !channel_ok(v->s.channel)) {
			c->error = "credentials.channel is not a channel id";
			c->error_field = "credentials.channel";
			return PUB_FAILED;
		}
		const char *base = c->base_url && *c->base_url ? c->base_url : SL_BASE;
		size_t bl = strlen(base);
		while (bl && base[bl - 1] == '/')
			bl--;
		v->s.base = arena_strndup(c->a, base, bl);
		api_req(c, &v->s, "auth.test", FORM, "");
		c->req.timeout_ms = 20000;
		c->req.safe = 1;
		return PUB_SEND;
	}
	json_t *j;
	const char *method = v->phase ? "conversations.info" : "auth.test";
	enum pub_status st = api_check(c, &v->s, r, method, 0, &j);
	if (st == PUB_AUTH_EXPIRED) {
		c->error_field = "credentials.token";
		return PUB_FAILED;
	}
	if (st == PUB_FAILED) {
		c->error_field = v->phase ? "credentials.channel" : "credentials.token";
		return PUB_FAILED;
	}
	if (st != PUB_OK)
		return st;
	if (!v->phase) {
		v->auth = j;
		v->phase = 1;
		c->req.method = "GET";
		c->req.url = arena_printf(c->a, "%s/conversations.info?channel=%s", v->s.base,
					  urlenc(c->a, v->s.channel));
		c->req.timeout_ms = 20000;
		c->req.safe = 1;
		c->req.headers[0] = arena_printf(c->a, "Authorization: Bearer %s", v->s.token);
		c->req.headers[1] = NULL;
		return PUB_SEND;
	}
	json_t *ch = json_object_get(j, "channel");
	const char *name = json_string_value(json_object_get(ch, "name"));
	const char *team = json_string_value(json_object_get(v->auth, "team"));
	const char *url = json_string_value(json_object_get(v->auth, "url"));
	json_t *out = json_object();
	arena_defer(c->a, pv_free_json, out);
	const char *cname = name ? arena_printf(c->a, "#%s", name) : arena_printf(c->a, "#%s", v->s.channel);
	json_object_set_new(out, "profile",
			    json_string(team ? arena_printf(c->a, "%s %s", team, cname) : cname));
	json_object_set_new(out, "name", json_string(cname));
	static const char *const keep[] = {"team", "team_id", "user", "user_id", "bot_id", "url", NULL};
	for (int k = 0; keep[k]; k++) {
		json_t *x = json_object_get(v->auth, keep[k]);
		if (json_is_string(x))
			json_object_set(out, keep[k], x);
	}
	json_object_set_new(out, "channel",
			    json_pack("{s:s,s:s,s:b,s:b}", "id", v->s.channel, "name", name ? name : "",
				      "isPrivate", json_is_true(json_object_get(ch, "is_private")),
				      "isMember", json_is_true(json_object_get(ch, "is_member"))));
	const char *host = url ? workspace_host(c->a, url) : NULL;
	if (host && !json_is_string(json_object_get(c->credentials, "workspace"))) {
		json_object_set_new(c->credentials, "workspace", json_string(host));
		c->credentials_changed = 1;
	}
	c->output = out;
	return PUB_OK;
}

static const struct provider_tool sl_tools[] = {
	{"channels", "channels the bot can see (conversations.list): ids for the channel setting",
	 "[]", sl_tool_channels},
	{NULL, NULL, NULL, NULL},
};

const struct provider provider_slack = {
	.api_version = "Slack Web API (unversioned; files.getUploadURLExternal flow)",
	.api_sunset = NULL,
	.identifier = "slack",
	.name = "Slack",
	.flags = PROV_THREADS | PROV_IMAGES | PROV_VIDEO | PROV_DELETE | PROV_CREDENTIALS,
	.max_length = SL_TEXT_MAX,
	.editor = "normal",
	.rules = "Messages up to 40,000 characters (Slack advises 4,000) in mrkdwn: bold, "
		 "italic, strikethrough, code, links, lists and quotes. Up to 10 files per "
		 "message, fetched and uploaded with the text as their comment. Thread items are "
		 "posted in the first message's thread. The bot must be a member of the channel "
		 "(chat:write, files:write). The channel setting overrides the connected channel.",
	.credentials = fields,
	.settings_schema =
		"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
		"\"properties\":{\"channel\":{\"type\":\"string\",\"pattern\":\"^[CGD][A-Z0-9]{6,23}$\","
		"\"description\":\"Channel id to post in (overrides the connected channel)\"}},"
		"\"additionalProperties\":true}",
	.connect = sl_connect,
	.publish = sl_publish,
	.unpublish = sl_unpublish,
	.tools = sl_tools,
	.min_interval_ms = 1000,
	.verify = sl_verify,
};
