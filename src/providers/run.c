/* run: see run.h. */
#include "run.h"

#include "../core/arena.h"
#include "../http/client.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_STEPS 12
#define BODY_KEEP 4096

static void step(struct prun *p, enum pub_status st);

static void on_answer(void *arg, const struct hresp *r)
{
	struct prun *p = arg;
	struct pub_ctx *pc = &p->ctx;
	if (r->curl_code) {
		p->last_status = 0;
		p->last_body = NULL;
		p->transport_error =
			arena_printf(pc->a, "%s (%s)", r->error ? r->error : "transport error",
				     pc->req.log_url ? pc->req.log_url : pc->req.url);
		p->done(p, PUB_RETRY);
		return;
	}
	p->last_status = r->status;
	p->last_body = arena_strndup(pc->a, r->body ? r->body : "",
				     r->body_len < BODY_KEEP ? r->body_len : BODY_KEEP);
	pc->step++;
	memset(&pc->req, 0, sizeof(pc->req));
	step(p, p->run(pc, r));
}

static void step(struct prun *p, enum pub_status st)
{
	struct pub_ctx *pc = &p->ctx;
	if (pc->credentials_changed) {
		if (p->on_credentials)
			p->on_credentials(p);
		pc->credentials_changed = 0;
	}
	switch (st) {
	case PUB_SEND: {
		if (++p->steps > (p->max_steps ? p->max_steps : DEFAULT_MAX_STEPS)) {
			pc->error = "too many requests for one call";
			p->done(p, PUB_RETRY);
			return;
		}
		if (!p->hc) {
			p->transport_error = "this process cannot reach platforms";
			p->done(p, PUB_RETRY);
			return;
		}
		struct hreq hr = {
			.method = pc->req.method,
			.url = pc->req.url,
			.headers = pc->req.headers,
			.body = pc->req.body,
			.body_len = pc->req.body_len,
			.timeout_ms = pc->req.timeout_ms ? pc->req.timeout_ms : 20000,
			.max_response = pc->req.max_response,
		};
		if (!p->sent && p->before_send)
			p->before_send(p);
		p->sent = 1;
		if (hclient_send(p->hc, &hr, on_answer, p)) {
			p->transport_error = arena_printf(pc->a, "cannot start the request (%s)",
							  pc->req.log_url ? pc->req.log_url : pc->req.url);
			p->done(p, PUB_RETRY);
		}
		return;
	}
	case PUB_AUTH_EXPIRED:
		if (p->allow_refresh && p->pr->refresh && !p->refreshed) {
			const char *err = NULL;
			p->refreshed = 1;
			if (p->pr->refresh(pc->a, pc->credentials, &err) == 0) {
				if (p->on_credentials)
					p->on_credentials(p);
				memset(&pc->req, 0, sizeof(pc->req));
				pc->step = 0;
				pc->state = NULL;
				step(p, p->run(pc, NULL));
				return;
			}
		}
		p->done(p, st);
		return;
	default:
		p->done(p, st);
		return;
	}
}

void prun_start(struct prun *p)
{
	p->transport_error = NULL;
	p->last_status = 0;
	p->last_body = NULL;
	step(p, p->run(&p->ctx, NULL));
}

static char *replace_all(char *s, const char *needle);
static int secret_key(const char *k);

/* a malloc'd copy of text with every secret credential value replaced:
 * values of secret-looking keys, URLs and the last path segment of a URL
 * (where Discord and Slack webhook URLs keep their token).  Short values
 * (a chat id, a channel id) are not secrets and would blank unrelated
 * text. */
static char *redact_dup(const char *text, json_t *cred)
{
	char *s = strdup(text);
	const char *k;
	json_t *v;
	json_object_foreach(cred, k, v)
	{
		if (!s || !json_is_string(v) || json_string_length(v) < 8)
			continue;
		const char *val = json_string_value(v);
		if (secret_key(k)) {
			s = replace_all(s, val);
		} else if (strstr(k, "url")) {
			s = replace_all(s, val);
			size_t end = strcspn(val, "?#");
			while (end && val[end - 1] == '/')
				end--;
			size_t start = end;
			while (start && val[start - 1] != '/')
				start--;
			if (end - start >= 8 && end - start < 1024) {
				char seg[1024];
				memcpy(seg, val + start, end - start);
				seg[end - start] = 0;
				s = replace_all(s, seg);
			}
		}
	}
	return s;
}

