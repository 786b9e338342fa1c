/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "connection.h"
#include "log-budget.h"
#include "log.h"
#include "core/quota.h"
#include "server.h"
#include "wire.h"

#define ACCEPT_RETRY_USEC 1000000
/* Connections served per turn of the event loop; the rest are served in the next. */
#define READY_MAX 128

static int fill_address(struct sockaddr_un *addr, const char *path)
{
	*addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	strcpy(addr->sun_path, path);
	return 0;
}

/* Whether a daemon answers at path. */
static bool someone_listens(const struct sockaddr_un *addr)
{
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool answered;

	if (sock < 0)
		return false;
	answered = connect(sock, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(sock);
	return answered;
}

/* Makes room for the socket: its directory, and no stale socket in the way. */
static int prepare_path(const char *path, const struct sockaddr_un *addr)
{
	char dir[sizeof(addr->sun_path)];
	char *slash;
	struct stat st;

	memcpy(dir, addr->sun_path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return log_error_errno(-errno, "cannot create %s", dir);
	}

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot inspect %s", path);
	if (!S_ISSOCK(st.st_mode)) {
		log_error("%s exists and is not a socket; refusing to replace it", path);
		return -EEXIST;
	}
	if (someone_listens(addr)) {
		log_error("another iobufd is listening on %s", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0)
		return log_error_errno(-errno, "cannot remove the stale socket %s", path);
	log_info("removed a stale socket at %s", path);
	return 0;
}

static int create_socket(struct server *server, const char *path)
{
	struct sockaddr_un addr;
	int sock, r;

	r = fill_address(&addr, path);
	if (r < 0)
		return log_error_errno(r, "socket path %s", path);
	r = prepare_path(path, &addr);
	if (r < 0)
		return r;

	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sock < 0)
		return log_error_errno(-errno, "cannot create a socket");
	if (bind(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = log_error_errno(-errno, "cannot bind %s", path);
		goto fail;
	}
	server->path = path;
	/* Any local task may ask; limits and accounting are what protect memory. */
	if (chmod(path, 0666) < 0 || listen(sock, SOMAXCONN) < 0) {
		r = log_error_errno(-errno, "cannot listen on %s", path);
		goto fail;
	}
	return sock;
fail:
	close(sock);
	return r;
}

/*
 * Sends a new client its refusal and closes the connection. What it sent
 * already is read and dropped first: closing with unread records would
 * make its next read fail with ECONNRESET before it sees why.
 */
static void refuse_client(int sock, const struct wire_message *refusal)
{
	char drop;

	(void)wire_send(sock, refusal, -1, MSG_DONTWAIT);
	for (int i = 0; i < 64 && recv(sock, &drop, 1, MSG_DONTWAIT | MSG_TRUNC) >= 0; i++)
		;
	close(sock);
}

static void turn_away(int sock, unsigned max_clients)
{
	struct wire_message msg = { .header.opcode = WIRE_ERROR, .error.error = EUSERS };

	snprintf(msg.error.message, sizeof(msg.error.message), "too many clients (limit %u)",
		 max_clients);
	refuse_client(sock, &msg);
}

static int on_retry(sd_event_source *source, uint64_t usec, void *userdata)
{
	struct server *server = userdata;

	return sd_event_source_set_enabled(server->listen_source, SD_EVENT_ON);
}

/* Made at start and only re-armed later: recovering must not need a new fd. */
static int add_retry_timer(struct server *server)
{
	int r;

	r = sd_event_add_time_relative(server->event, &server->retry_source, CLOCK_MONOTONIC,
				       ACCEPT_RETRY_USEC, 0, on_retry, server);
	if (r >= 0)
		r = sd_event_source_set_enabled(server->retry_source, SD_EVENT_OFF);
	return r;
}

/* The last resort when even the spare fd is gone: stop accepting for a moment. */
static void pause_accepting(struct server *server)
{
	int r;

	log_warning("out of file descriptors; not accepting clients for a second");
	r = sd_event_source_set_enabled(server->listen_source, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_source_set_time_relative(server->retry_source, ACCEPT_RETRY_USEC);
	if (r >= 0)
		r = sd_event_source_set_enabled(server->retry_source, SD_EVENT_ONESHOT);
	if (r < 0) {
		log_error_errno(r, "cannot arm the accept retry; accepting again at once");
		(void)sd_event_source_set_enabled(server->listen_source, SD_EVENT_ON);
	}
}

/*
 * Out of fds with clients waiting: the spare fd makes room to accept one
 * and tell it so, rather than leave the queue to fill with clients that
 * wait for ever. Returns false when that did not work.
 */
static bool turn_away_with_spare(struct server *server)
{
	struct wire_message msg = { .header.opcode = WIRE_ERROR, .error.error = EMFILE };
	int sock, accept_errno;

	if (server->spare_fd < 0)
		return false;
	close(server->spare_fd);
	sock = accept4(server->sock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	accept_errno = errno;
	if (sock >= 0) {
		snprintf(msg.error.message, sizeof(msg.error.message),
			 "the daemon is out of file descriptors; try again later");
		refuse_client(sock, &msg);
	}
	server->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (!server->fd_shortage_logged) {
		log_warning("out of file descriptors: turning new clients away until some close");
		server->fd_shortage_logged = true;
	}
	return sock >= 0 || accept_errno == EAGAIN;
}

static void out_of_fds(struct server *server)
{
	if (!turn_away_with_spare(server))
		pause_accepting(server);
}

/* Who is behind a new connection; uid (uid_t)-1 when the kernel does not say. */
static struct ucred peer_cred(int sock)
{
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cred);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		cred.uid = (uid_t)-1;
	return cred;
}

/* A uid past its share of clients is turned away; other uids are not. */
static bool uid_may_connect(struct server *server, int sock, uid_t uid)
{
	struct wire_message msg = { .header.opcode = WIRE_ERROR, .error.error = EUSERS };
	struct reason why;

	if (quota_check_uid_clients(server->allocator, uid, &why) >= 0)
		return true;
	snprintf(msg.error.message, sizeof(msg.error.message), "%s", why.text);
	log_debug("refused a client: %s", why.text);
	refuse_client(sock, &msg);
	return false;
}

static int on_connection(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct server *server = userdata;
	struct ucred cred;
	int sock, r;

	sock = accept4(server->sock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (sock < 0) {
		if (errno == EMFILE || errno == ENFILE)
			out_of_fds(server);
		else if (errno != EAGAIN && errno != ECONNABORTED)
			log_error_errno(-errno, "accept failed");
		return 0;
	}
	if (server->fd_shortage_logged) {
		log_info("file descriptors are available again: accepting clients");
		server->fd_shortage_logged = false;
	}
	cred = peer_cred(sock);
	if (server->connection_count >= server->max_clients) {
		log_for_uid(cred.uid, LOG_WARNING, "refused a client: %u clients connected",
			    server->connection_count);
		turn_away(sock, server->max_clients);
		return 0;
	}
	if (!uid_may_connect(server, sock, cred.uid))
		return 0;
	r = connection_new(server, sock, cred.uid == (uid_t)-1 ? NULL : &cred);
	if (r < 0)
		log_error_errno(r, "cannot set up a client");
	return 0;
}

static int on_ready(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct server *server = userdata;
	struct epoll_event ready[READY_MAX];
	int n;

	n = epoll_wait(server->ready_fd, ready, READY_MAX, 0);
	if (n < 0 && errno != EINTR)
		return log_error_errno(-errno, "cannot read the set of ready connections");
	/* A connection freed in its turn is only ever its own event: the others stay valid. */
	for (int i = 0; i < n; i++)
		connection_serve(ready[i].data.ptr, ready[i].events);
	return 0;
}

/* Made with the first connection, so that whoever sets up a server by hand gets it too. */
static int make_ready_set(struct server *server)
{
	int fd, r;

	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = sd_event_add_io(server->event, &server->ready_source, fd, EPOLLIN, on_ready, server);
	if (r < 0) {
		close(fd);
		return r;
	}
	server->ready_fd = fd;
	return 0;
}

int server_watch_connection(struct server *server, int sock, struct connection *conn)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conn };
	int r;

	if (!server->ready_source) {
		r = make_ready_set(server);
		if (r < 0)
			return r;
	}
	return epoll_ctl(server->ready_fd, EPOLL_CTL_ADD, sock, &ev) < 0 ? -errno : 0;
}

/*
 * Said explicitly: the fd store may hold another reference to the socket,
 * which would keep it in the set after close().
 */
void server_unwatch_connection(struct server *server, int sock)
{
	(void)epoll_ctl(server->ready_fd, EPOLL_CTL_DEL, sock, NULL);
}

int server_init(struct server *server, sd_event *event, struct allocator *allocator,
		int listen_fd, const char *path, unsigned max_clients)
{
	int r;

	*server = (struct server){
		.event = event,
		.allocator = allocator,
		.max_clients = max_clients,
		.sock = -1,
		.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC),
	};
	if (server->spare_fd < 0)
		return log_error_errno(-errno, "cannot open /dev/null");
	if (listen_fd >= 0) {
		server->sock = listen_fd;
		log_info("listening on the socket systemd passed");
	} else {
		server->sock = create_socket(server, path);
		if (server->sock < 0)
			return server->sock;
		log_info("listening on %s", path);
	}
	r = sd_event_add_io(event, &server->listen_source, server->sock, EPOLLIN, on_connection,
			    server);
	if (r < 0)
		return log_error_errno(r, "cannot watch the listening socket");
	r = add_retry_timer(server);
	if (r < 0)
		return log_error_errno(r, "cannot create the accept retry timer");
	return 0;
}

void server_fini(struct server *server)
{
	while (server->connections)
		connection_free(server->connections);
	if (server->ready_source) {
		server->ready_source = sd_event_source_disable_unref(server->ready_source);
		close(server->ready_fd);
	}
	sd_event_source_disable_unref(server->retry_source);
	sd_event_source_disable_unref(server->listen_source);
	if (server->sock >= 0)
		close(server->sock);
	if (server->spare_fd >= 0)
		close(server->spare_fd);
	if (server->path)
		unlink(server->path);
}
