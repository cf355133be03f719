/*
 * serve: wire the store, the API and the HTTP loops together.
 * Migrations run once here before any loop opens its own connection.
 */
#include "cli.h"
#include "../api/api.h"
#include "../core/arena.h"
#include "../core/log.h"
#include "../core/workq.h"
#include "../media/media.h"
#include "../core/timeutil.h"
#include "../engine/engine.h"
#include "../providers/provider.h"
#include "../http/client.h"
#include "../mcp/tools.h"
#include "../store/store.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct serve_ctx {
	struct app app;
	struct config *cfg;
	struct engine *engine; /* NULL with --role api */
};

/* what one loop owns besides the API's handle */
struct loop_ext {
	struct api_loop api; /* first: the server hands this to api_handle */
	struct engine_loop *engine;
};

static void *loop_init(int index, struct event_base *base, void *arg)
{
	(void)index;
	struct serve_ctx *sc = arg;
	char err[512];
	struct loop_ext *l = xcalloc(1, sizeof(*l));
	l->api.app = &sc->app;
	if (store_open(sc->cfg->database_url, sc->cfg->data_dir, &l->api.st, err, sizeof(err))) {
		log_msg(LOG_ERROR, "serve", "%s", err);
		free(l);
		return NULL;
	}
	if (sc->engine) {
		/* the engine gets its own connection: its writes never wait on a
		 * statement the API left open, and vice versa */
		struct store *est = NULL;
		if (store_open(sc->cfg->database_url, sc->cfg->data_dir, &est, err, sizeof(err))) {
			log_msg(LOG_ERROR, "serve", "%s", err);
			store_close(l->api.st);
			free(l);
			return NULL;
		}
		l->engine = engine_loop_new(sc->engine, index, base, est);
	}
	l->api.base = base;
	l->api.hc = hclient_new(base);
	return l;
}

static void loop_fini(void *ctx, void *arg)
{
	(void)arg;
	struct loop_ext *l = ctx;
	if (l->engine) {
		struct store *est = engine_loop_store(l->engine);
		engine_loop_free(l->engine);
		store_close(est);
	}
	if (l->api.hc)
		hclient_free(l->api.hc);
	store_close(l->api.st);
	free(l);
}

static void on_stop(void *arg)
{
	struct serve_ctx *sc = arg;
	if (sc->engine)
		engine_stop(sc->engine);
}

static int busy(void *arg)
{
	struct serve_ctx *sc = arg;
	return (sc->engine ? engine_inflight(sc->engine) : 0) + api_deferred_count();
}

static void on_ready(int port, void *arg)
{
	struct serve_ctx *sc = arg;
	char host[256];
	snprintf(host, sizeof(host), "%s", sc->cfg->listen);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = 0;
	if (!host[0] || !strcmp(host, "0.0.0.0"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (sc->cfg->public_url_derived) {
		free(sc->cfg->public_url);
		sc->cfg->public_url = xmalloc(strlen(host) + 32);
		sprintf(sc->cfg->public_url, "http://%s:%d", host, port);
	}
	printf("herald listening on http://%s:%d (%s, %ld loops)\n", host, port,
	       sc->cfg->database_url[0] ? "postgresql" : "sqlite", sc->cfg->threads);
	printf("create an API key with: %s keys create --org NAME --data-dir %s\n", cli_program,
	       sc->cfg->data_dir);
	fflush(stdout);
	log_msg(LOG_INFO, "ready", "listening on port %d, ready in %lld ms", port,
		(long long)(now_ms() - sc->app.started_ms));
	mcp_log_unserved();
}

int cmd_serve(int argc, char **argv, struct config *cfg)
{
	if (argc > 1) {
		fprintf(stderr, "herald serve: unexpected argument '%s' (see herald serve --help)\n",
			argv[1]);
		return 2;
	}
	struct serve_ctx sc = {.cfg = cfg};
	providers_configure(cfg);
	sc.app.cfg = cfg;
	sc.app.started_ms = now_ms();
	struct store *st = NULL;
	if (cli_open_store(cfg, &st))
		return 1;
	if (strcmp(cfg->role, "api")) {
		sc.engine = engine_new(cfg);
		engine_startup(sc.engine, st);
	}
	store_close(st);
	char merr[512];
	struct media_storage_cfg msc = {cfg->data_dir, cfg->storage, cfg->s3_endpoint,
					cfg->s3_bucket, cfg->s3_region, cfg->s3_access_key,
					cfg->s3_secret_key, cfg->s3_cache_max};
	if (media_storage_init(&msc, merr, sizeof(merr))) {
		fprintf(stderr, "herald serve: %s\n", merr);
		engine_free(sc.engine);
		return 1;
	}
	if (cfg->threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->threads = n > 0 ? n : 1;
	}
	struct http_server_opts o = {
		.listen = cfg->listen,
		.threads = (int)cfg->threads,
		.max_body = (size_t)cfg->max_body,
		.stream = &api_stream_ops,
		.timeout_s = (int)cfg->timeout,
		.access_log = (int)cfg->access_log,
		.loop_init = loop_init,
		.loop_fini = loop_fini,
		.arg = &sc,
		.handler = api_handle,
		.on_ready = on_ready,
		.on_stop = on_stop,
		.busy = busy,
		.drain_s = (int)cfg->drain_seconds,
	};
	char err[512];
	/* blocking media work (libvips, libmagic, S3) leaves the loops */
	if (workq_start(2))
		log_msg(LOG_WARN, "serve", "no worker threads: media work runs on the loops");
	int rc = http_serve(&o, err, sizeof(err));
	workq_stop();
	engine_free(sc.engine);
	media_shutdown();
	if (rc) {
		fprintf(stderr, "herald serve: %s\n", err);
		return 1;
	}
	log_msg(LOG_INFO, "shutdown", "stopped cleanly");
	return 0;
}
