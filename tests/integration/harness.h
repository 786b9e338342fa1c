/* SPDX-License-Identifier: MIT */
/* Runs a real iobufd for a test and talks to it. */
#ifndef IOBUF_TEST_HARNESS_H
#define IOBUF_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iobuf/iobuf.h"
#include "wire.h"

struct test_daemon {
	pid_t pid;
	char dir[64];
	char socket[128];
};

/*
 * Starts $IOBUFD_BINARY (under $IOBUFD_WRAPPER, split on spaces, when set)
 * with --no-dbus --heaps=memfd on a socket in a fresh temporary directory, with extra arguments
 * (NULL-terminated, may be NULL), and waits until it accepts. Sets
 * $IOBUFD_SOCKET to its socket. Fails the test if it does not come up.
 */
void test_daemon_start(struct test_daemon *d, const char *const *extra_args);

/* The same on socket_path instead of one in the temporary directory. */
void test_daemon_start_at(struct test_daemon *d, const char *socket_path);

/* The same without --socket: the daemon finds its path in $IOBUFD_SOCKET. */
void test_daemon_start_from_env(struct test_daemon *d);

/*
 * Forks $IOBUFD_BINARY (under $IOBUFD_WRAPPER, split on spaces, when set)
 * with args (NULL-terminated, nothing added). Its stdout and stderr go to
 * output_fd unless it is -1; in_child, unless NULL, runs in the child just
 * before the exec.
 */
pid_t spawn_iobufd(const char *const *args, int output_fd, void (*in_child)(void *),
		   void *data);

/*
 * Runs iobufd with args (NULL-terminated; no --socket is added) to its exit
 * and returns its exit status, with what it printed in output.
 */
int run_iobufd(const char *const *args, char *output, size_t size);

/* Writes text to the file at path, asserting it works. */
void write_config(const char *path, const char *text);
/*
 * Asserts that iobufd refuses to start on a config file saying text, with
 * exit status 1 and error (e.g. ":2: what is wrong") in what it prints.
 */
void assert_config_refused(const char *text, const char *error);

/* SIGTERMs it and asserts a clean exit (status 0) that removed the socket. */
void test_daemon_stop(struct test_daemon *d);
/* The same, for a daemon that was already sent SIGTERM. */
void test_daemon_wait_stopped(struct test_daemon *d);

/* SIGKILLs the daemon and reaps it, as a crash would: its socket file stays. */
void test_daemon_kill(struct test_daemon *d);
/* Starts a new daemon on d's socket, in d's directory (after test_daemon_kill). */
void test_daemon_restart(struct test_daemon *d);

/* Whether the daemon process is still running. */
int test_daemon_alive(const struct test_daemon *d);

/* A raw SOCK_SEQPACKET connection to path, or -1. */
int raw_connect(const char *path);

/* Sends hello and asserts the hello-reply. */
void raw_hello(int sock);

/* Sends msg and receives the reply; returns wire_recv's result. */
int raw_call(int sock, struct wire_message *msg, struct wire_message *reply, int *fd);

/* Sends bytes as one record with fd_count (1 to 16) fds of /dev/null in SCM_RIGHTS. */
void raw_send_with_fds(int sock, const void *bytes, size_t len, size_t fd_count);

/* Whether the peer closed the connection (reads EOF within a second). */
int raw_closed(int sock);

/* This process's command name, as the daemon reads it (a wrapper may change it). */
const char *own_comm(void);

/* Open fds of a process, and of this one. */
size_t count_fds(pid_t pid);
size_t count_open_fds(void);
/* A process's resident memory (VmRSS), in KiB, asserting it is known. */
long process_rss_kib(pid_t pid);

/* pidfd_open(2) of pid, asserting it succeeds. */
int test_pidfd_open(pid_t pid);
/* A child that waits to be killed, and dies with this process at the latest. */
pid_t idle_child(void);
/*
 * A child that exits at once: its pidfd once it has exited, still unreaped
 * (a zombie) until the caller waits for *pid.
 */
int exited_child_pidfd(pid_t *pid);

/* The systemd unit the daemon finds for this process, "" outside any. */
const char *own_unit(void);
/* This process's cgroup v2 path, as the daemon reads it; "" without cgroup v2. */
const char *own_cgroup(void);

/* A pageable, purgeable buffer of size bytes in task, every byte fill. */
struct iobuf *purgeable_filled(struct iobuf_task *task, size_t size, unsigned char fill);
/* Sets the buffer's purgeable state, asserting it works; the old one. */
enum iobuf_purgeable_state set_state(struct iobuf *buf, enum iobuf_purgeable_state state);
/* Whether every byte of the buffer is fill. */
bool holds(struct iobuf *buf, unsigned char fill);


/* The daemon's figures for task, asserting the call succeeds. */
struct iobuf_usage usage_of(struct iobuf_task *task);

/*
 * Polls task's usage until the daemon holds total_buffers buffers over all
 * tasks (a disconnect is handled asynchronously); fails after 10 s.
 */
void wait_total_buffers(struct iobuf_task *task, uint64_t total_buffers);

/*
 * Asserts that a call failed: result is NULL (or r < 0 for int calls through
 * assert_refused_r), errno/r is err and iobuf_last_error() contains message.
 */
void assert_refused(const void *result, int err, const char *message);
void assert_refused_r(int r, int err, const char *message);

/*
 * Gives this process, and the daemons it starts from now on, a mount
 * namespace whose /etc/group adds iobufd-admin with gid; undone by
 * test_admin_group_end(). Asserts that no such group exists before.
 */
void test_admin_group_begin(gid_t gid);
void test_admin_group_end(void);

/* Group setup/teardown running one default iobufd in *state. */
int group_daemon_start(void **state);
int group_daemon_stop(void **state);

#endif
