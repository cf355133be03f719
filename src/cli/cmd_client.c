/*
 * client: the remote commands (post, posts, validate, media, channels list)
 * talking to a herald server's /v1 API through remote.c.
 *
 * Output: human-readable on stdout by default, the server's JSON verbatim
 * with --json.  Errors go to stderr, decoded from the error envelope, and
 * the exit code says what kind of failure it was (enum cli_exit).
 */
#include "cli.h"
#include "remote.h"
#include "../core/timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

/* ---- shared helpers ---------------------------------------------------- */

int client_args(int *argc, char **argv, struct client_args *ca)
{
	memset(ca, 0, sizeof(*ca));
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		size_t fl = 0;
		if (!strncmp(a, "--url", 5) && (a[5] == 0 || a[5] == '='))
			dst = &ca->url, fl = 5;
		else if (!strncmp(a, "--key", 5) && (a[5] == 0 || a[5] == '='))
			dst = &ca->key, fl = 5;
		else if (!strcmp(a, "--json")) {
			ca->json = 1;
			continue;
		}
		if (!dst) {
			argv[out++] = argv[i];
			continue;
		}
		if (a[fl] == '=') {
			*dst = a + fl + 1;
		} else {
			if (i + 1 >= *argc) {
				fprintf(stderr, "herald %s: %s needs a value\n", argv[0], a);
				return -1;
			}
			*dst = argv[++i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int client_open(const char *cmd, const struct client_args *ca, struct remote *r)
{
	char err[300];
	if (remote_open(r, ca->url, ca->key, err, sizeof(err))) {
		fprintf(stderr, "herald %s: %s\n", cmd, err);
		return strstr(err, "API key") ? CLI_AUTH : CLI_USAGE;
	}
	return CLI_OK;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		puts(s);
	free(s);
}

static void print_json_new(json_t *j)
{
	print_json(j);
	json_decref(j);
}

/* on a non-2xx response or transport failure: print, return the exit code */
static int fail(const char *cmd, struct remote_resp *resp, int json)
{
	int rc = remote_exit_code(resp);
	remote_print_error(cmd, resp, stderr);
	if (json && resp->body)
		print_json(resp->body);
	return rc;
}

int client_accounts(const char *cmd, struct remote *r, json_t **out)
{
	struct remote_resp resp;
	*out = NULL;
	remote_call(r, "GET", "/v1/accounts", NULL, NULL, &resp);
	if (resp.status != 200) {
		int rc = fail(cmd, &resp, 0);
		remote_resp_free(&resp);
		return rc;
	}
	json_t *d = json_object_get(resp.body, "data");
	if (!json_is_array(d)) {
		fprintf(stderr, "herald %s: unexpected /v1/accounts response\n", cmd);
		remote_resp_free(&resp);
		return CLI_SERVER;
	}
	*out = json_incref(d);
	remote_resp_free(&resp);
	return CLI_OK;
}

json_t *client_target(json_t *accounts, const char *tok, int bare_platform, char *err, size_t errlen)
{
	size_t i;
	json_t *a;
	json_array_foreach(accounts, i, a) {
		const char *id = json_string_value(json_object_get(a, "id"));
		if (id && !strcmp(id, tok))
			return json_pack("{s:s}", "accountId", id);
	}
	const char *hit = NULL;
	int nhit = 0;
	json_array_foreach(accounts, i, a) {
		const char *name = json_string_value(json_object_get(a, "name"));
		if (name && !strcasecmp(name, tok)) {
			nhit++;
			hit = json_string_value(json_object_get(a, "id"));
		}
	}
	if (nhit == 1)
		return json_pack("{s:s}", "accountId", hit);
	if (nhit > 1) {
		snprintf(err, errlen, "channel '%s' is ambiguous: %d channels have that name; use its id",
			 tok, nhit);
		return NULL;
	}
	int nplat = 0;
	json_array_foreach(accounts, i, a) {
		const char *p = json_string_value(json_object_get(a, "platform"));
		if (p && !strcasecmp(p, tok)) {
			nplat++;
			hit = json_string_value(json_object_get(a, "id"));
		}
	}
	if (nplat == 1)
		return json_pack("{s:s}", "accountId", hit);
	if (nplat > 1) {
		snprintf(err, errlen, "channel '%s' is ambiguous: %d %s channels are connected; use a name or id",
			 tok, nplat, tok);
		return NULL;
	}
	if (bare_platform) {
		/* validation may check a platform the organization has not connected;
		 * the server names it when it is no platform at all */
		int ok = 1;
		for (const char *q = tok; *q; q++)
			if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '_'))
				ok = 0;
		if (ok)
			return json_pack("{s:s}", "platform", tok);
	}
	snprintf(err, errlen, "channel '%s' is not a connected channel (give an id, a name or a platform; "
			      "see 'herald channels list')", tok);
	return NULL;
}

static int tz_selected;

int cli_set_tz(const char *tz, char *err, size_t errlen)
{
	if (!tz || !*tz || !strcmp(tz, "UTC") || !strcmp(tz, "Z")) {
		setenv("TZ", "UTC", 1);
		tzset();
		tz_selected = 0;
		return 0;
	}
	char path[600];
	struct stat sb;
	const char *dir = getenv("TZDIR");
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
	if (tz[0] == '/' || strstr(tz, "..") || stat(path, &sb) || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "unknown time zone '%s' (want an IANA name like Europe/Paris)", tz);
		return -1;
	}
	setenv("TZ", tz, 1);
	tzset();
	tz_selected = 1;
	return 0;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int cli_parse_time(const char *s, const char *tz, long long *out_ms, char *err, size_t errlen)
{
	(void)tz; /* selected with cli_set_tz */
	const char *p = s;
	int Y, M, D, h = 0, m = 0, sec = 0, ms = 0;
	while (*p == ' ')
		p++;
	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
		goto bad;
	if (*p != 'T' && *p != 't' && *p != ' ') {
		snprintf(err, errlen, "'%s' has no time of day (want YYYY-MM-DD HH:MM[:SS][Z|+hh:mm])", s);
		return -1;
	}
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m))
		goto bad;
	if (*p == ':') {
		p++;
		if (digits(&p, 2, &sec))
			goto bad;
		if (*p == '.') {
			p++;
			int n = 0;
			while (*p >= '0' && *p <= '9') {
				if (n < 3)
					ms = ms * 10 + (*p - '0');
				n++;
				p++;
			}
			if (!n)
				goto bad;
			for (; n < 3; n++)
				ms *= 10;
		}
	}
	int has_off = 0;
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		has_off = 1;
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om = 0;
		p++;
		if (digits(&p, 2, &oh))
			goto bad;
		if (*p == ':')
			p++;
		if (*p && digits(&p, 2, &om))
			goto bad;
		if (oh > 23 || om > 59)
			goto bad;
		has_off = 1;
		off = sign * (oh * 3600L + om * 60L);
	}
	while (*p == ' ')
		p++;
	if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		goto bad;
	struct tm tm = {0};
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	time_t t;
	if (has_off || !tz_selected) {
		t = timegm(&tm);
		if (tm.tm_mday != D || tm.tm_mon != M - 1)
			goto bad;
		t -= off;
	} else {
		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (t == (time_t)-1 || tm.tm_mday != D || tm.tm_hour != h || tm.tm_min != m) {
			snprintf(err, errlen, "'%s' does not exist in time zone %s (daylight saving gap?)", s,
				 getenv("TZ"));
			return -1;
		}
	}
	*out_ms = (long long)t * 1000 + ms;
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not a date and time (want YYYY-MM-DD HH:MM[:SS][Z|+hh:mm])", s);
	return -1;
}

