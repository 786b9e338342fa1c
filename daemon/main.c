/* SPDX-License-Identifier: MIT */
/* iobufd: hands device-shareable buffers to local tasks and charges them. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <systemd/sd-event.h>

#include "args.h"
#include "bus/bus.h"
#include "config-file.h"
#include "config.h"
#include "core/allocator.h"
#include "core/fdbudget.h"
#include "core/pressure.h"
#include "core/release.h"
#include "log.h"
#include "notify.h"
#include "socket/connection.h"
#include "socket/server.h"
#include "store/restore.h"

/* The limits of the config file under those of the command line, and the file's settings. */
static int load_settings(const struct daemon_config *config, struct limits *limits,
			 struct file_settings *file)
{
	struct reason why;
	int r;

	limits_default(limits);
	*file = (struct file_settings){ 0 };
	r = config_file_load(config->config_path, config->config_required, limits, file);
	if (r < 0)
		return r;
	for (size_t i = 0; i < config->override_count; i++)
		if (limits_set(limits, config->overrides[i].name, config->overrides[i].value,
			       &why) < 0)
			return log_error_errno(-EINVAL, "%s", why.text);
	return 0;
}

/* The memory pressure trigger of the command line, else of the file, else the default. */
static const char *pressure_trigger(const struct daemon_config *config,
				    const struct file_settings *file)
{
	if (config->memory_pressure[0])
		return config->memory_pressure;
	return file->memory_pressure[0] ? file->memory_pressure : PRESSURE_TRIGGER_DEFAULT;
}

struct reload {
	const struct daemon_config *config;
	const struct fd_budget *budget;
	struct allocator *allocator;
	struct bus_service *bus;
	struct pressure_watch *pressure;
};

/* SIGHUP: new limits for new requests, a new memory pressure trigger; every buffer stays. */
static int on_reload(sd_event_source *source, const struct signalfd_siginfo *info,
		     void *userdata)
{
	struct reload *reload = userdata;
	struct file_settings file;
	struct limits limits;

	if (load_settings(reload->config, &limits, &file) < 0) {
		log_warning("keeping the limits in force");
		return 0;
	}
	fd_budget_apply(reload->budget, &limits);
	reload->allocator->limits = limits;
	log_info("reloaded %s: %zu rules; heaps and max-clients change at a restart",
		 reload->config->config_path, limits.rule_count);
	bus_service_limits_changed(reload->bus);
	(void)pressure_watch_change(reload->pressure, pressure_trigger(reload->config, &file));
	return 0;
}

static int watch_signals(sd_event *event, struct reload *reload)
{
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* A lease the release check took is broken by signal: it needs no answer (release.h). */
	signal(SIGIO, SIG_IGN);
	r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
	if (r >= 0)
		r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
	if (r >= 0)
		r = sd_event_add_signal(event, NULL, SIGHUP, on_reload, reload);
	return r;
}

/* D-Bus as configured; the default system bus is optional, a --bus is not. */
static int serve_bus(struct bus_service *bus, sd_event *event, struct allocator *allocator,
		     const struct daemon_config *config)
{
	int r;

	if (!config->bus)
		return 0;
	r = bus_service_init(bus, event, allocator, config->bus);
	if (r < 0 && !config->bus_required) {
		log_warning("serving the socket only");
		return 0;
	}
	return r;
}

/* What restore.c calls to give a stored connection or bus client back to its front end. */
static int adopt_connection(void *server, int sock, unsigned id)
{
	return connection_adopt(server, sock, id);
}

static int adopt_bus_client(void *bus, const char *name, unsigned id, struct client **out)
{
	return bus_service_adopt_client(bus, name, id, out);
}

