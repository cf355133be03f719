/* channels: connect, list and remove channels from the command line.
 *
 * add proves the credentials against the platform first, like POST
 * /v1/accounts (provider->verify through providers/run.c on a private
 * event loop run until the check is done: this command has no server
 * loop); --no-verify skips that for offline setups. */
#include "cli.h"
#include "../core/arena.h"
#include "../core/config.h"
#include "../core/crypto.h"
#include "../http/client.h"
#include "../providers/provider.h"
#include "../providers/run.h"
#include "../store/store.h"

#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chan_args {
	const char *org, *provider, *name, *credentials, *id;
	int no_verify;
};

static int parse(int argc, char **argv, struct chan_args *a, const char *sub)
{
	memset(a, 0, sizeof(*a));
	a->org = "default";
	for (int i = 2; i < argc; i++) {
		const char **dst = NULL;
		const char *arg = argv[i];
		if (!strcmp(arg, "--local"))
			continue;
		if (!strcmp(arg, "--no-verify")) {
			a->no_verify = 1;
			continue;
		}
		if (!strcmp(arg, "--org"))
			dst = &a->org;
		else if (!strcmp(arg, "--provider"))
			dst = &a->provider;
		else if (!strcmp(arg, "--name"))
			dst = &a->name;
		else if (!strcmp(arg, "--credentials"))
			dst = &a->credentials;
		if (dst) {
			if (i + 1 >= argc) {
				fprintf(stderr, "herald channels %s: %s needs a value\n", sub, arg);
				return -1;
			}
			*dst = argv[++i];
		} else if (arg[0] != '-' && !a->id) {
			a->id = arg;
		} else {
			fprintf(stderr, "herald channels %s: unexpected argument '%s'\n", sub, arg);
			return -1;
		}
	}
	return 0;
}

static int org_id_of(struct store *st, struct arena *ar, const char *org, char **out)
{
	if (store_org_ensure(st, ar, org, out)) {
		fprintf(stderr, "herald channels: cannot open organization %s\n", org);
		return -1;
	}
	return 0;
}

struct local_verify {
	struct prun run;
	struct event_base *base;
	int finished;
	enum pub_status st;
};

static void local_verify_done(struct prun *p, enum pub_status st)
{
	struct local_verify *lv = p->arg;
	lv->finished = 1;
	lv->st = st;
	event_base_loopbreak(lv->base);
}

static void free_json_cli(void *p)
{
	json_decref(p);
}

/* 0 verified (*out: the provider's output, freed with ar); otherwise the
 * exit status (said on stderr): 3 refused, as a validation failure; 6 the
 * platform down, busy or unreachable, as a network failure (cli.h). */
static int verify_local(struct arena *ar, const struct config *cfg, const struct provider *pr,
			json_t *cred, json_t **out)
{
	*out = NULL;
	struct local_verify *lv = arena_alloc(ar, sizeof(*lv));
	lv->base = event_base_new();
	struct hclient *hc = lv->base ? hclient_new(lv->base) : NULL;
	struct prun *p = &lv->run;
	struct pub_ctx *pc = &p->ctx;
	pc->a = ar;
	pc->credentials = cred;
	pc->base_url = provider_base_url(pr);
	pc->public_url = cfg ? cfg->public_url : NULL;
	pc->settings = json_object();
	arena_defer(ar, free_json_cli, pc->settings);
	pc->media = json_array();
	arena_defer(ar, free_json_cli, pc->media);
	pc->data = pc->settings;
	p->pr = pr;
	p->run = pr->verify;
	p->hc = hc;
	p->done = local_verify_done;
	p->arg = lv;
	prun_start(p);
	if (!lv->finished && lv->base)
		event_base_dispatch(lv->base);
	if (hc)
		hclient_free(hc);
	if (lv->base)
		event_base_free(lv->base);
	if (!lv->finished) {
		fprintf(stderr, "herald channels add: the check with %s did not finish\n", pr->name);
		return 6;
	}
	const char *msg, *field;
	enum herr e = prun_verify_error(p, lv->st, &msg, &field);
	if (e == HERR_OK) {
		*out = pc->output;
		return 0;
	}
	fprintf(stderr, "herald channels add: %s: %s%s%s%s\n", herr_info(e)->code, msg,
		field ? " (" : "", field ? field : "", field ? ")" : "");
	json_t *resp = p->last_body ? prun_redact(p->last_body, cred) : NULL;
	if (resp) {
		char *txt = json_dumps(resp, JSON_COMPACT | JSON_ENCODE_ANY);
		if (txt)
			fprintf(stderr, "%s answered: %s\n", pr->name, txt);
		free(txt);
		json_decref(resp);
	}
	if (herr_info(e)->retryable) {
		fprintf(stderr, "nothing was stored; try again later, or add --no-verify to store "
				"the channel unchecked\n");
		return 6;
	}
	fprintf(stderr, "nothing was stored\n");
	return 3;
}

