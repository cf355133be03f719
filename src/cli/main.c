/*
 * main: herald's entry point and its command table.
 */
#include "cli.h"
#include "../core/crypto.h"
#include "../core/log.h"
#include "../mcp/tools.h"
#include "../store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#ifndef HERALD_VERSION
#define HERALD_VERSION "0.1.0-dev"
#endif

const char *cli_program = "herald";

#define CLIENT_OPTS "--url --key --json"
#define CLIENT_HELP \
	"\nServer: --url URL or HERALD_URL (e.g. http://127.0.0.1:8080); API key: --key KEY or\n" \
	"HERALD_API_KEY.  --json prints the server's JSON instead of text.\n"

const char cli_exit_help[] =
	"exit status:\n"
	"  0  success\n"
	"  1  other failure (local command, I/O)\n"
	"  2  usage error (bad command line)\n"
	"  3  validation or preflight failed (HTTP 400/413/422, bad CSV rows, invalid post)\n"
	"  4  missing or rejected API key (HTTP 401/403)\n"
	"  5  not found or conflict (HTTP 404/409)\n"
	"  6  server error, rate limit or network failure (HTTP 5xx/429, no answer)\n";

const struct command commands[] = {
	{"serve", cmd_serve, "herald serve [--listen ADDR] [--data-dir DIR] [options]",
	 "run the API server, scheduler and workers",
	 "Serves the Postiz-compatible API under /public/v1 and /api/public/v1 and the native\n"
	 "API under /v1 on embedded SQLite in the data dir (or PostgreSQL with\n"
	 "HERALD_DATABASE_URL).  Prints the URL it listens on.  Stops on SIGTERM or SIGINT.\n",
	 "", "--listen --data-dir --public-url --database-url --role --threads --rate-limit"},
	{"keys", cmd_keys, "herald keys create [--org NAME] | list | revoke ID",
	 "manage API keys",
	 "create  print one new API key (creating the organization and database if needed;\n"
	 "        default organization \"default\")\n"
	 "list    list keys: id, organization, hint, created, revoked\n"
	 "revoke  revoke a key by id\n",
	 "create list revoke", "--org --data-dir --database-url"},
	{"channels", cmd_channels,
	 "herald channels add --org NAME --provider ID --name NAME --credentials JSON [--no-verify] | list [--org NAME | --url URL] | remove --org NAME ID",
	 "manage channels (integrations)",
	 "add     connect a channel with credentials, e.g.\n"
	 "        herald channels add --org acme --provider webhook --name hook \\\n"
	 "          --credentials '{\"url\":\"https://example.com/hook\"}'\n"
	 "        The platform checks the credentials first (its who-am-I call);\n"
	 "        refused or unreachable, nothing is stored. --no-verify stores them\n"
	 "        unchecked (offline setup).\n"
	 "list    list channels of an organization\n"
	 "remove  remove a channel and cancel its unpublished posts\n"
	 "\n"
	 "add and remove work on the local database (--data-dir / HERALD_DATABASE_URL).\n"
	 "list asks a server (GET /v1/accounts, the key's organization) when a server is\n"
	 "named with --url or HERALD_URL and neither --org nor --local is given; otherwise\n"
	 "it reads the local database.\n" CLIENT_HELP,
	 "add list remove", "--org --provider --name --credentials --no-verify --local " CLIENT_OPTS},
	{"post", cmd_post,
	 "herald post TEXT --to CHANNELS [--at TIME | --now | --draft | --queue] [--media FILE|URL]... [--thread TEXT]...",
	 "create a post on a herald server",
	 "--to CHANNELS        comma-separated channel ids, names (case-insensitive) or\n"
	 "                     platforms (when the organization has one channel of it);\n"
	 "                     repeatable\n"
	 "--at TIME            schedule: 2026-12-01T10:00:00Z, 2026-12-01 10:00 (UTC) or\n"
	 "                     with an offset 2026-12-01T10:00+02:00\n"
	 "--now                publish now (the default)\n"
	 "--draft              store as a draft (approve later)\n"
	 "--queue              put in the channel's next free posting slot\n"
	 "--media FILE|URL     attach media: a local file is uploaded first; repeatable\n"
	 "--thread TEXT        a further thread item (reply); repeatable, in order\n"
	 "--tag TAG            a label; repeatable\n"
	 "--first-comment TEXT a first comment\n"
	 "--idempotency-key K  send Idempotency-Key: K, so a retried command posts once\n"
	 "\nPreflight failures print every violation (rule, platform, message, fix).\n" CLIENT_HELP,
	 "", "--to --at --now --draft --queue --media --thread --tag --first-comment --idempotency-key " CLIENT_OPTS},
	{"posts", cmd_posts,
	 "herald posts list [filters] | show ID | cancel ID | retry ID",
	 "list, show, cancel or retry posts on a herald server",
	 "list    newest first; filters --status S --channel ID|NAME --platform P --tag T\n"
	 "        --from TIME --to TIME --limit N (1..100), --all to follow every page\n"
	 "show    one post with its targets, state, release URL and error\n"
	 "cancel  cancel a post that has not been published\n"
	 "retry   requeue the failed targets of a post\n" CLIENT_HELP,
	 "list show cancel retry",
	 "--status --channel --platform --tag --from --to --limit --all " CLIENT_OPTS},
	{"validate", cmd_validate,
	 "herald validate TEXT --to CHANNELS [--media FILE|URL]... [--thread TEXT]...",
	 "preflight a post without storing it",
	 "Takes the options of 'herald post' and asks POST /v1/posts/validate.  Local media\n"
	 "files are described (type, size), not uploaded.  Prints every violation; exit\n"
	 "status 0 when valid, 3 when not.\n" CLIENT_HELP,
	 "", "--to --media --thread --tag --first-comment " CLIENT_OPTS},
	{"media", cmd_media, "herald media upload FILE|URL",
	 "upload media to a herald server",
	 "upload  FILE as multipart (POST /v1/media) or a URL (POST /v1/media/from-url);\n"
	 "        prints id, url, type and size\n" CLIENT_HELP,
	 "upload", CLIENT_OPTS},
	{"analytics", cmd_analytics,
	 "herald analytics post ID | account ID [--from TIME] [--to TIME] | refresh ID",
	 "show the metrics herald sampled for a post or an account",
	 "post     every target's latest counters (likes, reposts, replies, quotes) and when\n"
	 "         they were sampled (a native post id or a Postiz post id)\n"
	 "account  an account's counters per day, summed over its posts (default: the\n"
	 "         last 30 days; --from/--to as ISO 8601 dates or date-times)\n"
	 "refresh  sample every target of a post now and print the new counters\n" CLIENT_HELP,
	 "post account refresh", "--from --to " CLIENT_OPTS},
	{"import", cmd_import,
	 "herald import FILE.csv [--dry-run] [--tz Area/City] [--parallel N]",
	 "bulk-schedule a content calendar from CSV",
	 "The CSV (RFC 4180, UTF-8, a BOM is ignored) has a header row naming its columns:\n"
	 "  date     when to publish: 2026-12-01 10:00[:00], or ISO 8601 with Z or an\n"
	 "           offset (honoured); without an offset the time is in --tz (default UTC)\n"
	 "  channel  channel id, name (case-insensitive) or platform; several separated by |\n"
	 "  content  the text\n"
	 "  media    optional: files or http(s) URLs separated by |; each distinct file is\n"
	 "           uploaded once\n"
	 "  tags     optional: labels separated by |\n"
	 "  first_comment  optional\n"
	 "  settings.KEY   optional: per-target option KEY (JSON value or text)\n"
	 "\n"
	 "--dry-run     check every row (dates, channels, media, preflight through\n"
	 "              POST /v1/posts/validate) and report every bad row with its line\n"
	 "              number; nothing is stored\n"
	 "--tz ZONE     time zone of dates without an offset (IANA name; default UTC)\n"
	 "--parallel N  requests in flight (default 16)\n"
	 "\n"
	 "Rows are checked locally first; if any row is bad nothing is sent.  Each row's\n"
	 "request carries an Idempotency-Key derived from the row's content (and which\n"
	 "copy of an identical row it is), so running the same file again within 24 h\n"
	 "schedules nothing twice.  A progress bar is drawn on stderr when it is a\n"
	 "terminal.  Bulk imports need the server's per-key rate limit\n"
	 "(HERALD_RATE_LIMIT, requests per minute) above the row count; 429 answers are\n"
	 "retried after Retry-After.\n" CLIENT_HELP,
	 "", "--dry-run --tz --parallel " CLIENT_OPTS},
	{"mcp", cmd_mcp, "herald mcp [--data-dir DIR]", "MCP server on stdio for AI assistants",
	 "Speaks the Model Context Protocol (JSON-RPC 2.0, one message per line) on stdin and\n"
	 "stdout, for clients such as Claude Desktop, Cursor or VS Code.  Each tool (listed\n"
	 "below) is one API route and runs exactly as that HTTP request would.\n"
	 "Needs HERALD_API_KEY (the organization's key) and the server's data dir or\n"
	 "HERALD_DATABASE_URL.  Logs go to stderr.  The same tools are served over HTTP at\n"
	 "POST /mcp of herald serve (Streamable HTTP, Authorization: Bearer KEY).\n"
	 "Client config example:\n"
	 "  {\"command\": \"herald\", \"args\": [\"mcp\", \"--data-dir\", \"/srv/herald\"],\n"
	 "   \"env\": {\"HERALD_API_KEY\": \"...\"}}\n",
	 "", "--data-dir"},
	{"config", cmd_config, "herald config [options]", "print the effective configuration",
	 "Prints every option with its effective value (flags, then HERALD_* variables, then\n"
	 "defaults); secrets are masked.\n",
	 "", "--listen --data-dir --public-url --database-url"},
	{"completion", cmd_completion, "herald completion bash",
	 "print a shell completion script",
	 "bash    print the bash completion script; load it with\n"
	 "        source <(herald completion bash)\n",
	 "bash", ""},
	{"man", cmd_man, "herald man", "print the manual page (roff)",
	 "Prints herald(1) in roff, built from the same command table as --help; view it\n"
	 "with: herald man | man -l -\n",
	 "", ""},
	{"version", cmd_version, "herald version", "print the version", "", "", ""},
	{"help", cmd_help, "herald help [COMMAND]", "show help for herald or a command", "", "", ""},
	{NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct command *command_find(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

void command_usage(const struct command *c, FILE *f)
{
	fprintf(f, "usage: %s\n\n%s.\n\n%s", c->usage, c->summary, c->help);
	if (!strcmp(c->name, "mcp")) {
		fprintf(f, "\ntools (from the route table):\n");
		mcp_print_tools(f);
	}
	if (!strcmp(c->name, "serve") || !strcmp(c->name, "config")) {
		fprintf(f, "\noptions (flag, environment variable, meaning [default]):\n");
		config_help(f);
	}
	if (strstr(c->options, "--url"))
		fprintf(f, "\n%s", cli_exit_help);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: herald <command> [args]\n\n"
		   "herald is a self-hosted social media publishing and scheduling server that\n"
		   "speaks the Postiz public API.\n\ncommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\nRun 'herald <command> --help' for a command's options.\n\n%s", cli_exit_help);
}

int cmd_help(int argc, char **argv, struct config *cfg)
{
	(void)cfg;
	if (argc > 1) {
		const struct command *c = command_find(argv[1]);
		if (!c) {
			fprintf(stderr, "herald: no command '%s'\n", argv[1]);
			return 2;
		}
		command_usage(c, stdout);
		return 0;
	}
	usage(stdout);
	return 0;
}

int cmd_version(int argc, char **argv, struct config *cfg)
{
	(void)argc;
	(void)argv;
	(void)cfg;
	printf("herald %s\n", HERALD_VERSION);
	return 0;
}

int cmd_config(int argc, char **argv, struct config *cfg)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "herald config: unexpected argument '%s'\n", argv[1]);
		return 2;
	}
	config_print(cfg, stdout);
	return 0;
}

