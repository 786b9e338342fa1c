/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"
#include "service-manager.h"

static int bound_socket(int type, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sock = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	assert_true(sock >= 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	assert_int_equal(bind(sock, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return sock;
}

void manager_init(struct service_manager *m)
{
	*m = (struct service_manager){ .notify = -1, .listen = -1 };
	snprintf(m->dir, sizeof(m->dir), "/tmp/iobufd-manager.XXXXXX");
	assert_non_null(mkdtemp(m->dir));
	snprintf(m->notify_path, sizeof(m->notify_path), "%s/notify", m->dir);
	snprintf(m->socket_path, sizeof(m->socket_path), "%s/iobufd.sock", m->dir);
	m->notify = bound_socket(SOCK_DGRAM, m->notify_path);
	m->listen = bound_socket(SOCK_SEQPACKET, m->socket_path);
	assert_int_equal(chmod(m->socket_path, 0666), 0);
	assert_int_equal(listen(m->listen, SOMAXCONN), 0);
}

void manager_fini(struct service_manager *m)
{
	if (m->pid > 0)
		manager_stop(m);
	for (size_t i = 0; i < m->stored; i++)
		close(m->store[i].fd);
	m->stored = 0;
	close(m->notify);
	close(m->listen);
	unlink(m->notify_path);
	unlink(m->socket_path);
	rmdir(m->dir);
}

static void store_fd(struct service_manager *m, const char *name, int fd)
{
	assert_true(m->stored < MANAGER_STORE_MAX);
	snprintf(m->store[m->stored].name, sizeof(m->store[0].name), "%s", name);
	m->store[m->stored++].fd = fd;
}

static void remove_stored(struct service_manager *m, const char *name)
{
	for (size_t i = 0; i < m->stored;) {
		if (strcmp(m->store[i].name, name) == 0) {
			close(m->store[i].fd);
			m->store[i] = m->store[--m->stored];
		} else {
			i++;
		}
	}
}

/* The value of "key=value" among the message's lines, copied into out; "" if absent. */
static void field(const char *msg, const char *key, char *out, size_t size)
{
	size_t len = strlen(key);
	const char *line = msg;

	out[0] = '\0';
	while (line) {
		if (strncmp(line, key, len) == 0 && line[len] == '=') {
			snprintf(out, size, "%.*s", (int)strcspn(line + len + 1, "\n"), line + len + 1);
			return;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
}

/* Acts on one message as systemd does; the fds it carried are stored or closed. */
static void handle(struct service_manager *m, const char *msg, const int *fds, size_t n_fds)
{
	char name[256];

	field(msg, "FDNAME", name, sizeof(name));
	if (strstr(msg, "FDSTORE=1")) {
		for (size_t i = 0; i < n_fds; i++)
			store_fd(m, name[0] ? name : "stored", fds[i]);
		return;
	}
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	if (strstr(msg, "FDSTOREREMOVE=1"))
		remove_stored(m, name);
}

/* Receives and handles one message into msg; false when none came in timeout_ms. */
static bool receive(struct service_manager *m, char *msg, size_t size, int timeout_ms)
{
	struct pollfd pfd = { .fd = m->notify, .events = POLLIN };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} control;
	struct iovec iov = { .iov_base = msg, .iov_len = size - 1 };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	const int *fds = NULL;
	size_t n_fds = 0;
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	n = recvmsg(m->notify, &mh, MSG_CMSG_CLOEXEC);
	assert_true(n >= 0);
	assert_false(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
	msg[n] = '\0';
	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			fds = (const int *)CMSG_DATA(cmsg);
			n_fds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		}
	}
	handle(m, msg, fds, n_fds);
	return true;
}

void manager_expect(struct service_manager *m, const char *text, int timeout_ms)
{
	char msg[4096];

	while (receive(m, msg, sizeof(msg), timeout_ms))
		if (strstr(msg, text))
			return;
	fail_msg("no notification with \"%s\" within %d ms", text, timeout_ms);
}

size_t manager_count_stored(const struct service_manager *m, const char *prefix)
{
	size_t count = 0;

	for (size_t i = 0; i < m->stored; i++)
		count += strncmp(m->store[i].name, prefix, strlen(prefix)) == 0;
	return count;
}

void manager_wait_stored(struct service_manager *m, const char *prefix, size_t count,
			 int timeout_ms)
{
	char msg[4096];

	for (int waited = 0; manager_count_stored(m, prefix) != count; waited += 10) {
		if (waited >= timeout_ms)
			fail_msg("the store holds %zu fds named %s*, not %zu",
				 manager_count_stored(m, prefix), prefix, count);
		receive(m, msg, sizeof(msg), 10);
	}
}

/* In the child: the fds at 3, 4, ... and the environment systemd sets. */
static void hand_over(void *data)
{
	struct service_manager *m = data;
	char names[MANAGER_STORE_MAX * 257 + 32] = "iobufd.socket";
	int moved[MANAGER_STORE_MAX + 1];
	size_t n = 0;
	char num[32];

	/* Out of the way first, so that no fd lands on one still to be moved. */
	moved[n++] = fcntl(m->listen, F_DUPFD, 1000);
	for (size_t i = 0; i < m->stored; i++) {
		moved[n++] = fcntl(m->store[i].fd, F_DUPFD, 1000);
		strcat(names, ":");
		strcat(names, m->store[i].name);
	}
	for (size_t i = 0; i < n; i++)
		if (moved[i] < 0 || dup2(moved[i], 3 + (int)i) < 0)
			_exit(126);
	snprintf(num, sizeof(num), "%zu", n);
	setenv("LISTEN_FDS", num, 1);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	setenv("NOTIFY_SOCKET", m->notify_path, 1);
	snprintf(num, sizeof(num), "%u", m->fdstore_max ? m->fdstore_max : MANAGER_STORE_MAX);
	setenv("FDSTORE", num, 1);
}

void manager_spawn(struct service_manager *m, const char *const *extra_args)
{
	const char *args[16] = { "--no-dbus", "--heaps=memfd" };
	size_t n = 2;

	for (size_t i = 0; extra_args && extra_args[i] && n < 15; i++)
		args[n++] = extra_args[i];
	args[n] = NULL;
	m->pid = spawn_iobufd(args, -1, hand_over, m);
}

void manager_start(struct service_manager *m, const char *const *extra_args)
{
	manager_spawn(m, extra_args);
	manager_expect(m, "READY=1", 10000);
}

void manager_stop(struct service_manager *m)
{
	char msg[4096];
	int status;

	assert_int_equal(kill(m->pid, SIGTERM), 0);
	manager_expect(m, "STOPPING=1", 10000);
	assert_int_equal(waitpid(m->pid, &status, 0), m->pid);
	m->pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Whatever it said after STOPPING=1, as a manager would read it. */
	while (receive(m, msg, sizeof(msg), 0))
		;
}

int manager_fixture_setup(void **state)
{
	static struct service_manager m;

	manager_init(&m);
	manager_start(&m, NULL);
	*state = &m;
	return 0;
}

int manager_fixture_teardown(void **state)
{
	manager_fini(*state);
	return 0;
}

pid_t spawn_holder(struct iobuf_task *(*open_task)(const char *socket_path),
		   const char *socket_path, uint32_t options, size_t size)
{
	int ready[2];
	pid_t child;
	char c;

	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct iobuf_task *task = open_task(socket_path);

		if (!task || !iobuf_in_task_with_options(task, options, size, 0))
			_exit(1);
		(void)!write(ready[1], "r", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	close(ready[1]);
	return child;
}