/* ---- printing posts ---------------------------------------------------- */

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* first line of s, at most n bytes, not splitting a UTF-8 sequence */
static void snippet(const char *s, size_t n, char *out)
{
	size_t i = 0;
	for (; s[i] && s[i] != '\n' && s[i] != '\r' && i < n; i++)
		out[i] = s[i];
	if (i == n && s[i])
		while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
			i--;
	out[i] = 0;
}

static void print_post_row(json_t *p)
{
	char sn[64];
	snippet(jstr(p, "text"), 48, sn);
	json_t *t = json_object_get(p, "targets");
	printf("%-26s  %-19s  %-24s  %2zu  %s\n", jstr(p, "id"), jstr(p, "status"),
	       *jstr(p, "scheduledAt") ? jstr(p, "scheduledAt") : "-", json_array_size(t), sn);
}

static void print_post(json_t *p)
{
	printf("id:        %s\nstatus:    %s\n", jstr(p, "id"), jstr(p, "status"));
	if (*jstr(p, "scheduledAt"))
		printf("scheduled: %s\n", jstr(p, "scheduledAt"));
	json_t *tags = json_object_get(p, "tags");
	if (json_array_size(tags)) {
		printf("tags:      ");
		size_t i;
		json_t *t;
		json_array_foreach(tags, i, t) printf("%s%s", i ? ", " : "", json_string_value(t));
		putchar('\n');
	}
	printf("text:      %s\n", jstr(p, "text"));
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(p, "targets"), i, t) {
		printf("target %zu:  %s %s (%s) %s", i + 1, jstr(t, "platform"), jstr(t, "accountName"),
		       jstr(t, "accountId"), jstr(t, "status"));
		if (*jstr(t, "releaseUrl"))
			printf(" %s", jstr(t, "releaseUrl"));
		if (*jstr(t, "error"))
			printf(" error: %s", jstr(t, "error"));
		putchar('\n');
	}
}

