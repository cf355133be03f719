/*
 * platforms: GET /v1/platforms, every platform herald knows.
 *
 * Built from the two tables that already hold the facts: the provider
 * table (capabilities, pinned upstream API, its sunset) for platforms
 * herald publishes to, and the preflight table (limits as rules) for every
 * platform, tier 2 included, so content can be checked before herald can
 * publish there.  Nothing here is a third list.
 */
#include "api.h"
#include "../preflight/rules.h"
#include "../providers/provider.h"

#include <string.h>

static json_t *capabilities(const struct provider *pr)
{
	json_t *media = json_array();
	if (pr && (pr->flags & PROV_IMAGES))
		json_array_append_new(media, json_string("image"));
	if (pr && (pr->flags & PROV_VIDEO))
		json_array_append_new(media, json_string("video"));
	unsigned f = pr ? pr->flags : 0;
	return json_pack("{s:b,s:b,s:o,s:b,s:b,s:b,s:s}", "publish", pr && pr->publish,
			 "threads", !!(f & PROV_THREADS), "media", media, "delete",
			 !!(f & PROV_DELETE), "idempotentPublish", !!(f & PROV_IDEMPOTENT), "metrics",
			 !!(f & PROV_METRICS), "connect",
			 !pr ? "not yet" : (f & PROV_CREDENTIALS) ? "credentials" : "oauth");
}

void h_platforms(void *p)
{
	struct call *c = p;
	json_t *catalog = pf_catalog_json();
	json_t *data = json_array();
	for (size_t i = 0; i < pf_platform_count(); i++) {
		const char *id = pf_platform_at(i);
		const struct provider *pr = provider_find(id);
		json_t *limits = json_array();
		size_t k;
		json_t *r;
		json_array_foreach(catalog, k, r) {
			if (strcmp(json_string_value(json_object_get(r, "platform")), id))
				continue;
			json_t *l = json_pack("{s:O,s:O,s:O}", "rule", json_object_get(r, "id"), "limit",
					      json_object_get(r, "limit"), "unit",
					      json_object_get(r, "unit"));
			json_array_append_new(limits, l);
		}
		json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "id", id, "name",
				      pr ? pr->name : pf_platform_name(id), "tier", pr ? "1" : "2",
				      "capabilities", capabilities(pr), "limits", limits, "apiVersion",
				      pr && pr->api_version ? json_string(pr->api_version) : json_null(),
				      "sunsetAt",
				      pr && pr->api_sunset ? json_string(pr->api_sunset) : json_null());
		if (pr)
			json_object_set_new(o, "maxLength", json_integer(pr->max_length));
		json_array_append_new(data, o);
	}
	json_decref(catalog);
	api_reply(c, 200, json_pack("{s:o}", "data", data));
}
