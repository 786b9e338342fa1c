/* SPDX-License-Identifier: MIT */
/*
 * iobufctl: look at and administer iobufd over D-Bus. The command line is
 * read and checked here (a mistake in it exits 2 before the bus is
 * touched), then one command of ctl-commands.h runs (a failure exits 1).
 */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl-bus.h"
#include "ctl-commands.h"
#include "ctl-options.h"

#define EXIT_USAGE 2

/* What usage --by takes, for the synopsis. */
#define BY_SCOPES IOBUF_SCOPE_UID "|" IOBUF_SCOPE_UNIT "|" IOBUF_SCOPE_CGROUP "|" IOBUF_SCOPE_HEAP

/* The options that belong to one command or another. */
enum {
	OPT_CLIENT = 1 << 0,
	OPT_ALIGNMENT = 1 << 1,
	OPT_OPTIONS = 1 << 2,
	OPT_BY = 1 << 3,
	OPT_HEAP = 1 << 4,
	OPT_LABEL = 1 << 5,
};

struct command {
	const char *name;
	const char *sub; /* a second word ("limits set"), or NULL */
	const char *what; /* both words, for messages */
	const char *args; /* the synopsis after the command's words */
	int n_args;
	unsigned allowed; /* OPT_* */
	int (*parse)(char **args, struct ctl_request *req);
	int (*run)(const struct ctl_context *c, const struct ctl_request *req);
};

static int parse_alloc(char **args, struct ctl_request *req);
static int parse_limits_set(char **args, struct ctl_request *req);
static int parse_free_client(char **args, struct ctl_request *req);