/* ---- post / validate --------------------------------------------------- */

struct post_args {
	const char *text, *at, *first_comment, *idem;
	int now, draft, queue;
	const char *to[64];
	int nto;
	const char *media[32];
	int nmedia;
	const char *thread[64];
	int nthread;
	const char *tags[32];
	int ntags;
};

static int post_parse(const char *cmd, int argc, char **argv, struct post_args *pa)
{
	memset(pa, 0, sizeof(*pa));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		int *cnt = NULL, max = 0;
		const char **arr = NULL;
		if (!strcmp(a, "--to"))
			arr = pa->to, cnt = &pa->nto, max = 64;
		else if (!strcmp(a, "--media"))
			arr = pa->media, cnt = &pa->nmedia, max = 32;
		else if (!strcmp(a, "--thread"))
			arr = pa->thread, cnt = &pa->nthread, max = 64;
		else if (!strcmp(a, "--tag"))
			arr = pa->tags, cnt = &pa->ntags, max = 32;
		else if (!strcmp(a, "--at"))
			slot = &pa->at;
		else if (!strcmp(a, "--first-comment"))
			slot = &pa->first_comment;
		else if (!strcmp(a, "--idempotency-key"))
			slot = &pa->idem;
		else if (!strcmp(a, "--now")) {
			pa->now = 1;
			continue;
		} else if (!strcmp(a, "--draft")) {
			pa->draft = 1;
			continue;
		} else if (!strcmp(a, "--queue")) {
			pa->queue = 1;
			continue;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "herald %s: unknown option '%s' (see 'herald %s --help')\n", cmd, a, cmd);
			return -1;
		} else if (!pa->text) {
			pa->text = a;
			continue;
		} else {
			fprintf(stderr, "herald %s: unexpected argument '%s' (quote the text)\n", cmd, a);
			return -1;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "herald %s: %s needs a value\n", cmd, a);
			return -1;
		}
		if (slot) {
			*slot = argv[++i];
		} else if (*cnt >= max) {
			fprintf(stderr, "herald %s: too many %s (at most %d)\n", cmd, a, max);
			return -1;
		} else {
			arr[(*cnt)++] = argv[++i];
		}
	}
	if (!pa->nto) {
		fprintf(stderr, "herald %s: --to CHANNELS is required (ids, names or platforms, comma-separated)\n",
			cmd);
		return -1;
	}
	if (!pa->text && !pa->nmedia) {
		fprintf(stderr, "herald %s: give the text to post (or --media)\n", cmd);
		return -1;
	}
	if (!!pa->at + pa->now + pa->draft + pa->queue > 1) {
		fprintf(stderr, "herald %s: choose one of --at, --now, --draft, --queue\n", cmd);
		return -1;
	}
	return 0;
}

static int is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* media for validation only: a local file is described, not uploaded */
const char *cli_mime_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	static const char *map[][2] = {{"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"},
				       {"gif", "image/gif"}, {"webp", "image/webp"}, {"mp4", "video/mp4"},
				       {"mov", "video/quicktime"}, {"webm", "video/webm"}};
	if (dot)
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strcasecmp(dot + 1, map[i][0]))
				return map[i][1];
	return "application/octet-stream";
}

