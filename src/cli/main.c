/* rotor: one binary, one subcommand per file (serve, lab, diagnose). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    { "serve", cli_serve, "run the gateway (HTTP forward proxy + CONNECT)" },
    { "lab",   cli_lab,   "simulated proxy pool and target sites on loopback" },
    { "diagnose", cli_diagnose, "the proxy error guide's five-step flowchart against a proxy or a pool" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: rotor COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'rotor COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("rotor %s\n", ROTOR_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "rotor: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
