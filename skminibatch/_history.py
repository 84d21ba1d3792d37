"""Training history: one record of plain Python numbers per epoch."""


class History(list):
    """Per-epoch training records, read back by key.

    A list of dicts of plain Python numbers (JSON-safe), one per epoch or ``partial_fit`` call,
    with at least the keys ``epoch``, ``loss``, ``batch_size``, ``n_updates``,
    ``learning_rate`` and ``seconds``. Indexing with a key gives that key across all records
    (a KeyError if one lacks it). skorch's indexing works too: ``history[-1, "loss"]`` (the
    last record's), ``history[:, "val_loss"]`` (the records that have it; a KeyError if none
    has), ``history[:, ("loss", "val_loss")]`` (tuples; a list of keys gives lists), and
    further indices apply to each value: ``history[-1, "batch_losses", -1]``.

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
        if isinstance(key, tuple) and len(key) >= 2:  # skorch's history[rows, key, ...]
            rows, keys, *further = key
            selected = super().__getitem__(rows)
            values = [
                _values(r, keys) for r in (selected if isinstance(rows, slice) else [selected])
            ]
            values = [value for value in values if value is not _MISSING]
            if not values and (selected or not isinstance(rows, slice)):
                raise KeyError(f"Key {keys!r} was not found in history.")
            for index in further:
                values = [value[index] for value in values]
            return values if isinstance(rows, slice) else values[0]
        return super().__getitem__(key)


_MISSING = object()


def _values(record, keys):
    """``record[keys]``, or the tuple (list) of ``record[key]`` for a tuple (list) of keys;
    ``_MISSING`` when the record lacks one."""
    many = isinstance(keys, tuple | list)
    if not all(key in record for key in (keys if many else (keys,))):
        return _MISSING
    return type(keys)(record[key] for key in keys) if many else record[keys]
