/* remote: see remote.h.  Owns one CURL easy handle per struct remote. */
#include "remote.h"
#include "cli.h"
#include "../core/buf.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int curl_ready;

int remote_open(struct remote *r, const char *url, const char *key, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (!url || !*url)
		url = getenv("HERALD_URL");
	if (!key || !*key)
		key = getenv("HERALD_API_KEY");
	if (!url || !*url) {
		snprintf(err, errlen, "no server: set HERALD_URL or pass --url http://host:port");
		return -1;
	}
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		snprintf(err, errlen, "--url/HERALD_URL must start with http:// or https:// (got '%s')", url);
		return -1;
	}
	if (!key || !*key) {
		snprintf(err, errlen, "no API key: set HERALD_API_KEY or pass --key KEY "
				      "(create one with 'herald keys create')");
		return -1;
	}
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
			snprintf(err, errlen, "libcurl failed to initialise");
			return -1;
		}
		curl_ready = 1;
	}
	r->easy = curl_easy_init();
	if (!r->easy) {
		snprintf(err, errlen, "libcurl failed to initialise");
		return -1;
	}
	r->base = strdup(url);
	size_t n = strlen(r->base);
	while (n > 0 && r->base[n - 1] == '/')
		r->base[--n] = 0;
	r->key = strdup(key);
	r->timeout_s = 60;
	const char *t = getenv("HERALD_CLIENT_TIMEOUT");
	if (t && atol(t) > 0)
		r->timeout_s = atol(t);
	return 0;
}

void remote_close(struct remote *r)
{
	if (r->easy)
		curl_easy_cleanup(r->easy);
	free(r->base);
	free(r->key);
	memset(r, 0, sizeof(*r));
}

struct sink {
	struct buf b;
	int overflow;
	int replayed;
	long retry_after;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct sink *s = ud;
	if (buf_add(&s->b, p, sz * n)) {
		s->overflow = 1;
		return 0;
	}
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = sz * n;
	static const char h[] = "idempotency-replayed:", ra[] = "retry-after:";
	if (len >= sizeof(h) - 1 && !strncasecmp(p, h, sizeof(h) - 1)) {
		const char *v = p + sizeof(h) - 1;
		while (*v == ' ')
			v++;
		if (!strncasecmp(v, "true", 4))
			s->replayed = 1;
	} else if (len >= sizeof(ra) - 1 && !strncasecmp(p, ra, sizeof(ra) - 1)) {
		s->retry_after = atol(p + sizeof(ra) - 1);
	}
	return len;
}

void remote_decode_error(struct remote_resp *resp)
{
	json_t *e = json_object_get(resp->body, "error");
	if (!json_is_object(e))
		return;
	resp->err_code = json_string_value(json_object_get(e, "code"));
	resp->err_message = json_string_value(json_object_get(e, "message"));
	resp->err_field = json_string_value(json_object_get(e, "field"));
	resp->err_rule = json_string_value(json_object_get(e, "rule"));
	json_t *v = json_object_get(e, "violations");
	resp->err_violations = json_is_array(v) ? v : NULL;
	resp->err_retryable = json_is_true(json_object_get(e, "retryable"));
}

/* configure h for one request; *hdrs and *url must be freed after it ran */
static void setup(struct remote *r, CURL *h, const char *method, const char *path, const char *body,
		  curl_mime *mime, const char *idem_key, struct sink *s, struct curl_slist **hdrs,
		  char **urlp, char *ebuf)
{
	curl_easy_reset(h);
	memset(s, 0, sizeof(*s));
	buf_init(&s->b, REMOTE_MAX_BODY);
	size_t ul = strlen(r->base) + strlen(path) + 1;
	char *url = malloc(ul);
	snprintf(url, ul, "%s%s", r->base, path);
	struct curl_slist *hd = NULL;
	char auth[600];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %.500s", r->key);
	hd = curl_slist_append(hd, auth);
	hd = curl_slist_append(hd, "Accept: application/json");
	if (body)
		hd = curl_slist_append(hd, "Content-Type: application/json");
	if (idem_key) {
		char ik[300];
		snprintf(ik, sizeof(ik), "Idempotency-Key: %.255s", idem_key);
		hd = curl_slist_append(hd, ik);
	}
	hd = curl_slist_append(hd, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (mime) {
		curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
	}
	if (strcmp(method, "GET") || body || mime)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, r->timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "herald-cli");
	ebuf[0] = 0;
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	*hdrs = hd;
	*urlp = url;
}

