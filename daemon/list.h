/* SPDX-License-Identifier: MIT */
/*
 * Intrusive doubly linked lists, newest first. next and prev name the
 * item's link fields, so one item can be in several lists:
 *   LIST_PREPEND(held->buffers, buffer, next, prev);
 */
#ifndef IOBUFD_LIST_H
#define IOBUFD_LIST_H

#include <stddef.h>

#define LIST_PREPEND(head, item, next, prev)                                   \
	do {                                                                   \
		__typeof__(item) list_item_ = (item);                              \
		list_item_->prev = NULL;                                       \
		list_item_->next = (head);                                     \
		if (list_item_->next)                                          \
			list_item_->next->prev = list_item_;                   \
		(head) = list_item_;                                           \
	} while (0)

#define LIST_REMOVE(head, item, next, prev)                                    \
	do {                                                                   \
		__typeof__(item) list_item_ = (item);                              \
		if (list_item_->prev)                                          \
			list_item_->prev->next = list_item_->next;             \
		else                                                           \
			(head) = list_item_->next;                             \
		if (list_item_->next)                                          \
			list_item_->next->prev = list_item_->prev;             \
		list_item_->next = list_item_->prev = NULL;                    \
	} while (0)

#endif
