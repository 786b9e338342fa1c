/* SPDX-License-Identifier: MIT */
/*
 * Scope-bound cleanup, as systemd writes it: a variable declared
 *   _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
 * is released on every way out of its scope. libsystemd declares the
 * *_unrefp helpers for its own types.
 */
#ifndef IOBUFD_CLEANUP_H
#define IOBUFD_CLEANUP_H

#define _cleanup_(f) __attribute__((cleanup(f)))

#endif