/* turn a finished transfer into out; 0, or -1 on transport failure */
static int finish(struct remote *r, CURL *h, CURLcode rc, struct sink *s, const char *ebuf,
		  struct remote_resp *out)
{
	memset(out, 0, sizeof(*out));
	out->replayed = s->replayed;
	if (rc != CURLE_OK) {
		if (s->overflow)
			snprintf(out->neterr, sizeof(out->neterr),
				 "response larger than %u bytes", REMOTE_MAX_BODY);
		else
			snprintf(out->neterr, sizeof(out->neterr), "%.200s: %.250s", r->base,
				 *ebuf ? ebuf : curl_easy_strerror(rc));
		buf_release(&s->b);
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	out->rawlen = s->b.len;
	out->raw = s->b.data ? buf_take(&s->b) : strdup("");
	if (out->rawlen) {
		json_error_t je;
		out->body = json_loadb(out->raw, out->rawlen, 0, &je);
	}
	if (out->status >= 300)
		remote_decode_error(out);
	return 0;
}

static int perform(struct remote *r, const char *method, const char *path, const char *body,
		   curl_mime *mime, const char *idem_key, struct remote_resp *out)
{
	struct sink s;
	struct curl_slist *hd;
	char *url, ebuf[CURL_ERROR_SIZE];
	setup(r, r->easy, method, path, body, mime, idem_key, &s, &hd, &url, ebuf);
	CURLcode rc = curl_easy_perform(r->easy);
	int ret = finish(r, r->easy, rc, &s, ebuf, out);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hd);
	free(url);
	return ret;
}

/* ---- many requests in parallel (curl multi) ---------------------------- */

struct slot {
	CURL *h;
	size_t idx;
	int busy;
	struct remote_job job;
	struct sink s;
	struct curl_slist *hd;
	char *url;
	char ebuf[CURL_ERROR_SIZE];
};

struct pending {
	size_t idx;
	long long not_before_ms;
};

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int remote_run_many(struct remote *r, size_t n, int parallel, remote_job_fn make, remote_done_fn done,
		    void *ud)
{
	if (parallel < 1)
		parallel = 1;
	if (parallel > 64)
		parallel = 64;
	CURLM *m = curl_multi_init();
	if (!m)
		return -1;
	struct slot *sl = calloc((size_t)parallel, sizeof(*sl));
	unsigned char *tries = calloc(n ? n : 1, 1);
	struct pending *retry = calloc((size_t)parallel + 1, sizeof(*retry));
	size_t nretry = 0, next = 0, finished = 0;
	int rc = 0;
	for (int i = 0; i < parallel; i++)
		sl[i].h = curl_easy_init();
	while (finished < n) {
		long long now = mono_ms();
		for (int i = 0; i < parallel; i++) {
			if (sl[i].busy)
				continue;
			size_t idx = (size_t)-1;
			for (size_t k = 0; k < nretry; k++)
				if (retry[k].not_before_ms <= now) {
					idx = retry[k].idx;
					retry[k] = retry[--nretry];
					break;
				}
			if (idx == (size_t)-1 && next < n && nretry == 0)
				idx = next++;
			if (idx == (size_t)-1)
				break;
			struct slot *s = &sl[i];
			memset(&s->job, 0, sizeof(s->job));
			if (make(ud, idx, &s->job)) {
				rc = -1;
				goto out;
			}
			s->idx = idx;
			s->busy = 1;
			setup(r, s->h, s->job.method, s->job.path, s->job.body, NULL, s->job.idem, &s->s, &s->hd,
			      &s->url, s->ebuf);
			curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
			curl_multi_add_handle(m, s->h);
		}
		int running = 0;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct slot *s;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			CURLcode res = msg->data.result;
			curl_multi_remove_handle(m, s->h);
			struct remote_resp resp;
			finish(r, s->h, res, &s->s, s->ebuf, &resp);
			long ra = s->s.retry_after;
			curl_slist_free_all(s->hd);
			free(s->url);
			free(s->job.body);
			free(s->job.path_owned);
			s->busy = 0;
			/* rate limited, overloaded or no answer: the same request
			 * (same Idempotency-Key) again after a pause */
			/* (409 idempotency_in_progress: the first request with this key,
			 * say from an interrupted run, is still being processed) */
			int busy = resp.status == 409 && resp.err_code &&
				   !strcmp(resp.err_code, "idempotency_in_progress");
			int again = resp.status == 429 || resp.status == 503 || resp.status == 0 || busy ||
				    (resp.status >= 500 && resp.err_retryable);
			int limit = resp.status == 429 || resp.status == 503 || busy ? 50 : 3;
			if (again && tries[s->idx] < limit) {
				tries[s->idx]++;
				long wait = ra > 0 ? (ra > 30 ? 30 : ra) * 1000 : resp.status == 429 ? 1000 : 300;
				retry[nretry++] = (struct pending){s->idx, mono_ms() + wait};
				remote_resp_free(&resp);
				continue;
			}
			done(ud, s->idx, &resp);
			remote_resp_free(&resp);
			finished++;
		}
		if (finished < n)
			curl_multi_poll(m, NULL, 0, running ? 100 : 20, NULL);
	}
