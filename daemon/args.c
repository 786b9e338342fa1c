/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "config.h"
#include "core/pressure.h"
#include "names.h"

enum {
	OPT_MAX_BUFFER_SIZE = 0x100,
	OPT_MAX_CLIENT_BUFFERS,
	OPT_MAX_CLIENT_BYTES,
	OPT_MAX_CLIENTS,
	OPT_MAX_UID_BUFFERS,
	OPT_MAX_UID_CLIENTS,
	OPT_HEAPS,
	OPT_CONTIGUOUS_HEAPS,
	OPT_BUS,
	OPT_NO_DBUS,
	OPT_CONFIG,
	OPT_MEMORY_PRESSURE,
	OPT_LOG_TARGET,
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: iobufd [OPTIONS]\n"
		"Allocate device-shareable buffers for local tasks and charge them.\n\n"
		"  -s, --socket=PATH            listen on PATH (default $IOBUFD_SOCKET or %s)\n"
		"  -c, --config=FILE            read limits and heaps from FILE\n"
		"                               (default %s, if it exists)\n"
		"      --bus=BUS                serve D-Bus on system, session or an address\n"
		"                               (default the system bus, when there is one)\n"
		"      --no-dbus                serve the socket only\n"
		"      --heaps=LIST             use only these heaps, preferred in this order:\n"
		"                               names separated by commas, NAME* by prefix\n"
		"                               (default every heap found, the one that gives\n"
		"                               away least first: see iobufd(8))\n"
		"      --contiguous-heaps=LIST  dma-buf heaps known to be physically contiguous\n"
		"                               (the kernel's CMA heaps always are)\n"
		"      --max-buffer-size=BYTES  largest buffer (default 512M)\n"
		"      --max-client-buffers=N   buffers per client (default 4096)\n"
		"      --max-client-bytes=BYTES bytes per client (default 2G)\n"
		"      --max-clients=N          connected clients (default 256)\n"
		"      --max-uid-buffers=N      buffers per uid (default: an eighth of the\n"
		"                               file descriptors left for buffers)\n"
		"      --max-uid-clients=N      clients per uid (default: an eighth of\n"
		"                               max-clients)\n"
		"      --memory-pressure=TRIGGER\n"
		"                               purge every volatile buffer when tasks stall on\n"
		"                               memory this long: 'some|full STALL_US WINDOW_US'\n"
		"                               or off (default '%s')\n"
		"      --log-target=TARGET      auto (the journal when stderr is connected to\n"
		"                               it), journal or stderr (default auto)\n"
		"  -v, --verbose                log every request\n"
		"  -h, --help                   show this help\n"
		"  -V, --version                show the version\n\n"
		"BYTES take a K, M or G suffix. A socket passed by systemd is used instead of PATH.\n"
		"Options win over the config file, which SIGHUP reloads.\n",
		IOBUFD_DEFAULT_SOCKET, IOBUFD_DEFAULT_CONFIG, PRESSURE_TRIGGER_DEFAULT);
}

int args_parse_bytes(const char *text, uint64_t *bytes)
{
	unsigned long long value;
	unsigned shift = 0;
	char *end;

	if (!isdigit((unsigned char)text[0])) /* strtoull would take a sign or spaces */
		return -EINVAL;
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno)
		return -errno;
	if (end == text)
		return -EINVAL;
	switch (*end) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	}
	if (*end)
		return -EINVAL;
	if (value > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)value << shift;
	return 0;
}

static int parse_limit(const char *name, const char *text, uint64_t max, uint64_t *out);

/* --NAME=VALUE for the limit NAME, kept to be applied over the config file. */
static int add_override(struct daemon_config *config, const char *name, const char *text,
			uint64_t max)
{
	char option[64];
	uint64_t value;
	int r;

	snprintf(option, sizeof(option), "--%s", name);
	r = parse_limit(option, text, max, &value);
	if (r < 0)
		return r;
	for (size_t i = 0; i < config->override_count; i++) {
		if (strcmp(config->overrides[i].name, name) == 0) {
			config->overrides[i].value = value;
			return 0;
		}
	}
	config->overrides[config->override_count++] = (struct limit_override){ name, value };
	return 0;
}

static int parse_limit(const char *name, const char *text, uint64_t max, uint64_t *out)
{
	int r = args_parse_bytes(text, out);

	if (r == 0 && (*out == 0 || *out > max))
		r = -ERANGE;
	if (r < 0)
		fprintf(stderr, "iobufd: invalid %s '%s': expected a number from 1 to %" PRIu64 "\n",
			name, text, max);
	return r;
}

