"""A cache of compiled SQL statements: Peewee queries built to SQL once, then run many times with new values.

Peewee builds a query's SQL text anew on every execution, and for the few
statements the sync runs hundreds of times a second (the webhook intake and
the apply path) that building costs more than the database's own work: about
100 µs a statement against a few µs for SQLite to run it. A ``CachedStatement``
query is still written with Peewee (so it follows the models and the
dialect), built once per database class with marker values in place of the
parameters; each call then only binds the new values.

Values are passed as the database expects them (``str``, ``int``,
``datetime``, ``None``): the fields' ``db_value`` is not applied again, which
for the field types used here (char, text, integer, foreign key, datetime)
is the identity. In a WHERE clause a value must not be ``None`` (Peewee would
have written ``IS NULL``).
"""
import inspect
import threading

from peewee import Field, Insert, Select

from portal.extensions import db

_INT_BASE = -7_300_000_000_000  # markers for integer parameters: values no real row uses


class _StrMarker(str):
    """A text parameter's stand-in; recognised by identity, so a field that alters it is noticed."""

    def __new__(cls, name):
        marker = super().__new__(cls, f"\x00compiled:{name}\x00")
        marker.name = name
        return marker


class CachedStatement:
    """``CachedStatement(lambda token: Query...)``: call ``rows``, ``first``, ``execute`` or ``insert`` with the values."""

    def __init__(self, build, ints=()):
        """``build`` takes the parameters by name; those named in ``ints`` are integers (ids)."""
        self._build = build
        self._names = list(inspect.signature(build).parameters)
        self._ints = set(ints)
        self._compiled = {}  # database class -> (sql, slots, converters)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ compiling
    def _markers(self):
        markers = {}
        for i, name in enumerate(self._names):
            markers[name] = _INT_BASE - i if name in self._ints else _StrMarker(name)
        return markers

    def _compile(self):
        markers = self._markers()
        query = self._build(**markers)
        if isinstance(query, Insert):
            # A default Peewee fills in (a timestamp, say) would be frozen into every row.
            given = {f.name for f in query._insert}
            frozen = [f.name for f in query.model._meta.sorted_fields if callable(f.default) and f.name not in given]
            if frozen:
                raise ValueError(f"compiled insert: pass {', '.join(frozen)} explicitly")
            query = query.returning(query.model._meta.primary_key)
        sql, params = query.sql()
        slots = [(self._slot(value, markers), value) for value in params]
        missing = set(self._names) - {name for name, _ in slots if name}
        if missing:
            raise ValueError(f"compiled query does not use {sorted(missing)}")
        converters = None
        if isinstance(query, Select):
            converters = [f.python_value if isinstance(f, Field) else None for f in query._returning]
            self._model = query.model
            self._field_names = [f.name if isinstance(f, Field) else None for f in query._returning]
        return sql, slots, converters

    @staticmethod
    def _slot(value, markers):
        """The parameter name a bound value stands for, or None for a constant of the query."""
        if isinstance(value, _StrMarker):  # the very marker: a field that changed it (a slice, .lower()) is refused
            return value.name
        if isinstance(value, str) and "\x00" in value:  # a marker, cut or changed
            raise ValueError(f"compiled query: a field transforms its parameter ({value!r}); bind it as it is stored")
        if isinstance(value, int) and not isinstance(value, bool):
            return next((name for name, marker in markers.items() if marker == value and not isinstance(marker, str)),
                        None)
        return None

    def _get(self):
        key = type(db.obj)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key) or self._compile()
                self._compiled[key] = compiled
        return compiled

    def _run(self, values):
        sql, slots, converters = self._get()
        params = [values[name] if name else constant for name, constant in slots]
        return db.execute_sql(sql, params), converters

    # ------------------------------------------------------------ running
    def rows(self, **values):
        """Every row of a SELECT, as tuples converted by the selected fields."""
        cursor, converters = self._run(values)
        return [tuple(c(v) if c else v for c, v in zip(converters, row)) for row in cursor.fetchall()]

    def first(self, **values):
        """The first row of a SELECT (write the query with ``.limit(1)``), or ``None``."""
        found = self.rows(**values)
        return found[0] if found else None

    def first_instance(self, **values):
        """The first row of a SELECT of one model's fields as that model's instance (as ``get_or_none``), or ``None``."""
        found = self.first(**values)
        if found is None:
            return None
        instance = self._model(__no_default__=1, **dict(zip(self._field_names, found)))
        instance._dirty.clear()
        return instance

    def execute(self, **values):
        """An UPDATE or DELETE; returns the number of rows changed."""
        cursor, _ = self._run(values)
        return cursor.rowcount

    def insert(self, **values):
        """An INSERT; returns the new row's primary key."""
        cursor, _ = self._run(values)
        return cursor.fetchone()[0]
