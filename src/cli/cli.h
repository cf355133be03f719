/*
 * cli: herald's subcommands, git-style.  Each command is one function
 * `int cmd_x(int argc, char **argv, struct config *cfg)`; the table in
 * main.c lists them with their help, and `herald CMD --help` prints it.
 * The same table drives `herald --help`, `herald completion bash` and
 * `herald man` (roff), so a command or option exists in all three or none.
 * Exit codes (enum cli_exit; printed by help and the man page).
 */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

#include "../core/config.h"

#include <jansson.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv, struct config *cfg);
	const char *usage;
	const char *summary;
	const char *help;
	const char *subcommands; /* space-separated, for completion; "" if none */
	const char *options;     /* space-separated flags, for completion */
};

/* Exit codes scripts can branch on. */
enum cli_exit {
	CLI_OK = 0,       /* success */
	CLI_FAIL = 1,     /* other failure (local command, I/O) */
	CLI_USAGE = 2,    /* bad command line */
	CLI_INVALID = 3,  /* validation or preflight failed (HTTP 400/413/422, bad CSV rows) */
	CLI_AUTH = 4,     /* missing or rejected API key (HTTP 401/403) */
	CLI_NOTFOUND = 5, /* not found or conflict (HTTP 404/409) */
	CLI_SERVER = 6,   /* server error, rate limit or network failure (5xx, 429, no answer) */
};
extern const char cli_exit_help[];

extern const struct command commands[];
/* how the user invoked herald (argv[0]), for hints they can paste */
extern const char *cli_program;
const struct command *command_find(const char *name);
int cli_wants_help(int argc, char **argv);
void command_usage(const struct command *c, FILE *f);

/* Open the store (running migrations) and load the secret key. */
struct store;
int cli_open_store(struct config *cfg, struct store **out);

int cmd_serve(int argc, char **argv, struct config *cfg);
int cmd_keys(int argc, char **argv, struct config *cfg);
int cmd_channels(int argc, char **argv, struct config *cfg);
int cmd_mcp(int argc, char **argv, struct config *cfg);
int cmd_config(int argc, char **argv, struct config *cfg);
int cmd_version(int argc, char **argv, struct config *cfg);
int cmd_help(int argc, char **argv, struct config *cfg);
int cmd_post(int argc, char **argv, struct config *cfg);
int cmd_posts(int argc, char **argv, struct config *cfg);
int cmd_validate(int argc, char **argv, struct config *cfg);
int cmd_media(int argc, char **argv, struct config *cfg);
int cmd_analytics(int argc, char **argv, struct config *cfg);
int cmd_import(int argc, char **argv, struct config *cfg);
int cmd_completion(int argc, char **argv, struct config *cfg);
int cmd_man(int argc, char **argv, struct config *cfg);
/* channels list against a server (cmd_client.c) */
int client_channels_list(int argc, char **argv);
/* 1 when `herald channels list` should ask a server: --url given or HERALD_URL set,
 * and no --org/--local */
int client_channels_remote(int argc, char **argv);

/* Options every client command takes; client_args() removes them from argv. */
struct client_args {
	const char *url, *key;
	int json;
};
int client_args(int *argc, char **argv, struct client_args *ca);
struct remote;
/* open the remote from ca, printing the error; CLI_OK or an exit code */
int client_open(const char *cmd, const struct client_args *ca, struct remote *r);
/* GET /v1/accounts -> the data array (new reference) or NULL (error printed) */
int client_accounts(const char *cmd, struct remote *r, json_t **out);
/* resolve one --to/channel token (id, name case-insensitive, or the platform
 * of exactly one account) to a target object; with bare_platform, a token
 * matching no account becomes {"platform": tok}.  NULL with a message in err */
json_t *client_target(json_t *accounts, const char *tok, int bare_platform, char *err,
		      size_t errlen);
/* "2026-12-01T10:00:00Z", "2026-12-01 10:00" (in tz; NULL/"" = UTC), offsets honoured */
int cli_parse_time(const char *s, const char *tz, long long *out_ms, char *err, size_t errlen);
/* a media type guessed from a file name's extension */
const char *cli_mime_of(const char *path);
/* a local file described for preflight (not uploaded): {url (placeholder), mime, bytes} */
json_t *cli_media_placeholder(const char *path, long long bytes);
/* validate and select an IANA zone for cli_parse_time; -1 when unknown */
int cli_set_tz(const char *tz, char *err, size_t errlen);

#endif