static int run(const struct daemon_config *config)
{
	struct allocator allocator;
	struct server server;
	struct bus_service bus = { 0 };
	struct handover handover;
	struct notify notify;
	struct pressure_watch pressure;
	struct release_watch release = { 0 };
	struct fd_budget budget;
	struct reload reload = { config, &budget, &allocator, &bus, &pressure };
	struct file_settings file;
	struct heap_config heaps;
	struct limits limits;
	sd_event *event = NULL;
	int r;

	r = load_settings(config, &limits, &file);
	if (r < 0)
		return r;
	heaps = (struct heap_config){
		.select = config->heaps.select ? config->heaps.select
					       : file.heaps[0] ? file.heaps : NULL,
		.contiguous = config->heaps.contiguous ? config->heaps.contiguous
						       : file.contiguous[0] ? file.contiguous : NULL,
	};
	fd_budget_init(&budget, config->max_clients ? config->max_clients
			: file.max_clients ? file.max_clients : 256);
	fd_budget_apply(&budget, &limits);
	r = allocator_init(&allocator, &limits, &heaps);
	if (r < 0)
		return log_error_errno(r, "cannot set up the heaps");
	r = handover_take(&handover, &allocator.store);
	if (r < 0)
		goto out_allocator;
	r = sd_event_default(&event);
	if (r < 0) {
		log_error_errno(r, "cannot create the event loop");
		goto out_event; /* the handover's fds go too */
	}
	r = watch_signals(event, &reload);
	if (r < 0) {
		log_error_errno(r, "cannot watch signals");
		goto out_event;
	}
	r = server_init(&server, event, &allocator, handover.listen_fd, config->socket_path,
			budget.max_clients);
	handover.listen_fd = -1;
	if (r < 0)
		goto out_server;
	r = serve_bus(&bus, event, &allocator, config);
	if (r < 0)
		goto out_bus;
	restore_registry(&handover, &allocator, event,
			 &(struct restore_front_ends){ .adopt_connection = adopt_connection,
						       .adopt_bus_client = adopt_bus_client,
						       .socket = &server, .bus = &bus });
	allocator_catch_up(&allocator, NULL);

	log_info("iobufd %s ready: max buffer %" PRIu64 " bytes, per client %" PRIu64
		 " buffers and %" PRIu64 " bytes, %u clients",
		 IOBUFD_VERSION, limits.max_buffer_size, limits.client.buffers, limits.client.bytes,
		 budget.max_clients);
	log_info("file descriptors: %" PRIu64 ", of which %" PRIu64 " for buffers; per uid %"
		 PRIu64 " buffers and %" PRIu64 " clients", budget.nofile, budget.buffers,
		 limits.uid.buffers, limits.uid_clients);
	heaps_log(&allocator.heaps);
	r = pressure_watch_start(&pressure, event, &allocator, pressure_trigger(config, &file));
	if (r >= 0)
		r = release_watch_start(&release, event, &allocator);
	if (r >= 0)
		r = notify_ready(&notify, event, &allocator);
	if (r < 0)
		goto out_pressure;

	r = sd_event_loop(event);
	notify_stopping(&notify);
	if (r < 0)
		log_error_errno(r, "event loop failed");
	else if (allocator.store.max)
		log_info("stopping; on a restart the fd store hands %u clients and %" PRIu64
			 " buffers (%" PRIu64 " bytes) to the next iobufd", allocator.clients,
			 allocator.buffers, allocator.bytes);
	else
		log_info("stopping");
out_pressure:
	release_watch_stop(&release);
	pressure_watch_stop(&pressure);
out_bus:
	/* Closing our fds from here on leaves them with the manager, for the next iobufd. */
	fdstore_stop(&allocator.store);
	bus_service_fini(&bus);
out_server:
	server_fini(&server);
out_event:
	sd_event_unref(event);
	handover_fini(&handover);
out_allocator:
	allocator_fini(&allocator);
	return r;
}

int main(int argc, char **argv)
{
	struct daemon_config config;
	int r;

	r = args_parse(argc, argv, &config);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	log_set_verbose(config.verbose);
	log_set_target(config.log_target);
	return run(&config) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
