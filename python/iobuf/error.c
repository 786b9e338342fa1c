/* SPDX-License-Identifier: MIT */
/* Failures as OSError, and the package's enums for what libiobuf returns. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "binding.h"

void call_error_capture(struct call_error *error, int errnum)
{
	error->errnum = errnum ? errnum : EIO;
	snprintf(error->message, sizeof(error->message), "%s", iobuf_last_error());
}

PyObject *call_error_raise(const struct call_error *error)
{
	const char *reason = strerror(error->errnum);
	PyObject *text, *args;

	if (error->message[0])
		text = PyUnicode_FromFormat("%s: %s", reason, error->message);
	else
		text = PyUnicode_FromString(reason);
	if (!text)
		return NULL;
	/* As PyErr_SetFromErrno(): OSError picks its subclass by the errno. */
	args = Py_BuildValue("(iN)", error->errnum, text);
	if (!args)
		return NULL;
	PyErr_SetObject(PyExc_OSError, args);
	Py_DECREF(args);
	return NULL;
}

PyObject *package_enum(const char *name, unsigned long value)
{
	PyObject *package, *type, *member;

	package = PyImport_ImportModule("iobuf");
	if (!package)
		return NULL;
	type = PyObject_GetAttrString(package, name);
	Py_DECREF(package);
	if (!type)
		return NULL;
	member = PyObject_CallFunction(type, "k", value);
	Py_DECREF(type);
	return member;
}
