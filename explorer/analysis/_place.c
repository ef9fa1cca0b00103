/* Stacking's common case in C: a run of rows that each add a path new to the image.
 *
 * `filesystem.FileSystem._place` calls `place(...)` on a layer's rows. For as long as each row
 * is of the plainest kind — not a hard link, its folder already a directory of this layer
 * (`dirs`), no node at its path yet — it does what the Python loop does for such a row: the
 * entry (shared with an alike one, or made with its metadata values shared), the interned
 * name, the `Node`, the change that adds it (a `Copy` for a regular file), `order`, `copies`
 * and `dirs`. Whiteouts and opaque markers it passes over, as the loop does (they acted first).
 * At the first other row it stops *before* it and the Python code takes that row: replacing,
 * hiding, hard links and implicit directories stay in one place, in Python.
 *
 * The objects are made as the classes' `__init__` makes them (every slot set), written
 * through the offsets of the classes' slots, looked up and checked once by `prepare`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

/* What `prepare` was given: the classes, their slots' offsets, the constants. */
static PyTypeObject *entry_type, *node_type, *change_type, *copy_type;
static Py_ssize_t entry_slot[9], node_slot[4], change_slot[7], copy_slot[5];
static PyObject *added, *empty;
static Py_UCS4 k_file, k_dir, k_hardlink, k_whiteout, k_opaque;
static Py_ssize_t alike_kept;

static const char *entry_names[] = {"path", "kind", "size", "mode", "uid", "gid", "mtime", "link", "digest"};
static const char *node_names[] = {"name", "parent", "children", "_changes"};
static const char *change_names[] = {"node", "layer", "kind", "entry", "old", "old_layer", "copy"};
static const char *copy_names[] = {"size", "digest", "refs", "hidden_by", "cause"};

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

/* Set a slot of a new object (its value NULL), taking a new reference to `value`. */
static inline void
set_slot(PyObject *obj, Py_ssize_t offset, PyObject *value)
{
    SLOT(obj, offset) = Py_NewRef(value);
}

/* The offsets of `names`' slots in instances of `type`: each must be an object slot (a member
 * descriptor of `type` or a base, from `__slots__`). */
static int
offsets_of(PyTypeObject *type, const char **names, Py_ssize_t count, Py_ssize_t *out)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *descr = PyObject_GetAttrString((PyObject *)type, names[i]);
        if (descr == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                return -1;
            PyErr_Clear();
        }
        int ok = descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type);
        if (ok) {
            PyMemberDescrObject *member = (PyMemberDescrObject *)descr;
            ok = member->d_member->type == T_OBJECT_EX && !(member->d_member->flags & READONLY)
                 && PyType_IsSubtype(type, PyDescr_TYPE(member))
                 && member->d_member->offset >= (Py_ssize_t)sizeof(PyObject)
                 && member->d_member->offset + (Py_ssize_t)sizeof(PyObject *) <= type->tp_basicsize;
            if (ok)
                out[i] = member->d_member->offset;
        }
        Py_XDECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", type->tp_name, names[i]);
            return -1;
        }
    }
    return 0;
}

static int
one_char(PyObject *s, Py_UCS4 *out)
{
    if (!PyUnicode_CheckExact(s) || PyUnicode_GET_LENGTH(s) != 1) {
        PyErr_SetString(PyExc_TypeError, "kinds are one-character strings");
        return -1;
    }
    *out = PyUnicode_READ_CHAR(s, 0);
    return 0;
}

