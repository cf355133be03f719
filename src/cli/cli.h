/*
 * cli: herald's subcommands, git-style.  Each command is one function
 * `int cmd_x(int argc, char **argv, struct config *cfg)`; the table in
 * main.c lists them with their help, and `herald CMD --help` prints it.
 * Exit codes: 0 ok, 1 failure, 2 usage error.
 */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

#include "../core/config.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv, struct config *cfg);
	const char *usage;
	const char *summary;
	const char *help;
};

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

#endif