static int parse_memory_pressure(const char *text, struct daemon_config *config)
{
	struct reason why;
	int r = pressure_trigger_parse(text, config->memory_pressure, &why);

	if (r < 0)
		fprintf(stderr, "iobufd: invalid --" IOBUF_SETTING_MEMORY_PRESSURE " %s\n", why.text);
	return r;
}

static int parse_log_target(const char *text, enum log_target *target)
{
	static const char *const names[] = {
		[LOG_TARGET_AUTO] = "auto",
		[LOG_TARGET_JOURNAL] = "journal",
		[LOG_TARGET_STDERR] = "stderr",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(text, names[i]) == 0) {
			*target = (enum log_target)i;
			return 0;
		}
	}
	fprintf(stderr, "iobufd: invalid --log-target '%s': expected auto, journal or stderr\n",
		text);
	return -EINVAL;
}

int args_parse(int argc, char **argv, struct daemon_config *config)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ IOBUF_LIMIT_MAX_BUFFER_SIZE, required_argument, NULL, OPT_MAX_BUFFER_SIZE },
		{ IOBUF_LIMIT_MAX_CLIENT_BUFFERS, required_argument, NULL, OPT_MAX_CLIENT_BUFFERS },
		{ IOBUF_LIMIT_MAX_CLIENT_BYTES, required_argument, NULL, OPT_MAX_CLIENT_BYTES },
		{ IOBUF_SETTING_MAX_CLIENTS, required_argument, NULL, OPT_MAX_CLIENTS },
		{ IOBUF_LIMIT_MAX_UID_BUFFERS, required_argument, NULL, OPT_MAX_UID_BUFFERS },
		{ IOBUF_LIMIT_MAX_UID_CLIENTS, required_argument, NULL, OPT_MAX_UID_CLIENTS },
		{ IOBUF_SETTING_HEAPS, required_argument, NULL, OPT_HEAPS },
		{ IOBUF_SETTING_CONTIGUOUS_HEAPS, required_argument, NULL, OPT_CONTIGUOUS_HEAPS },
		{ "bus", required_argument, NULL, OPT_BUS },
		{ "no-dbus", no_argument, NULL, OPT_NO_DBUS },
		{ IOBUF_SETTING_MEMORY_PRESSURE, required_argument, NULL, OPT_MEMORY_PRESSURE },
		{ "log-target", required_argument, NULL, OPT_LOG_TARGET },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	const char *env = getenv("IOBUFD_SOCKET");
	uint64_t clients = 0;
	int c, r = 0;

	*config = (struct daemon_config){
		.socket_path = env && *env ? env : IOBUFD_DEFAULT_SOCKET,
		.config_path = IOBUFD_DEFAULT_CONFIG,
		.bus = "system",
	};

	while ((c = getopt_long(argc, argv, "s:c:vhV", options, NULL)) >= 0) {
		switch (c) {
		case 's':
			config->socket_path = optarg;
			break;
		case 'c':
			config->config_path = optarg;
			config->config_required = true;
			break;
		case OPT_MAX_BUFFER_SIZE:
			r = add_override(config, IOBUF_LIMIT_MAX_BUFFER_SIZE, optarg, UINT64_MAX);
			break;
		case OPT_MAX_CLIENT_BUFFERS:
			r = add_override(config, IOBUF_LIMIT_MAX_CLIENT_BUFFERS, optarg, UINT32_MAX);
			break;
		case OPT_MAX_CLIENT_BYTES:
			r = add_override(config, IOBUF_LIMIT_MAX_CLIENT_BYTES, optarg, UINT64_MAX);
			break;
		case OPT_MAX_CLIENTS:
			r = parse_limit("--" IOBUF_SETTING_MAX_CLIENTS, optarg, 65536, &clients);
			config->max_clients = (unsigned)clients;
			break;
		case OPT_MAX_UID_BUFFERS:
			r = add_override(config, IOBUF_LIMIT_MAX_UID_BUFFERS, optarg, UINT32_MAX);
			break;
		case OPT_MAX_UID_CLIENTS:
			r = add_override(config, IOBUF_LIMIT_MAX_UID_CLIENTS, optarg, 65536);
			break;
		case OPT_HEAPS:
			config->heaps.select = optarg;
			break;
		case OPT_CONTIGUOUS_HEAPS:
			config->heaps.contiguous = optarg;
			break;
		case OPT_BUS:
			config->bus = optarg;
			config->bus_required = true;
			break;
		case OPT_NO_DBUS:
			config->bus = NULL;
			config->bus_required = false;
			break;
		case OPT_MEMORY_PRESSURE:
			r = parse_memory_pressure(optarg, config);
			break;
		case OPT_LOG_TARGET:
			r = parse_log_target(optarg, &config->log_target);
			break;
		case 'v':
			config->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("iobufd %s\n", IOBUFD_VERSION);
			return 0;
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (r < 0)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "iobufd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 1;
}
