/*
 * config: every configuration option of herald, in one table (config.c).
 *
 * Precedence: command-line flag, then HERALD_* environment variable, then
 * the default.  The same table drives parsing, `herald config` (secrets
 * masked) and the help text, so an option exists exactly when it has a row.
 * A struct config is filled once at start and read-only afterwards; it is
 * shared by all threads without locking.
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <stdio.h>

#define ANALYTICS_MAX_INTERVALS 32

struct config {
	char *listen;
	char *data_dir;
	char *public_url;
	char *database_url;
	char *secret_key;
	char *role;
	long api_limit;
	long threads;
	long max_body;
	long max_upload;
	long fetch_max_seconds;
	long fetch_allow_private;
	char *fetch_allow_cidrs;
	char *storage, *s3_endpoint, *s3_bucket, *s3_region, *s3_access_key, *s3_secret_key;
	long s3_cache_max;
	long timeout;
	long access_log;
	long rate_limit;
	long overdue_horizon;
	long lease_seconds;
	long retry_base_ms;
	long retry_max;
	long drain_seconds;
	char *log_level;
	long nostr_timeout_ms;
	char *nostr_ca_file;
	char *metrics;       /* token | public | off */
	char *metrics_token;
	/* analytics sampling: seconds after publishing (ascending), then
	 * daily until analytics_days after publishing */
	char *analytics_intervals;
	long analytics_days;
	long analytics_iv[ANALYTICS_MAX_INTERVALS];
	int analytics_niv;
	int public_url_derived; /* not set by the user: follows the bound port */
};

/* Fill defaults and environment, then apply "--name value" / "--name=value"
 * flags from argv for options that have a flag.  Unknown flags are left for
 * the caller: *argc/argv are compacted to what was not consumed.  Returns 0,
 * or -1 with a message in err. */
int config_load(struct config *c, int *argc, char **argv, char *err, size_t errlen);
void config_release(struct config *c);
void config_print(const struct config *c, FILE *f);
void config_help(FILE *f);

#endif