json_t *cli_media_placeholder(const char *path, long long bytes)
{
	/* /v1/posts/validate wants a URL for every medium but never fetches
	 * it: a local file not uploaded yet is named under the reserved
	 * .invalid domain (RFC 2606) and described by its type and size */
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char *e = remote_escape(base);
	size_t n = strlen(e) + 40;
	char *url = malloc(n);
	snprintf(url, n, "https://local-file.invalid/%s", e);
	json_t *j = json_pack("{s:s,s:s,s:I}", "url", url, "mime", cli_mime_of(path), "bytes",
			      (json_int_t)bytes);
	free(e);
	free(url);
	return j;
}

/* one media argument to its JSON: a URL as {url}, a file uploaded ({mediaId})
 * or, when upload is 0, described by mime and size for preflight */
static int media_json(const char *cmd, struct remote *r, const char *m, int upload, const char *idem,
		      json_t **out)
{
	*out = NULL;
	if (is_url(m)) {
		*out = json_pack("{s:s}", "url", m);
		return CLI_OK;
	}
	struct stat sb;
	if (stat(m, &sb) || !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "herald %s: media '%s' is neither an http(s) URL nor a readable file\n", cmd, m);
		return CLI_USAGE;
	}
	if (!upload) {
		*out = cli_media_placeholder(m, (long long)sb.st_size);
		return CLI_OK;
	}
	struct remote_resp resp;
	remote_upload(r, m, idem, &resp);
	if (resp.status != 201 && resp.status != 200) {
		int rc = fail(cmd, &resp, 0);
		remote_resp_free(&resp);
		return rc;
	}
	const char *id = json_string_value(json_object_get(resp.body, "id"));
	if (!id) {
		fprintf(stderr, "herald %s: upload of %s returned no id\n", cmd, m);
		remote_resp_free(&resp);
		return CLI_SERVER;
	}
	const char *url = json_string_value(json_object_get(resp.body, "url"));
	*out = json_pack("{s:s,s:s?}", "mediaId", id, "url", url);
	remote_resp_free(&resp);
	return CLI_OK;
}

/* upload == 0: for validation (media described, bare platforms allowed) */
static int build_body(const char *cmd, struct remote *r, struct post_args *pa, int upload, json_t **out)
{
	*out = NULL;
	json_t *accounts = NULL;
	int rc = client_accounts(cmd, r, &accounts);
	if (rc)
		return rc;
	json_t *b = json_object();
	json_object_set_new(b, "text", json_string(pa->text ? pa->text : ""));
	if (!json_object_get(b, "text")) {
		fprintf(stderr, "herald %s: the text is not valid UTF-8\n", cmd);
		rc = CLI_USAGE;
		goto out;
	}
	json_t *targets = json_array();
	json_object_set_new(b, "targets", targets);
	for (int i = 0; i < pa->nto; i++) {
		char *list = strdup(pa->to[i]), *save = NULL;
		for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			while (*tok == ' ')
				tok++;
			size_t tl = strlen(tok);
			while (tl && tok[tl - 1] == ' ')
				tok[--tl] = 0;
			if (!*tok)
				continue;
			char err[300];
			json_t *t = client_target(accounts, tok, !upload, err, sizeof(err));
			if (!t) {
				fprintf(stderr, "herald %s: %s\n", cmd, err);
				free(list);
				rc = CLI_INVALID;
				goto out;
			}
			json_array_append_new(targets, t);
		}
		free(list);
	}
	if (pa->nmedia) {
		json_t *ma = json_array();
		json_object_set_new(b, "media", ma);
		for (int i = 0; i < pa->nmedia; i++) {
			json_t *m;
			/* with --idempotency-key K the uploads are keyed K-media-N, so a
			 * retried command gets the same media ids and so the same body */
			char ik[300];
			snprintf(ik, sizeof(ik), "%.240s-media-%d", pa->idem ? pa->idem : "", i);
			if ((rc = media_json(cmd, r, pa->media[i], upload, pa->idem ? ik : NULL, &m)))
				goto out;
			json_array_append_new(ma, m);
		}
	}
	if (pa->nthread) {
		json_t *th = json_array();
		for (int i = 0; i < pa->nthread; i++)
			json_array_append_new(th, json_string(pa->thread[i]));
		json_object_set_new(b, "thread", th);
	}
	if (pa->ntags) {
		json_t *tg = json_array();
		for (int i = 0; i < pa->ntags; i++)
			json_array_append_new(tg, json_string(pa->tags[i]));
		json_object_set_new(b, "tags", tg);
	}
	if (pa->first_comment)
		json_object_set_new(b, "firstComment", json_string(pa->first_comment));
	if (pa->at) {
		long long ms;
		char err[300], iso[32];
		if (cli_parse_time(pa->at, NULL, &ms, err, sizeof(err))) {
			fprintf(stderr, "herald %s: --at %s\n", cmd, err);
			rc = CLI_USAGE;
			goto out;
		}
		iso_format(ms, iso);
		json_object_set_new(b, "scheduledAt", json_string(iso));
	} else if (pa->draft) {
		json_object_set_new(b, "draft", json_true());
	} else if (pa->queue) {
		json_object_set_new(b, "queue", json_true());
	} else {
		json_object_set_new(b, "publishNow", json_true());
	}
	*out = b;
	b = NULL;
