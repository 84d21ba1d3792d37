"""Training history: one record of plain Python numbers per epoch."""


class History(list):
    """Per-epoch training records, read back by key.

    A list of dicts of plain Python numbers (JSON-safe), one per epoch or ``partial_fit`` call,
    with at least the keys ``epoch``, ``loss``, ``batch_size``, ``n_updates``,
    ``learning_rate`` and ``seconds``. Indexing with a key gives that key across all records
    (a KeyError if one lacks it). skorch's indexing works as in skorch's ``History``:
    ``history[-1, "loss"]`` (the last record's), ``history[:, "val_loss"]`` (the records that
    have it; a KeyError if none has), ``history[:, ("loss", "val_loss")]`` (tuples).

    Examples
    --------
    >>> history = History([{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.5, "val_loss": 0.7}])
    >>> history["loss"]
    [0.9, 0.5]
    >>> history[-1]
    {'epoch': 2, 'loss': 0.5, 'val_loss': 0.7}
    >>> history[-1, "loss"], history[:, "val_loss"], history[:, ("epoch", "loss")]
    (0.5, [0.7], [(1, 0.9), (2, 0.5)])
    """

    def __getitem__(self, key):
        if isinstance(key, str):
            return [record[key] for record in self]
        if isinstance(key, tuple) and len(key) == 2:  # skorch's history[rows, key]
            rows, keys = key
            if isinstance(rows, slice):
                values = [_values(record, keys) for record in super().__getitem__(rows)]
                values = [value for value in values if value is not _MISSING]
                if not values and len(self[rows]) > 0:
                    raise KeyError(f"Key {keys!r} was not found in history.")
                return values
            value = _values(super().__getitem__(rows), keys)
            if value is _MISSING:
                raise KeyError(f"Key {keys!r} was not found in history.")
            return value
        return super().__getitem__(key)


_MISSING = object()


def _values(record, keys):
    """``record[keys]``, or the tuple of ``record[key]`` for a tuple of keys; ``_MISSING``
    when the record lacks one."""
    keys_read = keys if isinstance(keys, tuple) else (keys,)
    if not all(key in record for key in keys_read):
        return _MISSING
    return tuple(record[key] for key in keys) if isinstance(keys, tuple) else record[keys]