static enum herr verify_error(const struct prun *p, enum pub_status st, const char **msg,
			      const char **field);

enum herr prun_verify_error(const struct prun *p, enum pub_status st, const char **msg,
			    const char **field)
{
	enum herr e = verify_error(p, st, msg, field);
	char *clean = *msg ? redact_dup(*msg, p->ctx.credentials) : NULL;
	if (clean) {
		*msg = arena_strdup(p->ctx.a, clean);
		free(clean);
	}
	return e;
}

static enum herr verify_error(const struct prun *p, enum pub_status st, const char **msg,
			      const char **field)
{
	const struct pub_ctx *pc = &p->ctx;
	const char *name = p->pr->name;
	*field = NULL;
	if (st == PUB_OK) {
		*msg = NULL;
		return HERR_OK;
	}
	if (p->transport_error) {
		*msg = arena_printf(pc->a, "%s could not be reached: %s", name, p->transport_error);
		return HERR_PLATFORM_UNAVAILABLE;
	}
	switch (st) {
	case PUB_RETRY:
	case PUB_UNKNOWN:
		*msg = pc->error ? pc->error
				 : arena_printf(pc->a, "%s is busy or down (HTTP %ld); try again", name,
						p->last_status);
		return p->last_status == 429 ? HERR_PLATFORM_RATE_LIMITED : HERR_PLATFORM_UNAVAILABLE;
	case PUB_AUTH_EXPIRED:
	case PUB_FAILED:
	default:
		*msg = pc->error ? pc->error
				 : arena_printf(pc->a, "%s refused the credentials (HTTP %ld)", name,
						p->last_status);
		*field = pc->error_field ? pc->error_field : "credentials";
		return HERR_CREDENTIALS_REJECTED;
	}
}

static int secret_key(const char *k)
{
	static const char *const words[] = {"token", "jwt", "secret", "password", "key"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(k, words[i]))
			return 1;
	return 0;
}

/* after parsing: values under secret-looking keys, and credential values
 * inside strings (the raw-text pass misses them when JSON escapes spell
 * them differently); a member whose key holds one goes */
static void redact_json(json_t *v, json_t *cred, int depth)
{
	if (depth > 16)
		return;
	if (json_is_object(v)) {
		const char *k;
		json_t *m;
		void *tmp;
		json_object_foreach_safe(v, tmp, k, m)
		{
			char *ck = redact_dup(k, cred);
			int drop = !ck || strcmp(ck, k);
			free(ck);
			if (drop)
				json_object_del(v, k);
			else if (json_is_string(m) && secret_key(k))
				json_object_set_new(v, k, json_string("[redacted]"));
			else if (json_is_string(m)) {
				char *cs = redact_dup(json_string_value(m), cred);
				if (cs && strcmp(cs, json_string_value(m)))
					json_object_set_new(v, k, json_string(cs));
				free(cs);
			} else
				redact_json(m, cred, depth + 1);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *m;
		json_array_foreach(v, i, m)
		{
			if (json_is_string(m)) {
				char *cs = redact_dup(json_string_value(m), cred);
				if (cs && strcmp(cs, json_string_value(m)))
					json_array_set_new(v, i, json_string(cs));
				free(cs);
			} else {
				redact_json(m, cred, depth + 1);
			}
		}
	}
}

/* every occurrence of needle in *s (malloc'd) replaced */
static char *replace_all(char *s, const char *needle)
{
	static const char with[] = "[redacted]";
	size_t nl = strlen(needle), wl = sizeof(with) - 1;
	char *hit;
	size_t from = 0;
	while ((hit = strstr(s + from, needle))) {
		size_t at = (size_t)(hit - s), len = strlen(s);
		char *n = malloc(len - nl + wl + 1);
		if (!n)
			return s;
		memcpy(n, s, at);
		memcpy(n + at, with, wl);
		memcpy(n + at + wl, s + at + nl, len - at - nl + 1);
		free(s);
		s = n;
		from = at + wl;
	}
	return s;
}

json_t *prun_redact(const char *body, json_t *cred)
{
	if (!body || !*body)
		return NULL;
	char *s = redact_dup(body, cred);
	if (!s)
		return NULL;
	json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
	if (j && (json_is_object(j) || json_is_array(j))) {
		redact_json(j, cred, 0);
	} else {
		json_decref(j);
		j = json_string(s);
	}
	free(s);
	return j;
}