out:
	json_decref(b);
	json_decref(accounts);
	return rc;
}

int cmd_post(int argc, char **argv, struct config *cfg)
{
	(void)cfg;
	struct client_args ca;
	struct post_args pa;
	struct remote r;
	if (client_args(&argc, argv, &ca) || post_parse("post", argc, argv, &pa))
		return CLI_USAGE;
	int rc = client_open("post", &ca, &r);
	if (rc)
		return rc;
	json_t *body = NULL;
	if ((rc = build_body("post", &r, &pa, 1, &body)))
		goto out;
	struct remote_resp resp;
	remote_call(&r, "POST", "/v1/posts", body, pa.idem, &resp);
	if (resp.status != 200 && resp.status != 201 && resp.status != 202) {
		rc = fail("post", &resp, ca.json);
	} else if (ca.json) {
		print_json(resp.body);
	} else {
		print_post(resp.body);
	}
	remote_resp_free(&resp);
out:
	json_decref(body);
	remote_close(&r);
	return rc;
}

int cmd_validate(int argc, char **argv, struct config *cfg)
{
	(void)cfg;
	struct client_args ca;
	struct post_args pa;
	struct remote r;
	if (client_args(&argc, argv, &ca) || post_parse("validate", argc, argv, &pa))
		return CLI_USAGE;
	int rc = client_open("validate", &ca, &r);
	if (rc)
		return rc;
	json_t *body = NULL;
	if ((rc = build_body("validate", &r, &pa, 0, &body)))
		goto out;
	struct remote_resp resp;
	remote_call(&r, "POST", "/v1/posts/validate", body, NULL, &resp);
	if (resp.status != 200) {
		rc = fail("validate", &resp, ca.json);
	} else {
		int valid = json_is_true(json_object_get(resp.body, "valid"));
		if (ca.json) {
			print_json(resp.body);
		} else if (valid) {
			printf("valid: no preflight violations\n");
		} else {
			json_t *v = json_object_get(resp.body, "violations");
			printf("invalid: %zu violation%s\n", json_array_size(v),
			       json_array_size(v) == 1 ? "" : "s");
			remote_print_violations(v, "  - ", stdout);
		}
		rc = valid ? CLI_OK : CLI_INVALID;
	}
	remote_resp_free(&resp);
out:
	json_decref(body);
	remote_close(&r);
	return rc;
}

/* ---- posts ------------------------------------------------------------- */

static int posts_one(struct remote *r, const struct client_args *ca, const char *sub,
		     const char *method, const char *id, const char *suffix)
{
	char *eid = remote_escape(id);
	size_t n = strlen(eid) + 32;
	char *path = malloc(n);
	snprintf(path, n, "/v1/posts/%s%s", eid, suffix);
	free(eid);
	struct remote_resp resp;
	char cmd[32];
	snprintf(cmd, sizeof(cmd), "posts %s", sub);
	remote_call(r, method, path, NULL, NULL, &resp);
	free(path);
	int rc = CLI_OK;
	if (resp.status < 200 || resp.status >= 300)
		rc = fail(cmd, &resp, ca->json);
	else if (ca->json)
		print_json(resp.body);
	else if (!strcmp(sub, "show"))
		print_post(resp.body);
	else
		printf("%s %s: %s\n", !strcmp(sub, "cancel") ? "canceled" : "retrying", id,
		       jstr(resp.body, "status"));
	remote_resp_free(&resp);
	return rc;
}

