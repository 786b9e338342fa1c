/* SPDX-License-Identifier: MIT */
/* The checks of arguments, before anything is sent: TypeError or ValueError. */
#include <stdint.h>
#include <string.h>

#include "binding.h"

/* obj as an unsigned number up to max; 0 with TypeError or ValueError set. */
static int unsigned_arg(const char *name, PyObject *obj, unsigned long long max,
			unsigned long long *out)
{
	unsigned long long value;
	PyObject *number;

	if (!PyIndex_Check(obj)) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name,
			     Py_TYPE(obj)->tp_name);
		return 0;
	}
	number = PyNumber_Index(obj);
	if (!number)
		return 0;
	value = PyLong_AsUnsignedLongLong(number);
	Py_DECREF(number);
	if (value == (unsigned long long)-1 && PyErr_Occurred()) {
		/* Negative, or past 64 bits. */
		if (!PyErr_ExceptionMatches(PyExc_OverflowError))
			return 0;
		PyErr_Clear();
	} else if (value <= max) {
		*out = value;
		return 1;
	}
	PyErr_Format(PyExc_ValueError, "%s must be between 0 and %llu, not %R", name, max, obj);
	return 0;
}

int size_arg(const char *name, PyObject *obj, size_t *out)
{
	unsigned long long value;

	if (!unsigned_arg(name, obj, SIZE_MAX, &value))
		return 0;
	*out = (size_t)value;
	return 1;
}

int u32_arg(const char *name, PyObject *obj, uint32_t *out)
{
	unsigned long long value;

	if (!unsigned_arg(name, obj, UINT32_MAX, &value))
		return 0;
	*out = (uint32_t)value;
	return 1;
}

int u64_arg(const char *name, PyObject *obj, uint64_t *out)
{
	unsigned long long value;

	if (!unsigned_arg(name, obj, UINT64_MAX, &value))
		return 0;
	*out = value;
	return 1;
}

int allocation_args(PyObject *capacity, PyObject *options, PyObject *alignment,
		    struct allocation_args *out)
{
	*out = (struct allocation_args){ 0 };
	if (!size_arg("capacity", capacity, &out->capacity))
		return 0;
	if (options && !u32_arg("options", options, &out->options))
		return 0;
	if (alignment && !size_arg("alignment", alignment, &out->alignment))
		return 0;
	return 1;
}

int optional_text_arg(const char *name, PyObject *obj, const char **out)
{
	Py_ssize_t size;

	*out = NULL;
	if (!obj || obj == Py_None)
		return 1;
	if (!PyUnicode_Check(obj)) {
		PyErr_Format(PyExc_TypeError, "%s must be a str or None, not %.80s", name,
			     Py_TYPE(obj)->tp_name);
		return 0;
	}
	*out = PyUnicode_AsUTF8AndSize(obj, &size);
	if (!*out)
		return 0;
	if (strlen(*out) != (size_t)size) {
		PyErr_Format(PyExc_ValueError, "%s must not contain a NUL character", name);
		return 0;
	}
	return 1;
}

int placement_args(PyObject *heap, PyObject *label, struct allocation_args *out)
{
	if (!optional_text_arg("heap", heap, &out->heap) ||
	    !optional_text_arg("label", label, &out->label))
		return 0;
	if (out->heap && out->label) {
		PyErr_SetString(PyExc_ValueError, "give heap or label, not both: a buffer of a "
				"named heap gets the task's label (Task.set_label())");
		return 0;
	}
	return 1;
}
