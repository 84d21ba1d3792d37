"""Training history: one record of plain Python numbers per epoch."""


class History(list):
    """Per-epoch training records, read back by key.

    A list of dicts of plain Python numbers (JSON-safe), one per epoch or ``partial_fit`` call,
    with at least the keys ``epoch``, ``loss``, ``batch_size``, ``n_updates``,
    ``learning_rate`` and ``seconds``. Indexing with a key gives that key across all records,
    as skorch's history does.

    Examples
    --------
    >>> history = History([{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.5}])
    >>> history["loss"]
    [0.9, 0.5]
    >>> history[-1]
    {'epoch': 2, 'loss': 0.5}
    """

    def __getitem__(self, key):
        if isinstance(key, str):
            return [record[key] for record in self]
        return super().__getitem__(key)
