"""The batch format every backend's MAGAN step accepts (backend-free)."""


def unpack(data):
    """Splits a batch `(inputs, y[, sample_weight])` into `(inputs, y)`.

    Args:
        data: a tuple or list whose first two items are the inputs dict
            (`images`, `available`, `target`) and the target images `y`.

    Example:
    >>> inputs, y = unpack(({"images": "x", "available": "a", "target": "t"}, "y", "weights"))
    >>> sorted(inputs), y
    (['available', 'images', 'target'], 'y')
    """
    if not isinstance(data, (tuple, list)) or len(data) < 2:
        raise ValueError(
            "MAGAN expects batches (inputs, y) with inputs a dict of images/available/target; "
            f"got {type(data).__name__}"
        )
    return data[0], data[1]
