/*
 * providers: the table of every platform herald knows.  Order is the order
 * listed by /v1/platforms and the docs.
 */
#include "provider.h"

#include "../core/timeutil.h"
#include "../http/client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct provider provider_webhook;
extern const struct provider provider_rss;
extern const struct provider provider_telegram;
extern const struct provider provider_discord;
extern const struct provider provider_slack;
extern const struct provider provider_nostr;
extern const struct provider provider_bluesky;
extern const struct provider provider_mastodon;

static const struct provider *const table[] = {
	&provider_webhook,
	&provider_rss,
	&provider_telegram,
	&provider_discord,
	&provider_slack,
	&provider_nostr,
	&provider_bluesky,
	&provider_mastodon,
};

#define NPROV (sizeof(table) / sizeof(table[0]))

static const struct config *g_cfg;

void providers_configure(const struct config *cfg)
{
	g_cfg = cfg;
}

const struct config *providers_config(void)
{
	return g_cfg;
}

const struct provider *provider_find(const char *identifier)
{
	if (!identifier)
		return NULL;
	for (size_t i = 0; i < NPROV; i++)
		if (!strcmp(table[i]->identifier, identifier))
			return table[i];
	return NULL;
}

size_t provider_count(void)
{
	return NPROV;
}

const struct provider *provider_at(size_t i)
{
	return i < NPROV ? table[i] : NULL;
}

const char *provider_base_url(const struct provider *pr)
{
	char env[96];
	snprintf(env, sizeof(env), "HERALD_%s_BASE_URL", pr->identifier);
	for (char *p = env; *p; p++)
		*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	return getenv(env);
}

int64_t pub_retry_after(const struct hresp *r)
{
	char v[64];
	if (hresp_header(r, "Retry-After", v, sizeof(v)))
		return 0;
	char *end;
	long secs = strtol(v, &end, 10);
	/* a day is the most any platform asks for; more is a broken header */
	if (end != v && !*end && secs >= 0)
		return (int64_t)(secs > 86400 ? 86400 : secs) * 1000;
	struct tm tm = {0};
	if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
		int64_t at = (int64_t)timegm(&tm) * 1000 - now_ms();
		return at > 0 ? at : 0;
	}
	return 0;
}

enum pub_status pub_classify_status(long status)
{
	if (status >= 200 && status < 300)
		return PUB_OK;
	if (status == 408 || status == 425 || status == 429 || status >= 500)
		return PUB_RETRY;
	if (status == 401)
		return PUB_AUTH_EXPIRED;
	return PUB_FAILED;
}
