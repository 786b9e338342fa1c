/* SPDX-License-Identifier: MIT */
/* Where a process sits: its cgroup and its systemd unit, read once. */
#ifndef IOBUFD_CGROUP_H
#define IOBUFD_CGROUP_H

#include <sys/types.h>

/*
 * pid's cgroup v2 path ("" when unknown) and its systemd unit: its user
 * unit under a user manager, else its system unit, as sd_pid_get_user_unit()
 * and sd_pid_get_unit() say ("" for none), from one read of /proc/PID/cgroup.
 */
void cgroup_identity(pid_t pid, char cgroup[256], char unit[128]);

/*
 * The unit of a process in the systemd hierarchy's path, as libsystemd
 * reads it, below root_path (PID 1's root: "/" on most machines).
 */
void cgroup_unit_of_path(const char *path, const char *root_path, char unit[128]);

#endif
