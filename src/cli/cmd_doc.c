/*
 * doc: `herald completion bash` and `herald man`, both generated from the
 * command table in main.c (the one `--help` prints), so a command or option
 * appears in completion and the manual exactly when it is in the table.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_completion(int argc, char **argv, struct config *cfg)
{
	(void)cfg;
	if (argc != 2 || strcmp(argv[1], "bash")) {
		fprintf(stderr, "herald completion: want 'bash'\n");
		return CLI_USAGE;
	}
	printf("# bash completion for herald; load with: source <(herald completion bash)\n"
	       "_herald()\n{\n"
	       "\tlocal cur=\"${COMP_WORDS[COMP_CWORD]}\" cmd=\"${COMP_WORDS[1]}\" words=\"\"\n"
	       "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"");
	for (const struct command *c = commands; c->name; c++)
		printf("%s%s", c == commands ? "" : " ", c->name);
	printf(" --help --version\" -- \"$cur\"))\n\t\treturn\n\tfi\n\tcase \"$cmd\" in\n");
	for (const struct command *c = commands; c->name; c++) {
		printf("\t%s) ", c->name);
		if (!strcmp(c->name, "help")) {
			printf("words=\"");
			for (const struct command *d = commands; d->name; d++)
				printf("%s%s", d == commands ? "" : " ", d->name);
			printf("\" ;;\n");
			continue;
		}
		printf("if [ \"$COMP_CWORD\" -eq 2 ]; then words=\"%s\"; fi; "
		       "words=\"$words %s --help\" ;;\n",
		       c->subcommands, c->options);
	}
	printf("\tesac\n"
	       "\tif [ \"$cmd\" = import ] || [ \"$cmd\" = media ] || [[ \"$cur\" != -* && "
	       "\"${COMP_WORDS[COMP_CWORD-1]}\" = --media ]]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\") $(compgen -f -- \"$cur\"))\n"
	       "\telse\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	       "\tfi\n"
	       "}\n"
	       "complete -F _herald herald\n");
	return CLI_OK;
}

/* roff-escape: backslash, and a leading '.' or '\'' on a line */
static void roff(const char *s)
{
	int bol = 1;
	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", stdout);
		if (*s == '\\')
			fputs("\\e", stdout);
		else if (*s == '-')
			fputs("\\-", stdout);
		else
			putchar(*s);
		bol = *s == '\n';
	}
}

int cmd_man(int argc, char **argv, struct config *cfg)
{
	(void)argv;
	(void)cfg;
	if (argc > 1) {
		fprintf(stderr, "herald man: unexpected argument '%s'\n", argv[1]);
		return CLI_USAGE;
	}
	printf(".TH HERALD 1 \"\" \"herald\" \"User Commands\"\n"
	       ".SH NAME\nherald \\- self\\-hosted social media publishing and scheduling server and client\n"
	       ".SH SYNOPSIS\n.B herald\n.I command\n.RI [ args ]\n"
	       ".SH DESCRIPTION\n"
	       "herald serves the Postiz public API and its native /v1 API, schedules and publishes\n"
	       "posts, and is also a command\\-line client of a running herald server.\n"
	       "Run \\fBherald\\fR \\fIcommand\\fR \\fB\\-\\-help\\fR for a command's help.\n"
	       ".SH COMMANDS\n");
	for (const struct command *c = commands; c->name; c++) {
		printf(".SS %s\n", c->name);
		printf(".B ");
		roff(c->usage);
		printf("\n.PP\n");
		roff(c->summary);
		printf(".\n");
		if (*c->help) {
			printf(".PP\n.nf\n");
			roff(c->help);
			printf(".fi\n");
		}
		if (*c->options) {
			printf(".PP\nOptions: ");
			roff(c->options);
			printf("\n");
		}
	}
	printf(".SH ENVIRONMENT\n"
	       ".TP\n.B HERALD_URL\nbase URL of the herald server the client commands talk to\n"
	       ".TP\n.B HERALD_API_KEY\nAPI key the client commands send as a Bearer token\n"
	       ".TP\n.B HERALD_CLIENT_TIMEOUT\nseconds a client request may take (default 60)\n"
	       ".PP\nServer options: see \\fBherald config \\-\\-help\\fR.\n"
	       ".SH EXIT STATUS\n.nf\n");
	roff(strchr(cli_exit_help, '\n') + 1);
	printf(".fi\n.SH SEE ALSO\nThe project README and /openapi.json of a running server.\n");
	return CLI_OK;
}
