/*
 * mcp: `herald mcp`, the MCP server over stdio (newline-delimited JSON-RPC).
 *
 * Opens the store in-process as the other local commands do, checks
 * HERALD_API_KEY once (a missing key is a usage error, exit 2; a key the
 * store does not know exits 1), then reads one JSON-RPC message or batch
 * per line from stdin and writes each reply as one line on stdout.  stdout
 * carries nothing else; logs go to stderr.  Tool calls run through
 * api_handle with the key, exactly as HTTP requests would (src/mcp/mcp.h).
 * A line longer than HERALD_MAX_BODY is answered with -32600 and skipped.
 * Ends at end of input (exit 0).
 *
 * Messages are handled one at a time: when a tool call's handler defers
 * its reply (publishNow waiting for delivery, a media download), the event
 * loop runs until the reply is there, then the next line is read.  No
 * delivery engine runs here: a running `herald serve` on the same store
 * publishes what is created (publishNow waits its few seconds, then
 * answers 202 with the post queued).
 */
#include "cli.h"
#include "../api/api.h"
#include "../core/arena.h"
#include "../core/crypto.h"
#include "../core/ids.h"
#include "../core/log.h"
#include "../core/timeutil.h"
#include "../http/client.h"
#include "../mcp/jsonrpc.h"
#include "../mcp/mcp.h"
#include "../mcp/tools.h"
#include "../store/store.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* one reply line; -1 when stdout is gone */
static int emit(json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(reply);
	if (!s)
		return -1;
	int rc = (fputs(s, stdout) < 0 || fputc('\n', stdout) == EOF || fflush(stdout)) ? -1 : 0;
	free(s);
	return rc;
}

struct wait {
	int fired;
	json_t *reply;
};

static void on_done(void *arg, json_t *reply)
{
	struct wait *w = arg;
	w->fired = 1;
	w->reply = reply;
}

static int handle_line(struct mcp_session *s, struct api_loop *loop, const char *auth,
		       const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == len)
		return 0; /* blank lines carry nothing */
	char err[200];
	json_t *msg = jr_decode(line, len, err, sizeof(err));
	if (!msg) {
		char m[256];
		snprintf(m, sizeof(m), "parse error: %s", err);
		return emit(jr_error(NULL, JR_PARSE_ERROR, m, NULL));
	}
	char ulid[ULID_LEN + 1];
	ulid_new(ulid);
	char rid[40];
	snprintf(rid, sizeof(rid), "mcp_%s", ulid);
	struct mcp_env env = {
		.loop_ctx = loop,
		.loop_index = 0,
		.base = loop->base,
		.authorization = auth,
		.request_id = rid,
		.handler = api_handle,
	};
	struct wait w = {0};
	json_t *reply;
	int pending = mcp_handle(s, &env, msg, &reply, on_done, &w) == MCP_PENDING;
	json_decref(msg);
	while (pending && !w.fired) {
		/* 1: nothing left that could ever answer; never spin on it */
		if (event_base_loop(loop->base, EVLOOP_ONCE) == 1 && !w.fired) {
			log_msg(LOG_ERROR, "mcp", "a deferred tool call has nothing left to wait on");
			return -1;
		}
	}
	if (pending)
		reply = w.reply;
	return reply ? emit(reply) : 0;
}

int cmd_mcp(int argc, char **argv, struct config *cfg)
{
	if (argc > 1) {
		fprintf(stderr, "herald mcp: unexpected argument '%s' (see herald mcp --help)\n", argv[1]);
		return 2;
	}
	const char *key = getenv("HERALD_API_KEY");
	if (!key || !*key) {
		fprintf(stderr, "herald mcp: set HERALD_API_KEY to an API key of the organization "
				"to act for (create one with: %s keys create --org NAME)\n",
			cli_program);
		return 2;
	}
	if (strlen(key) > 512) {
		fprintf(stderr, "herald mcp: HERALD_API_KEY is not a valid API key\n");
		return 1;
	}
	struct store *st;
	if (cli_open_store(cfg, &st))
		return 1;
	int rc = 1;
	struct arena *a = arena_new();
	char hash[KEY_HASH_LEN + 1];
	api_key_hash(key, hash);
	char *org = NULL, *kid = NULL;
	int krc = store_key_lookup(st, a, hash, &org, &kid);
	if (krc) {
		fprintf(stderr, "herald mcp: %s\n",
			krc == STORE_NOTFOUND ? "HERALD_API_KEY is not a valid API key for this data dir "
						"(see herald keys list)"
					      : "storage error while checking HERALD_API_KEY");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	struct app app = {.cfg = cfg, .started_ms = now_ms()};
	struct api_loop *loop = xcalloc(1, sizeof(*loop));
	loop->app = &app;
	loop->st = st;
	loop->base = event_base_new();
	loop->hc = loop->base ? hclient_new(loop->base) : NULL;
	if (!loop->base) {
		fprintf(stderr, "herald mcp: cannot create an event loop\n");
		rc = 1;
		free(loop);
		goto out;
	}
	char *auth = arena_printf(a, "Bearer %s", key);
	struct mcp_session s = {0};
	log_msg(LOG_INFO, "mcp", "serving MCP on stdio for organization %s", org);
	mcp_log_unserved();

	size_t max = cfg->max_body > 0 ? (size_t)cfg->max_body : 1 << 20;
	size_t cap = 64 * 1024, n = 0;
	char *buf = xmalloc(cap);
	int skipping = 0; /* inside a line that was too long */
	rc = 0;
	for (;;) {
		if (n == cap) {
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t got = read(0, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got < 0)
				log_msg(LOG_ERROR, "mcp", "reading stdin: %s", strerror(errno));
			/* a last line without its newline still counts */
			if (n && !skipping && handle_line(&s, loop, auth, buf, n))
				rc = 1;
			break;
		}
		n += (size_t)got;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', n - start);
			if (!nl)
				break;
			size_t len = (size_t)(nl - (buf + start));
			if (skipping)
				skipping = 0;
			else if (handle_line(&s, loop, auth, buf + start, len)) {
				rc = 1;
				goto done;
			}
			start += len + 1;
		}
		memmove(buf, buf + start, n - start);
		n -= start;
		if (n > max) {
			if (!skipping) {
				char m[128];
				snprintf(m, sizeof(m), "a message is larger than %zu bytes (HERALD_MAX_BODY)", max);
				if (emit(jr_error(NULL, JR_INVALID_REQUEST, m, NULL))) {
					rc = 1;
					goto done;
				}
			}
			skipping = 1;
			n = 0;
		}
	}
done:
	free(buf);
	if (loop->hc)
		hclient_free(loop->hc);
	event_base_free(loop->base);
	free(loop);
out:
	arena_free(a);
	store_close(st);
	return rc;
}