/* prepare(Entry, Node, Change, Copy, (FILE, DIR, HARDLINK, WHITEOUT, OPAQUE), ADDED, ALIKE_KEPT) */
static PyObject *
place_prepare(PyObject *module, PyObject *args)
{
    PyTypeObject *types[4];
    PyObject *kinds, *added_arg;
    Py_ssize_t kept;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!Un", &PyType_Type, &types[0], &PyType_Type, &types[1], &PyType_Type,
                          &types[2], &PyType_Type, &types[3], &PyTuple_Type, &kinds, &added_arg, &kept))
        return NULL;
    if (PyTuple_GET_SIZE(kinds) != 5)
        return PyErr_Format(PyExc_ValueError, "5 kinds expected");
    if (!PyType_IsSubtype(types[3], types[2]))
        return PyErr_Format(PyExc_TypeError, "Copy must subclass Change");
    for (int i = 0; i < 4; i++)
        if (types[i]->tp_alloc == NULL || types[i]->tp_dictoffset != 0)
            return PyErr_Format(PyExc_TypeError, "%s: a class with __slots__ only expected", types[i]->tp_name);
    /* kept only once all are checked; a Copy's Change slots are where a Change has them */
    Py_ssize_t entry_at[9], node_at[4], change_at[7], inherited_at[7], copy_at[5];
    if (offsets_of(types[0], entry_names, 9, entry_at) < 0 || offsets_of(types[1], node_names, 4, node_at) < 0
        || offsets_of(types[2], change_names, 7, change_at) < 0
        || offsets_of(types[3], change_names, 7, inherited_at) < 0
        || memcmp(change_at, inherited_at, sizeof(change_at)) != 0 || offsets_of(types[3], copy_names, 5, copy_at) < 0)
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "Copy must keep Change's slots");
    Py_UCS4 chars[5];
    for (int i = 0; i < 5; i++)
        if (one_char(PyTuple_GET_ITEM(kinds, i), &chars[i]) < 0)
            return NULL;
    memcpy(entry_slot, entry_at, sizeof(entry_at));
    memcpy(node_slot, node_at, sizeof(node_at));
    memcpy(change_slot, change_at, sizeof(change_at));
    memcpy(copy_slot, copy_at, sizeof(copy_at));
    k_file = chars[0], k_dir = chars[1], k_hardlink = chars[2], k_whiteout = chars[3], k_opaque = chars[4];
    if (empty == NULL && (empty = PyUnicode_FromStringAndSize("", 0)) == NULL)
        return NULL;
    Py_XSETREF(added, Py_NewRef(added_arg));
    Py_XSETREF(entry_type, (PyTypeObject *)Py_NewRef(types[0]));
    Py_XSETREF(node_type, (PyTypeObject *)Py_NewRef(types[1]));
    Py_XSETREF(change_type, (PyTypeObject *)Py_NewRef(types[2]));
    Py_XSETREF(copy_type, (PyTypeObject *)Py_NewRef(types[3]));
    alike_kept = kept;
    Py_RETURN_NONE;
}

/* A new `Entry("", kind, size, *shared(mode, uid, gid, mtime), link, digest)` of `row`. */
static PyObject *
new_entry(PyObject *row, PyObject *shared)
{
    PyObject *entry = entry_type->tp_alloc(entry_type, 0);
    if (entry == NULL)
        return NULL;
    set_slot(entry, entry_slot[0], empty);
    for (int i = 1; i < 9; i++) {
        PyObject *value = PyTuple_GET_ITEM(row, i);
        if (i >= 3 && i <= 6) { /* mode, uid, gid, mtime: one object per distinct value */
            value = PyDict_SetDefault(shared, value, value);
            if (value == NULL) {
                for (int j = i; j < 9; j++) /* slots left NULL would read as unset: fill them */
                    set_slot(entry, entry_slot[j], Py_None);
                Py_DECREF(entry);
                return NULL;
            }
        }
        set_slot(entry, entry_slot[i], value);
    }
    return entry;
}

/* Whether rows `a` and `b` (tuples of 9 whose fields 1-8 `place` checked: strs, ints, None)
 * have equal fields 1-8: equal keys of `alike` (equal strs and ints hash alike). */
static int
same_key(PyObject *a, PyObject *b)
{
    for (Py_ssize_t i = 1; i < 9; i++) {
        PyObject *x = PyTuple_GET_ITEM(a, i), *y = PyTuple_GET_ITEM(b, i);
        if (x == y)
            continue;
        if (Py_TYPE(x) != Py_TYPE(y) || x == Py_None || y == Py_None)
            return 0;
        int equal = PyObject_RichCompareBool(x, y, Py_EQ); /* exact strs or ints: no Python code */
        if (equal != 1) {
            PyErr_Clear();
            return 0;
        }
    }
    return 1;
}

