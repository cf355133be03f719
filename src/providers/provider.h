/*
 * provider: the contract every platform implements, and the one table of
 * providers (providers.c).  Adding a platform means one .c file, one row in
 * that table and its test cases.
 *
 * Capabilities are data (flags, limits), read by preflight, the settings
 * route and /v1/platforms without branching on the platform name.  The
 * functions a provider implements are all optional except `connect`:
 * a provider whose publishing is not implemented yet has publish == NULL
 * and the engine fails its posts with a clear reason instead of pretending.
 */
#ifndef HERALD_PROVIDER_H
#define HERALD_PROVIDER_H

#include <jansson.h>
#include <stddef.h>

struct arena;

#define PROV_THREADS      (1u << 0) /* value[1..] publish as replies */
#define PROV_IMAGES       (1u << 1)
#define PROV_VIDEO        (1u << 2)
#define PROV_DELETE       (1u << 3)
#define PROV_IDEMPOTENT   (1u << 4) /* a retry can never create a second post */
#define PROV_METRICS      (1u << 5)
#define PROV_CREDENTIALS  (1u << 6) /* connects with credentials (no OAuth) */

struct provider_field {
	const char *name;
	const char *type; /* "string", "url", "secret" */
	int required;
	const char *help;
};

struct provider {
	const char *identifier; /* Postiz providerIdentifier */
	const char *name;
	unsigned flags;
	int max_length;         /* Postiz maxLength(), in the platform's own unit */
	const char *editor;     /* none | normal | markdown | html */
	const char *rules;      /* human text served by integration-settings */
	const struct provider_field *credentials; /* NULL-name terminated */
	/* JSON Schema text of the settings DTO, or NULL when there are none */
	const char *settings_schema;
	/* Check credentials (object) and fill *profile with a display handle.
	 * 0 ok, or -1 with *err set (arena string) naming the bad field. */
	int (*connect)(struct arena *a, json_t *credentials, const char **profile,
		       const char **err);
};

const struct provider *provider_find(const char *identifier);
size_t provider_count(void);
const struct provider *provider_at(size_t i);

#endif
