/* health: liveness, readiness and the two catalogs (error codes, preflight
 * rules), each generated from its one table. */
#include "api.h"
#include "../core/timeutil.h"
#include "../preflight/rules.h"
#include "../store/store.h"

void h_healthz(void *p)
{
	struct call *c = p;
	api_reply(c, 200, json_pack("{s:s}", "status", "ok"));
}

void h_readyz(void *p)
{
	struct call *c = p;
	if (store_ping(c->st)) {
		api_fail(c, HERR_UNAVAILABLE, NULL, "the database does not answer");
		return;
	}
	api_reply(c, 200, json_pack("{s:s,s:s,s:I}", "status", "ready", "store", store_backend(c->st),
				    "uptimeMs", (json_int_t)(now_ms() - c->app->started_ms)));
}

void h_preflight_rules(void *p)
{
	struct call *c = p;
	api_reply(c, 200, json_pack("{s:o}", "rules", pf_catalog_json()));
}

void h_errors(void *p)
{
	struct call *c = p;
	json_t *arr = json_array();
	for (int e = 1; e < HERR__COUNT; e++) {
		const struct herr_info *hi = herr_info(e);
		json_array_append_new(arr, json_pack("{s:s,s:i,s:b,s:s}", "code", hi->code, "status",
						     hi->status, "retryable", hi->retryable,
						     "description", hi->summary));
	}
	api_reply(c, 200, json_pack("{s:o}", "errors", arr));
}