out:
	for (int i = 0; i < parallel; i++) {
		if (sl[i].busy) {
			curl_multi_remove_handle(m, sl[i].h);
			curl_slist_free_all(sl[i].hd);
			free(sl[i].url);
			free(sl[i].job.body);
			free(sl[i].job.path_owned);
			buf_release(&sl[i].s.b);
		}
		curl_easy_cleanup(sl[i].h);
	}
	curl_multi_cleanup(m);
	free(sl);
	free(tries);
	free(retry);
	return rc;
}

int remote_call(struct remote *r, const char *method, const char *path, json_t *body,
		const char *idem_key, struct remote_resp *out)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc = perform(r, method, path, s ? s : (body ? "{}" : NULL), NULL, idem_key, out);
	free(s);
	return rc;
}

int remote_upload(struct remote *r, const char *file, const char *idem_key, struct remote_resp *out)
{
	curl_mime *m = curl_mime_init(r->easy);
	curl_mimepart *p = curl_mime_addpart(m);
	curl_mime_name(p, "file");
	if (curl_mime_filedata(p, file) != CURLE_OK) {
		memset(out, 0, sizeof(*out));
		snprintf(out->neterr, sizeof(out->neterr), "cannot read %s", file);
		curl_mime_free(m);
		return -1;
	}
	int rc = perform(r, "POST", "/v1/media", NULL, m, idem_key, out);
	curl_mime_free(m);
	return rc;
}

void remote_resp_free(struct remote_resp *resp)
{
	free(resp->raw);
	json_decref(resp->body);
	memset(resp, 0, sizeof(*resp));
}

int remote_exit_code(const struct remote_resp *resp)
{
	long s = resp->status;
	if (s >= 200 && s < 300)
		return CLI_OK;
	if (s == 0 || s >= 500 || s == 429)
		return CLI_SERVER;
	if (s == 401 || s == 403)
		return CLI_AUTH;
	if (s == 404 || s == 409 || s == 410)
		return CLI_NOTFOUND;
	return CLI_INVALID;
}

void remote_print_violations(json_t *violations, const char *prefix, FILE *f)
{
	size_t i;
	json_t *v;
	json_array_foreach(violations, i, v) {
		const char *rule = json_string_value(json_object_get(v, "rule"));
		const char *msg = json_string_value(json_object_get(v, "message"));
		const char *plat = json_string_value(json_object_get(v, "platform"));
		const char *rem = json_string_value(json_object_get(v, "remediation"));
		json_t *item = json_object_get(v, "item");
		fprintf(f, "%s%s", prefix, rule ? rule : "violation");
		if (plat)
			fprintf(f, " [%s", plat);
		if (json_is_integer(item))
			fprintf(f, "%sitem %lld", plat ? ", " : " [", (long long)json_integer_value(item));
		if (plat || json_is_integer(item))
			fputc(']', f);
		if (msg)
			fprintf(f, ": %s", msg);
		if (rem)
			fprintf(f, " (fix: %s)", rem);
		fputc('\n', f);
	}
}

void remote_print_error(const char *cmd, const struct remote_resp *resp, FILE *f)
{
	if (resp->status == 0) {
		fprintf(f, "herald %s: cannot reach the server: %s\n", cmd, resp->neterr);
		return;
	}
	if (!resp->err_code) {
		fprintf(f, "herald %s: HTTP %ld from the server: %.300s\n", cmd, resp->status,
			resp->raw ? resp->raw : "");
		return;
	}
	fprintf(f, "herald %s: %s: %s", cmd, resp->err_code,
		resp->err_message ? resp->err_message : "");
	if (resp->err_field || resp->err_rule) {
		fprintf(f, " (");
		if (resp->err_field)
			fprintf(f, "field %s", resp->err_field);
		if (resp->err_rule)
			fprintf(f, "%srule %s", resp->err_field ? ", " : "", resp->err_rule);
		fputc(')', f);
	}
	fprintf(f, " [HTTP %ld]\n", resp->status);
	if (resp->err_violations)
		remote_print_violations(resp->err_violations, "  - ", f);
}

char *remote_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *o = malloc(n * 3 + 1), *p = o;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = 0;
	return o;
}
