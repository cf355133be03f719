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

const struct command commands[] = {
	{"serve", cmd_serve, "herald serve [--listen ADDR] [--data-dir DIR] [options]",
	 "run the API server, scheduler and workers",
	 "Serves the Postiz-compatible API under /public/v1 and /api/public/v1 and the native\n"
	 "API under /v1 on embedded SQLite in the data dir (or PostgreSQL with\n"
	 "HERALD_DATABASE_URL).  Prints the URL it listens on.  Stops on SIGTERM or SIGINT.\n"},
	{"keys", cmd_keys, "herald keys create [--org NAME] | list | revoke ID",
	 "manage API keys",
	 "create  print one new API key (creating the organization and database if needed;\n"
	 "        default organization \"default\")\n"
	 "list    list keys: id, organization, hint, created, revoked\n"
	 "revoke  revoke a key by id\n"},
	{"channels", cmd_channels,
	 "herald channels add --org NAME --provider ID --name NAME --credentials JSON | list [--org NAME] | remove --org NAME ID",
	 "manage channels (integrations)",
	 "add     connect a channel with credentials, e.g.\n"
	 "        herald channels add --org acme --provider webhook --name hook \\\n"
	 "          --credentials '{\"url\":\"https://example.com/hook\"}'\n"
	 "list    list channels of an organization\n"
	 "remove  remove a channel and cancel its unpublished posts\n"},
	{"mcp", cmd_mcp, "herald mcp [--data-dir DIR]", "MCP server on stdio for AI assistants",
	 "Speaks the Model Context Protocol (JSON-RPC 2.0, one message per line) on stdin and\n"
	 "stdout, for clients such as Claude Desktop, Cursor or VS Code.  Each tool (listed\n"
	 "below) is one API route and runs exactly as that HTTP request would.\n"
	 "Needs HERALD_API_KEY (the organization's key) and the server's data dir or\n"
	 "HERALD_DATABASE_URL.  Logs go to stderr.  The same tools are served over HTTP at\n"
	 "POST /mcp of herald serve (Streamable HTTP, Authorization: Bearer KEY).\n"
	 "Client config example:\n"
	 "  {\"command\": \"herald\", \"args\": [\"mcp\", \"--data-dir\", \"/srv/herald\"],\n"
	 "   \"env\": {\"HERALD_API_KEY\": \"...\"}}\n"},
	{"config", cmd_config, "herald config [options]", "print the effective configuration",
	 "Prints every option with its effective value (flags, then HERALD_* variables, then\n"
	 "defaults); secrets are masked.\n"},
	{"version", cmd_version, "herald version", "print the version", ""},
	{"help", cmd_help, "herald help [COMMAND]", "show help for herald or a command", ""},
	{NULL, NULL, NULL, NULL, NULL},
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
}

static void usage(FILE *f)
{
	fprintf(f, "usage: herald <command> [args]\n\n"
		   "herald is a self-hosted social media publishing and scheduling server that\n"
		   "speaks the Postiz public API.\n\ncommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\nRun 'herald <command> --help' for a command's options.\n");
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