static int posts_list(struct remote *r, const struct client_args *ca, int argc, char **argv)
{
	static const char *const filters[][2] = {{"--status", "status"}, {"--channel", "accountId"},
						 {"--platform", "platform"}, {"--tag", "tag"},
						 {"--from", "from"}, {"--to", "to"}, {"--limit", "limit"}};
	char q[2048] = "";
	size_t ql = 0;
	int all = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--all")) {
			all = 1;
			continue;
		}
		size_t k = 0, nf = sizeof(filters) / sizeof(filters[0]);
		for (; k < nf; k++)
			if (!strcmp(argv[i], filters[k][0]))
				break;
		if (k == nf || i + 1 >= argc) {
			fprintf(stderr, "herald posts list: %s '%s'\n",
				k == nf ? "unexpected argument" : "needs a value:", argv[i]);
			return CLI_USAGE;
		}
		const char *v = argv[++i];
		char vbuf[40], idbuf[128];
		if (!strcmp(filters[k][1], "accountId")) {
			/* a channel name works as well as an id */
			json_t *acc = NULL, *t;
			char err[300];
			int arc = client_accounts("posts list", r, &acc);
			if (arc)
				return arc;
			t = client_target(acc, v, 0, err, sizeof(err));
			json_decref(acc);
			if (!t) {
				fprintf(stderr, "herald posts list: --channel: %s\n", err);
				return CLI_INVALID;
			}
			snprintf(idbuf, sizeof(idbuf), "%s", json_string_value(json_object_get(t, "accountId")));
			json_decref(t);
			v = idbuf;
		}
		if (!strcmp(filters[k][1], "from") || !strcmp(filters[k][1], "to")) {
			long long ms;
			char err[300];
			if (cli_parse_time(v, NULL, &ms, err, sizeof(err))) {
				fprintf(stderr, "herald posts list: %s %s\n", filters[k][0], err);
				return CLI_USAGE;
			}
			iso_format(ms, vbuf);
			v = vbuf;
		}
		char *e = remote_escape(v);
		int w = snprintf(q + ql, sizeof(q) - ql, "%c%s=%s", ql ? '&' : '?', filters[k][1], e);
		free(e);
		if (w < 0 || (size_t)w >= sizeof(q) - ql) {
			fprintf(stderr, "herald posts list: filters too long\n");
			return CLI_USAGE;
		}
		ql += (size_t)w;
	}
	json_t *collected = json_array();
	char *cursor = NULL;
	int rc = CLI_OK, header = 0;
	for (;;) {
		char path[3072];
		if (cursor) {
			char *e = remote_escape(cursor);
			snprintf(path, sizeof(path), "/v1/posts%s%ccursor=%s", q, ql ? '&' : '?', e);
			free(e);
		} else {
			snprintf(path, sizeof(path), "/v1/posts%s", q);
		}
		free(cursor);
		cursor = NULL;
		struct remote_resp resp;
		remote_call(r, "GET", path, NULL, NULL, &resp);
		if (resp.status != 200) {
			rc = fail("posts list", &resp, ca->json);
			remote_resp_free(&resp);
			break;
		}
		json_t *data = json_object_get(resp.body, "data");
		size_t i;
		json_t *p;
		if (ca->json) {
			json_array_extend(collected, data);
		} else {
			if (!header++)
				printf("%-26s  %-19s  %-24s  %2s  %s\n", "ID", "STATUS", "SCHEDULED", "T",
				       "TEXT");
			json_array_foreach(data, i, p) print_post_row(p);
		}
		const char *nc = json_string_value(json_object_get(resp.body, "nextCursor"));
		if (all && nc && *nc && json_array_size(data))
			cursor = strdup(nc);
		else if (!all && nc && *nc && !ca->json)
			fprintf(stderr, "(more: --all to list every page)\n");
		if (ca->json && !cursor)
			print_json_new(json_pack("{s:O,s:s?}", "data", collected, "nextCursor",
					     all ? NULL : nc));
		remote_resp_free(&resp);
		if (!cursor)
			break;
	}
	json_decref(collected);
	return rc;
}

