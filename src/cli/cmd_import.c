#include "cli.h"
int cmd_import(int argc, char **argv, struct config *cfg) { (void)argc; (void)argv; (void)cfg; return 1; }
