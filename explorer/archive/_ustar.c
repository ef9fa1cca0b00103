/* The tar reader's common case in C: a run of plain ustar headers within one chunk.
 *
 * `tarstream.TarReader` calls `rows(...)` where no PAX record or GNU long name is pending. It
 * reads headers from `buf` at `pos` for as long as each is of the plainest kind: the whole
 * header (and a regular file's data and padding) inside `buf`, its checksum exact, every
 * numeric field plain octal, a type of file, directory, symlink or device, a path that needs
 * no normalizing and is no whiteout, no file the package capture wants. At the first header
 * that is anything else it stops *before* it, and the Python reader takes that header: so
 * everything it returns is what the Python code would have made, and all the rest (errors,
 * warnings, extended headers, chunk edges) stays in one place, in Python.
 *
 * Every read is bounds-checked against the buffer's length before it is made.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define BLOCK 512

/* A numeric field in the strict form this path accepts: spaces, octal digits, then only NULs
 * and spaces. Sets *out and returns 1; returns 0 for anything else (base-256, signs, stray
 * bytes), which the Python reader then parses. An empty field is 0, as there. */
static int
octal(const unsigned char *field, Py_ssize_t width, long long *out)
{
    Py_ssize_t i = 0;
    long long value = 0;
    while (i < width && field[i] == ' ')
        i++;
    while (i < width && field[i] >= '0' && field[i] <= '7') {
        value = value * 8 + (field[i] - '0'); /* at most 12 digits: below 2**36 */
        i++;
    }
    while (i < width) {
        if (field[i] != 0 && field[i] != ' ')
            return 0;
        i++;
    }
    *out = value;
    return 1;
}

/* Whether `s` (`n` bytes) starts with one of the byte strings in `parts`, or ends with one
   when `at_end`. */
static int
has_any(const char *s, Py_ssize_t n, PyObject *parts, int at_end)
{
    Py_ssize_t count = PyTuple_GET_SIZE(parts);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *part = PyTuple_GET_ITEM(parts, i);
        Py_ssize_t k = PyBytes_GET_SIZE(part);
        if (k <= n && memcmp(at_end ? s + n - k : s, PyBytes_AS_STRING(part), k) == 0)
            return 1;
    }
    return 0;
}

static int
contains(const char *s, Py_ssize_t n, const char *what, Py_ssize_t k)
{
    for (Py_ssize_t i = 0; i + k <= n; i++)
        if (s[i] == what[0] && memcmp(s + i, what, k) == 0)
            return 1;
    return 0;
}

/* rows(buf, pos, base, limit, consts) -> (rows, pos, offsets), or None if no row was read
 *
 * consts: (FILE, DIR, SYMLINK, CHAR, BLOCK, FIFO, "", empty digest, xxh3_64_intdigest,
 *          capture suffixes as bytes, capture prefixes as bytes, MAX_DEPTH)
 * rows: at most `limit` row tuples; pos: where the reader stops (the next header);
 * offsets: the tar offset (base + position in buf) of each regular file's data, as native
 * unsigned 64-bit integers, for `array("Q").frombytes`. */
