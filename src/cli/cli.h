#ifndef ROTOR_CLI_H
#define ROTOR_CLI_H
/* Each subcommand: argv[0] is the subcommand name; returns the exit code. */
int cli_serve(int argc, char **argv);
int cli_lab(int argc, char **argv);
int cli_diagnose(int argc, char **argv);
#endif