/* "limits set" before "limits": the first entry that matches is taken. */
static const struct command commands[] = {
	{ "status", NULL, "status", "", 0, 0, NULL, ctl_status },
	{ "heaps", NULL, "heaps", "", 0, 0, NULL, ctl_heaps },
	{ "clients", NULL, "clients", "", 0, 0, NULL, ctl_clients },
	{ "buffers", NULL, "buffers", " [--client ID]", 0, OPT_CLIENT, NULL, ctl_buffers },
	{ "usage", NULL, "usage", " [--by " BY_SCOPES "]", 0, OPT_BY, NULL, ctl_usage },
	{ "alloc", NULL, "alloc", " SIZE [--alignment A] [--options LIST] [--heap NAME] [--label L]",
	  1, OPT_ALIGNMENT | OPT_OPTIONS | OPT_HEAP | OPT_LABEL, parse_alloc, ctl_alloc },
	{ "limits", "set", "limits set", " NAME VALUE", 2, 0, parse_limits_set, ctl_limits_set },
	{ "limits", NULL, "limits", "", 0, 0, NULL, ctl_limits },
	{ "purge", NULL, "purge", "", 0, 0, NULL, ctl_purge },
	{ "free-client", NULL, "free-client", " ID", 1, 0, parse_free_client, ctl_free_client },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

struct args {
	enum ctl_bus_kind bus;
	const char *address;
	bool json, help, version;
	unsigned given; /* OPT_* on the command line */
	struct ctl_request req;
	char **positional;
	int n_positional;
};

static void help(void)
{
	printf("Usage: iobufctl [OPTIONS] COMMAND [ARGS]\n"
	       "\n"
	       "Look at and administer iobufd over D-Bus (" IOBUF_BUS_NAME ").\n"
	       "\n"
	       "Commands:\n"
	       "  status                    version, totals, heap count and limits\n"
	       "  heaps                     each heap, what it can do and what it serves\n"
	       "  clients                   connected clients and what they hold (admin)\n"
	       "  buffers [--client ID]     live buffers, of every client or of one (admin)\n"
	       "  usage [--by " BY_SCOPES "]\n"
	       "                            clients, buffers and bytes per uid (the default),\n"
	       "                            systemd unit, cgroup or heap (admin)\n"
	       "  alloc SIZE [--alignment A] [--options LIST] [--heap NAME] [--label L]\n"
	       "                            allocate a test buffer, freed as iobufctl exits,\n"
	       "                            from that heap only, with that label\n"
	       "  limits                    the limits in force\n"
	       "  limits set NAME VALUE     change a limit (admin)\n"
	       "  purge                     empty every volatile purgeable buffer (admin)\n"
	       "  free-client ID            free every buffer of a client (admin)\n"
	       "\n"
	       "Options:\n"
	       "      --system              talk to the system bus (the default)\n"
	       "      --user                talk to the user's session bus\n"
	       "      --address=ADDRESS     talk to the bus at a D-Bus address\n"
	       "      --json                print one JSON document, sizes in bytes\n"
	       "  -h, --help                show this help\n"
	       "  -V, --version             show the version\n"
	       "\n"
	       "SIZE, A and VALUE take a K, M or G suffix (powers of 1024).\n"
	       "LIST is comma separated: in, out, inout, contiguous, pageable, purgeable,\n"
	       "  kernel-user-shared, cache=default|inhibit|writethru|copyback|writecombine.\n"
	       "Admin commands are for root and members of iobufd-admin.\n");
}

/* A mistake on the command line: what it is, then how to ask properly. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("iobufctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nUsage: iobufctl [--system|--user|--address=ADDRESS] [--json] COMMAND [ARGS]\n"
	      "Commands: status, heaps, clients, buffers, usage, alloc, limits, limits set, "
	      "purge, free-client\n"
	      "See 'iobufctl --help'.\n",
	      stderr);
	return -EINVAL;
}

static int size_error(const char *what, const char *name, const char *text, int r)
{
	if (r == -ERANGE)
		return usage_error("%s: %s '%s' is too large", what, name, text);
	return usage_error("%s: invalid %s '%s': expected a number with an optional K, M or G "
			   "suffix", what, name, text);
}

static int client_error(const char *what, const char *text)
{
	return usage_error("%s: invalid client id '%s': expected a number from 1 to 4294967295",
			   what, text);
}

static int parse_alloc(char **args, struct ctl_request *req)
{
	int r = ctl_parse_size(args[0], &req->size);

	return r < 0 ? size_error("alloc", "SIZE", args[0], r) : 0;
}

static int parse_limits_set(char **args, struct ctl_request *req)
{
	int r;

	if (!args[0][0])
		return usage_error("limits set: NAME must not be empty");
	req->limit = args[0];
	r = ctl_parse_size(args[1], &req->value);
	return r < 0 ? size_error("limits set", "VALUE", args[1], r) : 0;
}

static int parse_free_client(char **args, struct ctl_request *req)
{
	return ctl_parse_client(args[0], &req->client) < 0 ? client_error("free-client", args[0])
							    : 0;
}

static int parse_option_list(const char *list, uint32_t *bits)
{
	const char *bad;
	size_t len;
	int r;

	r = ctl_options_parse(list, bits, &bad, &len);
	if (r == -EEXIST)
		return usage_error("--options: '%.*s' conflicts with the cache mode before it",
				   (int)len, bad);
	if (r < 0 && len == 0)
		return usage_error("--options: empty name in '%s'", list);
	if (r < 0)
		return usage_error("--options: unknown option '%.*s'; known: %s", (int)len, bad,
				   ctl_options_vocabulary);
	return 0;
}

/* What getopt refused: arg is the word it was reading, optopt the option it knew, or 0. */
static int unknown_option(const char *arg)
{
	if (strncmp(arg, "--", 2) != 0)
		return usage_error("unknown option '-%c'", optopt);
	if (optopt) /* a known long option given a value it does not take */
		return usage_error("option '%.*s' takes no value", (int)strcspn(arg, "="), arg);
	return usage_error("unknown option '%s'", arg);
}

/* One option of getopt's, into *a. 0 or -EINVAL (said). */
static int take_option(int c, struct args *a, char **argv)
{
	int r;

	switch (c) {
	case 'h': a->help = true; return 0;
	case 'V': a->version = true; return 0;
	case 'S': a->bus = CTL_BUS_SYSTEM; return 0;
	case 'U': a->bus = CTL_BUS_USER; return 0;
	case 'A': a->bus = CTL_BUS_ADDRESS; a->address = optarg; return 0;
	case 'J': a->json = true; return 0;
	case 'c':
		a->given |= OPT_CLIENT;
		return ctl_parse_client(optarg, &a->req.client) < 0
			       ? client_error("--client", optarg) : 0;
	case 'a':
		a->given |= OPT_ALIGNMENT;
		r = ctl_parse_size(optarg, &a->req.alignment);
		return r < 0 ? size_error("--alignment", "alignment", optarg, r) : 0;
	case 'o':
		a->given |= OPT_OPTIONS;
		return parse_option_list(optarg, &a->req.options);
	case 'H':
		a->given |= OPT_HEAP;
		a->req.heap = optarg;
		return 0;
	case 'L':
		a->given |= OPT_LABEL;
		a->req.label = optarg;
		return 0;
	case 'b':
		a->given |= OPT_BY;
		a->req.by = optarg;
		if (!ctl_usage_by_known(optarg))
			return usage_error("--by: unknown key '%s'; known: %s", optarg,
					   ctl_usage_by_vocabulary);
		return 0;
	case ':':
		return usage_error("option '%s' needs a value", argv[optind - 1]);
	}
	return unknown_option(argv[optind - 1]);
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option options[] = {
		{ "system", no_argument, NULL, 'S' },
		{ "user", no_argument, NULL, 'U' },
		{ "address", required_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'J' },
		{ "client", required_argument, NULL, 'c' },
		{ "alignment", required_argument, NULL, 'a' },
		{ "options", required_argument, NULL, 'o' },
		{ "by", required_argument, NULL, 'b' },
		{ "heap", required_argument, NULL, 'H' },
		{ "label", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	*a = (struct args){ .bus = CTL_BUS_SYSTEM, .req.by = IOBUF_SCOPE_UID };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", options, NULL)) != -1)
		if (take_option(c, a, argv) < 0)
			return -EINVAL;
	a->positional = argv + optind;
	a->n_positional = argc - optind;
	return 0;
}

static const struct command *find_command(char **words, int n)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct command *cmd = &commands[i];

		if (strcmp(cmd->name, words[0]) != 0)
			continue;
		if (!cmd->sub || (n > 1 && strcmp(cmd->sub, words[1]) == 0))
			return cmd;
	}
	return NULL;
}

static const char *option_name(unsigned opt)
{
	switch (opt) {
	case OPT_CLIENT: return "--client";
	case OPT_ALIGNMENT: return "--alignment";
	case OPT_OPTIONS: return "--options";
	case OPT_HEAP: return "--heap";
	case OPT_LABEL: return "--label";
	}
	return "--by";
}

/* The command and its arguments, checked. */
static int resolve(struct args *a, const struct command **out)
{
	const struct command *cmd;
	unsigned stray;
	int skip;

	if (a->n_positional == 0)
		return usage_error("no command given");
	cmd = find_command(a->positional, a->n_positional);
	if (!cmd)
		return usage_error("unknown command '%s'", a->positional[0]);
	skip = cmd->sub ? 2 : 1;
	if (a->n_positional - skip < cmd->n_args)
		return usage_error("%s: missing argument (iobufctl %s%s)", cmd->what,
				   cmd->what, cmd->args);
	if (a->n_positional - skip > cmd->n_args)
		return usage_error("%s: unexpected argument '%s' (iobufctl %s%s)", cmd->what,
				   a->positional[skip + cmd->n_args], cmd->what, cmd->args);
	stray = a->given & ~cmd->allowed;
	if (stray)
		return usage_error("%s: %s does not apply to it", cmd->what,
				   option_name(stray & -stray));
	*out = cmd;
	return cmd->parse ? cmd->parse(a->positional + skip, &a->req) : 0;
}

static int run(const struct args *a, const struct command *cmd)
{
	struct ctl_context c = { .json = a->json, .what = cmd->what };
	int r;

	r = ctl_bus_open(a->bus, a->address, &c.bus);
	if (r < 0)
		return r;
	r = cmd->run(&c, &a->req);
	sd_bus_flush_close_unref(c.bus);
	return r;
}

/*
 * Tables are laid out by the width of each character, which the C library
 * knows only in a UTF-8 locale. What iobufctl prints is UTF-8 whatever the
 * locale (D-Bus strings are), so a C or POSIX one is taken as C.UTF-8.
 * LC_CTYPE only: sizes keep their decimal point.
 */
static void read_utf8(void)
{
	if (setlocale(LC_CTYPE, "") && strcmp(nl_langinfo(CODESET), "UTF-8") == 0)
		return;
	setlocale(LC_CTYPE, "C.UTF-8");
}

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	struct args a;
	int r;

	read_utf8();
	if (parse_args(argc, argv, &a) < 0)
		return EXIT_USAGE;
	if (a.help) {
		help();
	} else if (a.version) {
		printf("iobufctl %s\n", IOBUFD_VERSION);
	} else {
		if (resolve(&a, &cmd) < 0)
			return EXIT_USAGE;
		r = run(&a, cmd);
		if (r < 0)
			return EXIT_FAILURE;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "iobufctl: cannot write the output: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