/* place(rows, start, layer, dirs, order, copies, names, alike, shared) -> the index of the
 * first row from `start` on that it did not place (len(rows) when it placed them all). */
static PyObject *
place_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9)
        return PyErr_Format(PyExc_TypeError, "place: 9 arguments expected");
    if (entry_type == NULL)
        return PyErr_Format(PyExc_RuntimeError, "place: prepare() first");
    PyObject *rows = args[0], *layer = args[2], *dirs = args[3], *order = args[4];
    PyObject *copies = args[5], *names = args[6], *alike = args[7], *shared = args[8];
    if (!PyList_CheckExact(rows) && !PyTuple_CheckExact(rows))
        return PyErr_Format(PyExc_TypeError, "place: rows must be a list or a tuple");
    if (!PyDict_CheckExact(dirs) || !PyList_CheckExact(order) || !PyList_CheckExact(copies)
        || !PyDict_CheckExact(names) || !PyDict_CheckExact(alike) || !PyDict_CheckExact(shared))
        return PyErr_Format(PyExc_TypeError, "place: dicts and a list expected");
    Py_ssize_t i = PyLong_AsSsize_t(args[1]);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0)
        i = 0;
    /* the folder of the last row placed, and its node (borrowed: `dirs` keeps it): rows come
       folder by folder */
    PyObject *last_head = NULL, *last_parent = NULL, *result = NULL;
    /* the last row that took a record of `alike`, and that record (both borrowed: the rows and
       `alike` keep them; `alike` changes here only where a record is added, which sets them) */
    PyObject *alike_row = NULL, *alike_entry = NULL;

    for (;; i++) {
        /* no Python code runs here to change the rows or the dicts under us: their keys are
           strs, ints and tuples of those, hashed and compared in C, and the values freed are
           records without finalizers (stacking also runs with the cyclic collector paused) */
        Py_ssize_t n = PyList_CheckExact(rows) ? PyList_GET_SIZE(rows) : PyTuple_GET_SIZE(rows);
        if (i >= n)
            break;
        PyObject *row = PyList_CheckExact(rows) ? PyList_GET_ITEM(rows, i) : PyTuple_GET_ITEM(rows, i);
        if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) != 9)
            break;
        PyObject *path = PyTuple_GET_ITEM(row, 0), *kind = PyTuple_GET_ITEM(row, 1);
        PyObject *size = PyTuple_GET_ITEM(row, 2);
        if (!PyUnicode_CheckExact(path) || !PyUnicode_CheckExact(kind) || PyUnicode_GET_LENGTH(kind) != 1
            || !PyLong_CheckExact(size))
            break;
        Py_UCS4 k = PyUnicode_READ_CHAR(kind, 0);
        if (k == k_whiteout || k == k_opaque)
            continue; /* they acted first */
        if (k == k_hardlink)
            break;
        for (int f = 3; f < 7; f++) /* mode, uid, gid, mtime: ints (so hashing them runs no Python) */
            if (!PyLong_CheckExact(PyTuple_GET_ITEM(row, f)))
                goto stop;
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(row, 7)))
            goto stop;
        PyObject *digest = PyTuple_GET_ITEM(row, 8);
        if (digest != Py_None && !PyLong_CheckExact(digest))
            break;
        int overflow;
        long long size_value = PyLong_AsLongLongAndOverflow(size, &overflow);
        if (size_value == -1 && PyErr_Occurred())
            goto error;

        /* head, _, name = path.rpartition("/"); the folder must be a directory of this layer */
        Py_ssize_t length = PyUnicode_GET_LENGTH(path);
        Py_ssize_t slash = PyUnicode_FindChar(path, '/', 0, length, -1);
        if (slash == -2)
            goto error;
        PyObject *parent;
        Py_ssize_t head_length = slash < 0 ? 0 : slash;
        if (last_head != NULL && PyUnicode_GET_LENGTH(last_head) == head_length
            && PyUnicode_Tailmatch(path, last_head, 0, head_length, -1) == 1) {
            parent = last_parent;
        } else {
            PyObject *head = PyUnicode_Substring(path, 0, head_length);
            if (head == NULL)
                goto error;
            parent = PyDict_GetItemWithError(dirs, head);
            if (parent == NULL || !Py_IS_TYPE(parent, node_type)) {
                Py_DECREF(head);
                if (PyErr_Occurred())
                    goto error;
                break; /* the folder is made (or replaced) by the Python code */
            }
            Py_XSETREF(last_head, head);
            last_parent = parent;
        }
        PyObject *name = slash < 0 ? Py_NewRef(path) : PyUnicode_Substring(path, slash + 1, length);
        if (name == NULL)
            goto error;
        PyObject *children = SLOT(parent, node_slot[2]);
        if (children != Py_None && children != NULL) {
            if (!PyDict_CheckExact(children)) {
                Py_DECREF(name);
                break;
            }
            PyObject *there = PyDict_GetItemWithError(children, name);
            if (there != NULL || PyErr_Occurred()) {
                Py_DECREF(name);
                if (there == NULL)
                    goto error;
                break; /* a path the image has: replacing is the Python code's */
            }
        }

        /* from here on the row is placed: nothing below declines it */
        PyObject *entry;
        if (size_value == 0 && !overflow && (k == k_dir || k == k_file) && alike_row != NULL
            && same_key(row, alike_row)) { /* as the row before it: its record, without a key made */
            entry = Py_NewRef(alike_entry);
        } else if (size_value == 0 && !overflow && (k == k_dir || k == k_file)) { /* most are alike: one record each */
            PyObject *key = PyTuple_GetSlice(row, 1, 9);
            if (key == NULL) {
                Py_DECREF(name);
                goto error;
            }
            entry = PyDict_GetItemWithError(alike, key);
            if (entry != NULL) {
                Py_INCREF(entry);
            } else if (!PyErr_Occurred()) {
                if (PyDict_GET_SIZE(alike) == alike_kept)
                    PyDict_Clear(alike);
                entry = new_entry(row, shared);
                if (entry != NULL && PyDict_SetItem(alike, key, entry) < 0)
                    Py_CLEAR(entry);
            }
            Py_DECREF(key);
            if (entry != NULL)
                alike_row = row, alike_entry = entry;
        } else {
            entry = new_entry(row, shared);
        }
        if (entry == NULL) {
            Py_DECREF(name);
            goto error;
        }
        PyObject *interned = PyDict_SetDefault(names, name, name); /* borrowed: `names` keeps it */
        Py_DECREF(name);
        if (interned == NULL) {
            Py_DECREF(entry);
            goto error;
        }
        if (children == Py_None || children == NULL) {
            children = PyDict_New();
            if (children == NULL) {
                Py_DECREF(entry);
                goto error;
            }
            Py_XSETREF(SLOT(parent, node_slot[2]), children);
        }
        PyObject *node = node_type->tp_alloc(node_type, 0);
        PyTypeObject *type = k == k_file ? copy_type : change_type;
        PyObject *change = node == NULL ? NULL : type->tp_alloc(type, 0);
        if (change == NULL) {
            Py_XDECREF(node);
            Py_DECREF(entry);
            goto error;
        }
        set_slot(node, node_slot[0], interned);
        set_slot(node, node_slot[1], parent);
        set_slot(node, node_slot[2], Py_None);
        set_slot(node, node_slot[3], change);
        set_slot(change, change_slot[0], node);
        set_slot(change, change_slot[1], layer);
        set_slot(change, change_slot[2], added);
        SLOT(change, change_slot[3]) = entry; /* takes our reference */
        set_slot(change, change_slot[4], Py_None);
        set_slot(change, change_slot[5], Py_None);
        if (k == k_file) {
            set_slot(change, change_slot[6], change); /* a stored copy is its own copy */
            set_slot(change, copy_slot[0], SLOT(entry, entry_slot[2]));
            set_slot(change, copy_slot[1], SLOT(entry, entry_slot[8]));
            PyObject *one = PyLong_FromLong(1);
            if (one == NULL) { /* cannot fail (a small int), but if it did: a valid object */
                set_slot(change, copy_slot[2], Py_None);
                set_slot(change, copy_slot[3], Py_None);
                set_slot(change, copy_slot[4], Py_None);
                Py_DECREF(node);
                Py_DECREF(change);
                goto error;
            }
            SLOT(change, copy_slot[2]) = one;
            set_slot(change, copy_slot[3], Py_None);
            set_slot(change, copy_slot[4], Py_None);
        } else {
            set_slot(change, change_slot[6], Py_None);
        }
        int failed = PyDict_SetItem(children, interned, node) < 0 || PyList_Append(order, change) < 0
                     || (k == k_file && PyList_Append(copies, change) < 0)
                     || (k == k_dir && PyDict_SetItem(dirs, path, node) < 0);
        Py_DECREF(node);
        Py_DECREF(change);
        if (failed)
            goto error;
    }