int cli_open_store(struct config *cfg, struct store **out)
{
	char err[512];
	if (mkdir(cfg->data_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "herald: cannot create data dir %s: %s\n", cfg->data_dir,
			strerror(errno));
		return -1;
	}
	if (secret_load(cfg->secret_key, cfg->data_dir, err, sizeof(err))) {
		fprintf(stderr, "herald: %s\n", err);
		return -1;
	}
	struct store *st = NULL;
	if (store_open(cfg->database_url, cfg->data_dir, &st, err, sizeof(err))) {
		fprintf(stderr, "herald: %s\n", err);
		return -1;
	}
	if (store_migrate(st, err, sizeof(err))) {
		fprintf(stderr, "herald: %s\n", err);
		store_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

int main(int argc, char **argv)
{
	if (argv[0] && *argv[0])
		cli_program = argv[0];
	if (crypto_init()) {
		fprintf(stderr, "herald: libsodium failed to initialise\n");
		return 1;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("herald %s\n", HERALD_VERSION);
		return 0;
	}
	const struct command *c = command_find(argv[1]);
	if (!c) {
		fprintf(stderr, "herald: '%s' is not a command. See 'herald --help'.\n", argv[1]);
		return 2;
	}
	int sargc = argc - 1;
	char **sargv = argv + 1;
	if (cli_wants_help(sargc, sargv)) {
		command_usage(c, stdout);
		return 0;
	}
	struct config cfg;
	char err[512];
	if (config_load(&cfg, &sargc, sargv, err, sizeof(err))) {
		fprintf(stderr, "herald %s: %s\n", c->name, err);
		config_release(&cfg);
		return 2;
	}
	if (!strcmp(cfg.log_level, "debug"))
		log_set_level(LOG_DEBUG);
	else if (!strcmp(cfg.log_level, "warn"))
		log_set_level(LOG_WARN);
	else if (!strcmp(cfg.log_level, "error"))
		log_set_level(LOG_ERROR);
	int rc = c->fn(sargc, sargv, &cfg);
	config_release(&cfg);
	return rc;
}