static int channels_add(struct store *st, struct arena *ar, struct chan_args *a,
			const struct config *cfg)
{
	if (!a->provider || !a->credentials) {
		fprintf(stderr, "herald channels add: --provider and --credentials are required\n");
		return 2;
	}
	const struct provider *pr = provider_find(a->provider);
	if (!pr || !pr->connect || !(pr->flags & PROV_CREDENTIALS)) {
		fprintf(stderr, "herald channels add: provider '%s' cannot be connected with credentials\n",
			a->provider);
		return 2;
	}
	json_error_t je;
	json_t *cred = json_loads(a->credentials, 0, &je);
	if (!json_is_object(cred)) {
		fprintf(stderr, "herald channels add: --credentials must be a JSON object (%s)\n",
			cred ? "not an object" : je.text);
		json_decref(cred);
		return 2;
	}
	const char *profile = NULL, *err = NULL;
	if (pr->connect(ar, cred, &profile, &err)) {
		fprintf(stderr, "herald channels add: %s\n", err);
		json_decref(cred);
		return 1;
	}
	json_t *verified = NULL;
	if (!a->no_verify && pr->verify) {
		int vrc = verify_local(ar, cfg, pr, cred, &verified);
		if (vrc) {
			json_decref(cred);
			return vrc;
		}
		const char *vp = json_string_value(json_object_get(verified, "profile"));
		const char *vn = json_string_value(json_object_get(verified, "name"));
		if (vp && *vp)
			profile = arena_strdup(ar, vp);
		if (!a->name && vn && *vn)
			a->name = arena_strdup(ar, vn);
	}
	char *org_id;
	if (org_id_of(st, ar, a->org, &org_id)) {
		json_decref(cred);
		return 1;
	}
	char *plain = json_dumps(cred, JSON_COMPACT | JSON_SORT_KEYS);
	char *sealed = secret_seal(plain);
	sodium_memzero(plain, strlen(plain));
	free(plain);
	struct store_channel ch = {
		.org_id = org_id,
		.provider = (char *)a->provider,
		.name = (char *)(a->name ? a->name : profile),
		.profile = (char *)profile,
		.credentials = sealed,
	};
	char *id;
	int rc = store_channel_create(st, ar, &ch, &id);
	free(sealed);
	if (rc) {
		json_decref(cred);
		fprintf(stderr, "herald channels add: storage error\n");
		return 1;
	}
	printf("%s\n", id);
	json_t *sec = json_object_get(cred, "secret");
	if (!strcmp(a->provider, "webhook") && json_is_string(sec))
		fprintf(stderr, "webhook signing secret: %s\n", json_string_value(sec));
	json_decref(cred);
	return 0;
}

int cmd_channels(int argc, char **argv, struct config *cfg)
{
	if (argc < 2) {
		command_usage(command_find("channels"), stderr);
		return 2;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "remove")) {
		fprintf(stderr, "herald channels: unknown subcommand '%s'\n", sub);
		return 2;
	}
	/* list asks a server when one is named (--url or HERALD_URL) and no
	 * local-only option (--org, --local) is given; add/remove stay local */
	if (!strcmp(sub, "list") && client_channels_remote(argc, argv))
		return client_channels_list(argc, argv);
	struct chan_args a;
	if (parse(argc, argv, &a, sub))
		return 2;
	struct store *st;
	if (cli_open_store(cfg, &st))
		return 1;
	struct arena *ar = arena_new();
	int rc = 1;
	char *org_id;
	if (!strcmp(sub, "add")) {
		providers_configure(cfg);
		rc = channels_add(st, ar, &a, cfg);
	} else if (!strcmp(sub, "list")) {
		struct store_channel *v;
		size_t n;
		if (org_id_of(st, ar, a.org, &org_id))
			goto out;
		if (store_channel_list(st, ar, org_id, NULL, &v, &n)) {
			fprintf(stderr, "herald channels list: storage error\n");
			goto out;
		}
		printf("%-26s  %-12s  %-24s  %s\n", "ID", "PROVIDER", "NAME", "PROFILE");
		for (size_t i = 0; i < n; i++)
			printf("%-26s  %-12s  %-24s  %s\n", v[i].id, v[i].provider, v[i].name, v[i].profile);
		rc = 0;
	} else {
		if (!a.id) {
			fprintf(stderr, "usage: herald channels remove --org NAME ID\n");
			rc = 2;
			goto out;
		}
		if (org_id_of(st, ar, a.org, &org_id))
			goto out;
		int r = store_channel_delete(st, org_id, a.id);
		if (r == STORE_NOTFOUND)
			fprintf(stderr, "herald channels remove: no channel %s in %s\n", a.id, a.org);
		else if (r)
			fprintf(stderr, "herald channels remove: storage error\n");
		else {
			printf("removed %s\n", a.id);
			rc = 0;
		}
	}
out:
	arena_free(ar);
	store_close(st);
	return rc;
}
