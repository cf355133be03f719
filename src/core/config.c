#include "config.h"
#include "arena.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STR, OPT_LONG };

struct opt {
	const char *flag;   /* without leading "--"; NULL: env only */
	const char *env;
	enum opt_type type;
	size_t off;
	const char *def;    /* NULL: derived or empty */
	int secret;
	long min, max;
	const char *help;
};

#define S(f) OPT_STR, offsetof(struct config, f)
#define L(f) OPT_LONG, offsetof(struct config, f)

static const struct opt opts[] = {
	{"listen", "HERALD_LISTEN", S(listen), "127.0.0.1:8080", 0, 0, 0, "address:port to listen on (port 0 picks a free one)"},
	{"data-dir", "HERALD_DATA_DIR", S(data_dir), "./data", 0, 0, 0, "directory for the SQLite database, secret key and uploads"},
	{"public-url", "HERALD_PUBLIC_URL", S(public_url), NULL, 0, 0, 0, "base URL herald is reached at (default http://<listen>)"},
	{"database-url", "HERALD_DATABASE_URL", S(database_url), "", 1, 0, 0, "postgres://... to use PostgreSQL instead of embedded SQLite"},
	{NULL, "HERALD_SECRET_KEY", S(secret_key), "", 1, 0, 0, "64 hex chars encrypting platform tokens (generated into the data dir if unset)"},
	{"role", "HERALD_ROLE", S(role), "all", 0, 0, 0, "api, worker or all"},
	{"api-limit", "HERALD_API_LIMIT", L(api_limit), "90", 0, 1, 100000000, "POST /public/v1/posts per organization per hour (Postiz API_LIMIT)"},
	{"threads", "HERALD_THREADS", L(threads), "0", 0, 0, 256, "event loops (0: one per core)"},
	{"max-body", "HERALD_MAX_BODY", L(max_body), "1048576", 0, 1024, 1073741824, "largest JSON request body in bytes"},
	{"max-upload", "HERALD_MAX_UPLOAD", L(max_upload), "268435456", 0, 1024, 1073741824, "largest media upload in bytes (images are also capped at 10 MB); uploads are streamed to storage, never held in memory"},
	{"fetch-timeout", "HERALD_FETCH_TIMEOUT", L(fetch_max_seconds), "60", 0, 1, 3600, "seconds an upload-from-url fetch may take"},
	{NULL, "HERALD_FETCH_ALLOW_PRIVATE", L(fetch_allow_private), "0", 0, 0, 1, "1 lets upload-from-url reach loopback, private and link-local addresses"},
	{NULL, "HERALD_FETCH_ALLOW_CIDRS", S(fetch_allow_cidrs), "", 0, 0, 0, "comma-separated address ranges upload-from-url may reach although private (e.g. 10.1.2.0/24)"},
	{"storage", "HERALD_STORAGE", S(storage), "local", 0, 0, 0, "where media lives: local ($HERALD_DATA_DIR/uploads) or s3"},
	{NULL, "HERALD_S3_ENDPOINT", S(s3_endpoint), "", 0, 0, 0, "S3-compatible endpoint URL (path-style requests), for HERALD_STORAGE=s3"},
	{NULL, "HERALD_S3_BUCKET", S(s3_bucket), "", 0, 0, 0, "bucket for media objects"},
	{NULL, "HERALD_S3_REGION", S(s3_region), "us-east-1", 0, 0, 0, "region used in the SigV4 signature"},
	{NULL, "HERALD_S3_ACCESS_KEY", S(s3_access_key), "", 0, 0, 0, "S3 access key id"},
	{NULL, "HERALD_S3_SECRET_KEY", S(s3_secret_key), "", 1, 0, 0, "S3 secret access key"},
	{NULL, "HERALD_S3_CACHE_MAX", L(s3_cache_max), "1073741824", 0, 1048576, 1099511627776, "bytes of media the local cache of the bucket may hold; the least recently used files go first"},
	{"timeout", "HERALD_TIMEOUT", L(timeout), "30", 0, 1, 3600, "seconds an idle or slow connection is kept"},
	{"access-log", "HERALD_ACCESS_LOG", L(access_log), "1", 0, 0, 1, "1 to write a JSON access log line per request"},
	{"rate-limit", "HERALD_RATE_LIMIT", L(rate_limit), "1200", 0, 1, 100000000, "requests per minute per API key"},
	{"overdue-horizon", "HERALD_OVERDUE_HORIZON", L(overdue_horizon), "172800", 0, 60, 315360000, "seconds after which an overdue post fails instead of publishing"},
	{"lease", "HERALD_LEASE_SECONDS", L(lease_seconds), "120", 0, 5, 86400, "seconds a worker's claim on a post lasts"},
	{"retry-base", "HERALD_RETRY_BASE_MS", L(retry_base_ms), "30000", 0, 10, 86400000, "first retry delay in ms (doubles per attempt, with jitter)"},
	{"retry-max", "HERALD_RETRY_MAX", L(retry_max), "8", 0, 1, 100, "attempts before a retryable failure becomes final"},
	{"drain", "HERALD_DRAIN_SECONDS", L(drain_seconds), "10", 0, 0, 600, "seconds SIGTERM waits for in-flight publishes"},
	{"nostr-timeout-ms", "HERALD_NOSTR_TIMEOUT_MS", L(nostr_timeout_ms), "10000", 0, 100, 120000, "ms a Nostr publish waits for the relays' OK answers"},
	{"nostr-ca-file", "HERALD_NOSTR_CA_FILE", S(nostr_ca_file), "", 0, 0, 0, "extra CA bundle for wss:// relays (default: the system store)"},
	{"metrics", "HERALD_METRICS", S(metrics), "token", 0, 0, 0, "GET /metrics: token (needs Authorization: Bearer HERALD_METRICS_TOKEN), public or off"},
	{NULL, "HERALD_METRICS_TOKEN", S(metrics_token), "", 1, 0, 0, "bearer token a Prometheus scraper sends for GET /metrics"},
	{"analytics-intervals", "HERALD_ANALYTICS_INTERVALS", S(analytics_intervals), "3600,21600,86400", 0, 0, 0, "seconds after publishing at which a post's metrics are sampled (comma-separated, ascending; empty: no sampling); after the last, daily until HERALD_ANALYTICS_DAYS"},
	{"analytics-days", "HERALD_ANALYTICS_DAYS", L(analytics_days), "30", 0, 0, 3650, "days after publishing during which metrics are sampled daily (0: only the listed intervals)"},
	{"log-level", "HERALD_LOG_LEVEL", S(log_level), "info", 0, 0, 0, "debug, info, warn or error"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static int set_opt(struct config *c, const struct opt *o, const char *v, char *err, size_t errlen)
{
	char *field = (char *)c + o->off;
	if (o->type == OPT_STR) {
		char **p = (char **)field;
		free(*p);
		*p = xstrdup(v);
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < o->min || n > o->max) {
		snprintf(err, errlen, "%s: '%s' is not a number from %ld to %ld",
			 o->flag ? o->flag : o->env, v, o->min, o->max);
		return -1;
	}
	*(long *)field = n;
	return 0;
}

int config_load(struct config *c, int *argc, char **argv, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	/* flags first: a flag replaces the environment, so an unusable
	 * environment value that a flag overrides must not stop the start */
	const char *given[sizeof(opts) / sizeof(opts[0])] = {0};
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		int hit = -1;
		const char *val = NULL;
		if (a[0] == '-' && a[1] == '-') {
			for (size_t k = 0; k < NOPTS && hit < 0; k++) {
				if (!opts[k].flag)
					continue;
				size_t fl = strlen(opts[k].flag);
				if (strncmp(a + 2, opts[k].flag, fl))
					continue;
				if (a[2 + fl] == '=') {
					hit = (int)k;
					val = a + 3 + fl;
				} else if (a[2 + fl] == 0) {
					hit = (int)k;
					if (i + 1 >= *argc) {
						snprintf(err, errlen, "--%s needs a value", opts[k].flag);
						return -1;
					}
					val = argv[++i];
				}
			}
		}
		if (hit >= 0)
			given[hit] = val;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	for (size_t i = 0; i < NOPTS; i++) {
		const char *v = given[i];
		if (!v)
			v = getenv(opts[i].env);
		if (!v)
			v = opts[i].def;
		if (v && set_opt(c, &opts[i], v, err, errlen))
			return -1;
	}
	if (!c->public_url || !*c->public_url) {
		free(c->public_url);
		size_t n = strlen(c->listen) + 8;
		c->public_url = xmalloc(n);
		snprintf(c->public_url, n, "http://%s", c->listen);
		c->public_url_derived = 1;
	}
	size_t pl = strlen(c->public_url);
	while (pl > 0 && c->public_url[pl - 1] == '/')
		c->public_url[--pl] = 0;
	if (strcmp(c->metrics, "token") && strcmp(c->metrics, "public") && strcmp(c->metrics, "off")) {
		snprintf(err, errlen, "metrics: '%s' is not one of token, public, off", c->metrics);
		return -1;
	}
	c->analytics_niv = 0;
	for (const char *p = c->analytics_intervals; *p;) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		long prev = c->analytics_niv ? c->analytics_iv[c->analytics_niv - 1] : 0;
		if (errno || end == p || v < 1 || v > 315360000 || v <= prev ||
		    c->analytics_niv >= ANALYTICS_MAX_INTERVALS || (*end && *end != ',') ||
		    (*end == ',' && !end[1])) {
			snprintf(err, errlen,
				 "analytics-intervals: '%s' is not a list of at most %d ascending "
				 "numbers of seconds (e.g. 3600,21600,86400)",
				 c->analytics_intervals, ANALYTICS_MAX_INTERVALS);
			return -1;
		}
		c->analytics_iv[c->analytics_niv++] = v;
		p = *end ? end + 1 : end;
	}
	if (strcmp(c->role, "all") && strcmp(c->role, "api") && strcmp(c->role, "worker")) {
		snprintf(err, errlen, "role: '%s' is not one of api, worker, all", c->role);
		return -1;
	}
	return 0;
}

void config_release(struct config *c)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].type == OPT_STR)
			free(*(char **)((char *)c + opts[i].off));
	memset(c, 0, sizeof(*c));
}

void config_print(const struct config *c, FILE *f)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		const char *field = (const char *)c + o->off;
		if (o->type == OPT_LONG) {
			fprintf(f, "%-24s %ld\n", o->env, *(const long *)field);
			continue;
		}
		const char *v = *(char *const *)field;
		if (o->secret && v && *v)
			fprintf(f, "%-24s ******** (set)\n", o->env);
		else
			fprintf(f, "%-24s %s\n", o->env, v ? v : "");
	}
}

void config_help(FILE *f)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		char flag[40] = "";
		if (o->flag)
			snprintf(flag, sizeof(flag), "--%s", o->flag);
		fprintf(f, "  %-18s %-24s %s%s%s%s\n", flag, o->env, o->help,
			o->def && *o->def ? " [" : "", o->def && *o->def && !o->secret ? o->def : "",
			o->def && *o->def ? "]" : "");
	}
}