static PyObject *
ustar_rows(PyObject *module, PyObject *args)
{
    PyObject *bufobj, *consts;
    Py_ssize_t pos, limit;
    long long base;
    if (!PyArg_ParseTuple(args, "OnLnO!", &bufobj, &pos, &base, &limit, &PyTuple_Type, &consts))
        return NULL;
    if (PyTuple_GET_SIZE(consts) != 12) {
        PyErr_SetString(PyExc_ValueError, "consts: 12 items expected");
        return NULL;
    }
    PyObject *k_file = PyTuple_GET_ITEM(consts, 0), *k_dir = PyTuple_GET_ITEM(consts, 1);
    PyObject *k_symlink = PyTuple_GET_ITEM(consts, 2), *k_char = PyTuple_GET_ITEM(consts, 3);
    PyObject *k_block = PyTuple_GET_ITEM(consts, 4), *k_fifo = PyTuple_GET_ITEM(consts, 5);
    PyObject *empty = PyTuple_GET_ITEM(consts, 6), *empty_digest = PyTuple_GET_ITEM(consts, 7);
    PyObject *hash = PyTuple_GET_ITEM(consts, 8);
    PyObject *suffixes = PyTuple_GET_ITEM(consts, 9), *prefixes = PyTuple_GET_ITEM(consts, 10);
    Py_ssize_t max_depth = PyLong_AsSsize_t(PyTuple_GET_ITEM(consts, 11));
    if (max_depth == -1 && PyErr_Occurred())
        return NULL;
    if (!PyTuple_Check(suffixes) || !PyTuple_Check(prefixes)) {
        PyErr_SetString(PyExc_TypeError, "consts: suffixes and prefixes must be tuples");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(suffixes); i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(suffixes, i)))
            return PyErr_Format(PyExc_TypeError, "consts: suffixes must be bytes");
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(prefixes); i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(prefixes, i)))
            return PyErr_Format(PyExc_TypeError, "consts: prefixes must be bytes");

    Py_buffer view;
    if (PyObject_GetBuffer(bufobj, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *buf = (const unsigned char *)view.buf;
    const Py_ssize_t len = view.len;
    PyObject *rows = NULL, *offsets = NULL, *result = NULL; /* rows: made with the first row */
    uint64_t *offs = NULL;
    Py_ssize_t noffs = 0, cap = 0;
    if (pos < 0)
        pos = len; /* nothing to read */
    char name[100 + 1 + 155];

    while ((rows == NULL ? 0 : PyList_GET_SIZE(rows)) < limit && pos <= len - BLOCK) {
        const unsigned char *h = buf + pos;
        long long stored, size, mode, uid, gid, mtime;
        PyObject *kind;
        switch (h[156]) { /* the type first: a run often ends at a PAX or GNU record */
        case '0': case '\0': case '7': kind = k_file; break;
        case '5': kind = k_dir; break;
        case '2': kind = k_symlink; break;
        case '3': kind = k_char; break;
        case '4': kind = k_block; break;
        case '6': kind = k_fifo; break;
        default: goto stop; /* hard links, PAX and GNU records, sparse and unknown types */
        }
        if (!octal(h + 148, 8, &stored))
            break;
        long long sum = 8 * ' ';
        for (int i = 0; i < 148; i++)
            sum += h[i];
        for (int i = 156; i < BLOCK; i++)
            sum += h[i];
        if (sum != stored)
            break;
        if (!octal(h + 124, 12, &size) || !octal(h + 100, 8, &mode) || !octal(h + 108, 8, &uid)
            || !octal(h + 116, 8, &gid) || !octal(h + 136, 12, &mtime))
            break;
        mode &= 07777;
        /* the name, with a ustar prefix in front of it */
        Py_ssize_t n = 0;
        const unsigned char *raw = h;
        Py_ssize_t raw_len = strnlen((const char *)raw, 100);
        if (h[345] && memcmp(h + 257, "ustar\0", 6) == 0) {
            Py_ssize_t prefix_len = strnlen((const char *)h + 345, 155);
            memcpy(name, h + 345, prefix_len);
            name[prefix_len] = '/';
            n = prefix_len + 1;
        }
        memcpy(name + n, raw, raw_len);
        n += raw_len;
        if (h[156] == '\0' && n > 0 && name[n - 1] == '/')
            kind = k_dir; /* a V7 directory */
        const char *path = name;
        if (n >= 2 && path[0] == '.' && path[1] == '/') {
            path += 2;
            n -= 2;
        }
        while (n > 0 && path[n - 1] == '/')
            n--;
        /* left to Python: the root, names to normalize, any name that starts with a dot (whiteouts
         * and opaque markers among them), deep paths */
        if (n == 0 || path[0] == '.' || path[0] == '/' || contains(path, n, "/.", 2) || contains(path, n, "//", 2))
            break;
        Py_ssize_t slashes = 0;
        for (Py_ssize_t i = 0; i < n; i++)
            slashes += path[i] == '/';
        if (slashes >= max_depth)
            break;
        Py_ssize_t next = pos + BLOCK;
        PyObject *digest;
        if (kind == k_file) {
            if (has_any(path, n, suffixes, 1) || has_any(path, n, prefixes, 0))
                break; /* the capture may want it */
            Py_ssize_t padded = size + ((BLOCK - size % BLOCK) % BLOCK);
            if (size > len || padded > len - next)
                break; /* data beyond this chunk */
            if (size == 0) {
                digest = Py_NewRef(empty_digest);
            } else {
                PyObject *data = PyMemoryView_FromMemory((char *)buf + next, size, PyBUF_READ);
                if (data == NULL)
                    goto done;
                digest = PyObject_CallOneArg(hash, data);
                Py_DECREF(data);
                if (digest == NULL)
                    goto done;
            }
            if (noffs == cap) {
                Py_ssize_t more = cap ? 2 * cap : 256;
                uint64_t *grown = PyMem_Realloc(offs, more * sizeof(uint64_t));
                if (grown == NULL) {
                    Py_DECREF(digest);
                    PyErr_NoMemory();
                    goto done;
                }
                offs = grown;
                cap = more;
            }
            offs[noffs++] = (uint64_t)(base + next);
            next += padded;
        } else {
            size = 0;
            digest = Py_NewRef(Py_None);
        }
        PyObject *link;
        if (kind == k_symlink) {
            link = PyUnicode_DecodeUTF8((const char *)h + 157, strnlen((const char *)h + 157, 100), "surrogateescape");
        } else {
            link = Py_NewRef(empty);
        }
        PyObject *text = PyUnicode_DecodeUTF8(path, n, "surrogateescape");
        PyObject *row = NULL;
        if (link != NULL && text != NULL)
            row = Py_BuildValue("(OOLLLLLOO)", text, kind, size, mode, uid, gid, mtime, link, digest);
        Py_XDECREF(link);
        Py_XDECREF(text);
        Py_DECREF(digest);
        if (row == NULL)
            goto done;
        if (rows == NULL && (rows = PyList_New(0)) == NULL) {
            Py_DECREF(row);
            goto done;
        }
        int failed = PyList_Append(rows, row);
        Py_DECREF(row);
        if (failed)
            goto done;
        pos = next;
    }
stop:
    if (rows == NULL) { /* none read: the header at `pos` is the Python reader's */
        result = Py_NewRef(Py_None);
        goto done;
    }
    offsets = PyBytes_FromStringAndSize((const char *)offs, noffs * (Py_ssize_t)sizeof(uint64_t));
    if (offsets != NULL)
        result = Py_BuildValue("(OnO)", rows, pos, offsets);
done:
    PyBuffer_Release(&view);
    PyMem_Free(offs);
    Py_XDECREF(rows);
    Py_XDECREF(offsets);
    return result;
}

static PyMethodDef methods[] = {
    {"rows", ustar_rows, METH_VARARGS, "A run of plain ustar headers: (rows, next position, file data offsets)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ustar", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__ustar(void)
{
    return PyModule_Create(&module);
}