int cmd_posts(int argc, char **argv, struct config *cfg)
{
	(void)cfg;
	struct client_args ca;
	struct remote r;
	if (client_args(&argc, argv, &ca))
		return CLI_USAGE;
	const char *sub = argc > 1 ? argv[1] : NULL;
	if (!sub || (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "cancel") &&
		     strcmp(sub, "retry"))) {
		fprintf(stderr, "herald posts: want list, show ID, cancel ID or retry ID\n");
		return CLI_USAGE;
	}
	if (strcmp(sub, "list") && argc != 3) {
		fprintf(stderr, "herald posts %s: want exactly one post id\n", sub);
		return CLI_USAGE;
	}
	int rc = client_open("posts", &ca, &r);
	if (rc)
		return rc;
	if (!strcmp(sub, "list"))
		rc = posts_list(&r, &ca, argc, argv);
	else if (!strcmp(sub, "show"))
		rc = posts_one(&r, &ca, sub, "GET", argv[2], "");
	else if (!strcmp(sub, "cancel"))
		rc = posts_one(&r, &ca, sub, "DELETE", argv[2], "");
	else
		rc = posts_one(&r, &ca, sub, "POST", argv[2], "/retry");
	remote_close(&r);
	return rc;
}

/* ---- media ------------------------------------------------------------- */

int cmd_media(int argc, char **argv, struct config *cfg)
{
	(void)cfg;
	struct client_args ca;
	struct remote r;
	if (client_args(&argc, argv, &ca))
		return CLI_USAGE;
	if (argc != 3 || strcmp(argv[1], "upload")) {
		fprintf(stderr, "herald media: want 'upload FILE' or 'upload URL'\n");
		return CLI_USAGE;
	}
	const char *f = argv[2];
	struct stat sb;
	if (!is_url(f) && (stat(f, &sb) || !S_ISREG(sb.st_mode))) {
		fprintf(stderr, "herald media upload: cannot read %s: %s\n", f,
			errno ? strerror(errno) : "not a regular file");
		return CLI_USAGE;
	}
	int rc = client_open("media", &ca, &r);
	if (rc)
		return rc;
	struct remote_resp resp;
	if (is_url(f)) {
		json_t *b = json_pack("{s:s}", "url", f);
		remote_call(&r, "POST", "/v1/media/from-url", b, NULL, &resp);
		json_decref(b);
	} else {
		remote_upload(&r, f, NULL, &resp);
	}
	if (resp.status != 200 && resp.status != 201)
		rc = fail("media upload", &resp, ca.json);
	else if (ca.json)
		print_json(resp.body);
	else
		printf("%s  %s  %s  %lld bytes\n", jstr(resp.body, "id"), jstr(resp.body, "url"),
		       jstr(resp.body, "mime"), (long long)json_integer_value(json_object_get(resp.body, "bytes")));
	remote_resp_free(&resp);
	remote_close(&r);
	return rc;
}

/* ---- channels list (remote) -------------------------------------------- */

int client_channels_remote(int argc, char **argv)
{
	int url = getenv("HERALD_URL") && *getenv("HERALD_URL");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--org") || !strcmp(argv[i], "--local"))
			return 0;
		if (!strncmp(argv[i], "--url", 5) && (argv[i][5] == 0 || argv[i][5] == '='))
			url = 1;
	}
	return url;
}

int client_channels_list(int argc, char **argv)
{
	struct client_args ca;
	struct remote r;
	if (client_args(&argc, argv, &ca))
		return CLI_USAGE;
	if (argc != 2) {
		fprintf(stderr, "herald channels list: unexpected argument '%s'\n", argv[2]);
		return CLI_USAGE;
	}
	int rc = client_open("channels", &ca, &r);
	if (rc)
		return rc;
	json_t *acc = NULL;
	if (!(rc = client_accounts("channels list", &r, &acc))) {
		if (ca.json) {
			print_json_new(json_pack("{s:O}", "data", acc));
		} else {
			size_t i;
			json_t *a;
			printf("%-26s  %-10s  %-24s  %s\n", "ID", "PLATFORM", "NAME", "STATE");
			json_array_foreach(acc, i, a) printf("%-26s  %-10s  %-24s  %s\n", jstr(a, "id"),
							     jstr(a, "platform"), jstr(a, "name"),
							     json_is_true(json_object_get(a, "disabled")) ? "disabled" : "active");
		}
	}
	json_decref(acc);
	remote_close(&r);
	return rc;
}