stop:
    result = PyLong_FromSsize_t(i);
error:
    Py_XDECREF(last_head);
    return result;
}

#define KINDS_KEPT 16

/* count(rows, kinds) -> the content bytes of `rows` (the sum of their sizes), with each row
 * counted by kind into the dict `kinds`; or None, `kinds` untouched, for rows other than
 * tuples of a str kind and an int size, or sums past 64 bits (the Python loop counts those). */
static PyObject *
place_count(PyObject *module, PyObject *args)
{
    PyObject *rows, *kinds;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &rows, &PyDict_Type, &kinds))
        return NULL;
    PyObject *seen[KINDS_KEPT]; /* borrowed: the rows keep them */
    Py_ssize_t counts[KINDS_KEPT], distinct = 0;
    long long content = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(rows); i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) < 3)
            Py_RETURN_NONE;
        PyObject *kind = PyTuple_GET_ITEM(row, 1), *size = PyTuple_GET_ITEM(row, 2);
        if (!PyUnicode_CheckExact(kind) || !PyLong_CheckExact(size))
            Py_RETURN_NONE;
        int overflow;
        long long value = PyLong_AsLongLongAndOverflow(size, &overflow);
        if (overflow || (value == -1 && PyErr_Occurred()) || __builtin_add_overflow(content, value, &content)) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        Py_ssize_t k = 0;
        while (k < distinct && seen[k] != kind && !(PyUnicode_Compare(seen[k], kind) == 0))
            k++;
        if (k == distinct) {
            if (distinct == KINDS_KEPT)
                Py_RETURN_NONE;
            seen[distinct] = kind;
            counts[distinct++] = 0;
        }
        counts[k]++;
    }
    for (Py_ssize_t k = 0; k < distinct; k++) { /* kinds[kind] = kinds.get(kind, 0) + n, in order */
        PyObject *before = PyDict_GetItemWithError(kinds, seen[k]);
        if (before == NULL && PyErr_Occurred())
            return NULL;
        PyObject *n = PyLong_FromSsize_t(counts[k]);
        PyObject *total = n == NULL || before == NULL ? Py_XNewRef(n) : PyNumber_Add(before, n);
        Py_XDECREF(n);
        if (total == NULL || PyDict_SetItem(kinds, seen[k], total) < 0) {
            Py_XDECREF(total);
            return NULL;
        }
        Py_DECREF(total);
    }
    return PyLong_FromLongLong(content);
}

static PyMethodDef methods[] = {
    {"prepare", place_prepare, METH_VARARGS, "The classes and constants `place` makes its objects with."},
    {"place", (PyCFunction)(void (*)(void))place_rows, METH_FASTCALL,
     "Place a run of rows that add new paths: the index of the first row left to Python."},
    {"count", place_count, METH_VARARGS, "Count rows by kind into a dict: their content bytes (None: left to Python)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_place", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__place(void)
{
    return PyModule_Create(&module);
}
