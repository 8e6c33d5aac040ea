r"""Small data sets that need no download, as dicts of NumPy arrays sharing a leading axis.

* :func:`digits` -- the 1,797 8×8 handwritten digits that ship with scikit-learn (the UCI
  "Optical Recognition of Handwritten Digits" test set, Alpaydin & Kaynak 1998).
* :func:`modular_addition` -- all pairs :math:`(a, b)` with label :math:`(a + b) \bmod p`, the
  grokking task of Power et al. (2022, arXiv:2201.02177) and Nanda et al. (2023,
  arXiv:2301.05217).
* :func:`in_context_regression` -- sequences :math:`(x_1, y_1, \dots, x_k, y_k)` with
  :math:`y_i = w \cdot x_i + \varepsilon_i`, one task :math:`w` per sequence (Garg et al. 2022,
  arXiv:2208.01066; Raventós et al. 2023, arXiv:2306.15063).

Each returns data in the form :func:`slt.llc` takes (``{"x": ..., "y": ...}``, leading axis = the
samples); :mod:`slt.nets.losses` has the matching losses.
"""

import numpy as np

__all__ = ["digits", "in_context_regression", "modular_addition"]


def _split(
    data: dict[str, np.ndarray], n_first: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Shuffle the rows of ``data`` and cut after ``n_first`` of them."""
    n = len(next(iter(data.values())))
    order = rng.permutation(n)
    first = {k: v[order[:n_first]] for k, v in data.items()}
    second = {k: v[order[n_first:]] for k, v in data.items()}
    return first, second


def _check_fraction(name: str, value: float) -> float:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1); got {value!r}")
    return float(value)


def digits(
    *, test_fraction: float = 0.2, seed: int = 0, flat: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The scikit-learn handwritten digits, shuffled and split into train and test sets.

    Pixels (integers 0..16 in the original) are divided by 16, so they lie in [0, 1].

    Parameters
    ----------
    test_fraction
        Fraction of the 1,797 images held out (rounded to a whole number of images).
    seed
        Seed of the shuffle; the same seed gives the same split.
    flat
        Give images as vectors ``(N, 64)`` instead of ``(N, 8, 8, 1)`` (NHWC).

    Returns
    -------
    train, test
        Dicts with ``"x"`` (float32 images) and ``"y"`` (int32 labels 0..9).

    Examples
    --------
    >>> from slt.nets.datasets import digits
    >>> train, test = digits()
    >>> train["x"].shape, train["y"].dtype, len(test["y"])
    ((1438, 8, 8, 1), dtype('int32'), 359)
    """
    from sklearn.datasets import load_digits

    test_fraction = _check_fraction("test_fraction", test_fraction)
    bunch = load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / 16.0).astype(np.float32)
    x = x if flat else x.reshape(-1, 8, 8, 1)
    y = np.asarray(bunch.target, dtype=np.int32)
    n_test = int(round(test_fraction * len(y)))
    test, train = _split({"x": x, "y": y}, n_test, np.random.default_rng(seed))
    return train, test


def modular_addition(
    p: int = 113, *, train_fraction: float = 0.3, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """All :math:`p^2` sums :math:`a + b \\bmod p` as token sequences ``[a, b, =]``, split.

    The token ``=`` has id ``p``, so the vocabulary has ``p + 1`` tokens and the labels take
    ``p`` values. The defaults (p = 113, 30% for training) are those of Nanda et al. (2023).

    Parameters
    ----------
    p
        The modulus (a prime in the papers; any integer >= 2 works).
    train_fraction
        Fraction of the pairs used for training (rounded to a whole number of pairs).
    seed
        Seed of the shuffle.

    Returns
    -------
    train, test
        Dicts with ``"x"`` (int32, ``(N, 3)``) and ``"y"`` (int32, ``(N,)``).

    Examples
    --------
    >>> from slt.nets.datasets import modular_addition
    >>> train, test = modular_addition(5, train_fraction=0.4)
    >>> train["x"].shape, len(test["y"])
    ((10, 3), 15)
    >>> a, b, eq = train["x"][0]
    >>> bool(eq == 5 and train["y"][0] == (a + b) % 5)
    True
    """
    if p < 2:
        raise ValueError(f"p must be an integer >= 2; got {p!r}")
    train_fraction = _check_fraction("train_fraction", train_fraction)
    a, b = (g.ravel() for g in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
    x = np.stack([a, b, np.full_like(a, p)], axis=1).astype(np.int32)
    y = ((a + b) % p).astype(np.int32)
    n_train = int(round(train_fraction * p * p))
    return _split({"x": x, "y": y}, n_train, np.random.default_rng(seed))


def in_context_regression(
    num_tasks: int,
    *,
    num_points: int = 8,
    dim: int = 4,
    noise: float = 0.5,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""Sequences for in-context linear regression, one task per sequence.

    For each sequence, :math:`w \sim N(0, I_d/d)`, :math:`x_i \sim N(0, I_d)` and
    :math:`y_i = w \cdot x_i + \varepsilon_i` with :math:`\varepsilon_i \sim N(0, \sigma^2)`,
    so :math:`\operatorname{Var}(w \cdot x_i) = 1` whatever d. The 2k tokens of a sequence are
    vectors of size d + 1: the x token is :math:`(x_i, 0)`, the y token is :math:`(0, y_i)`,
    interleaved as :math:`(x_1, y_1, \dots, x_k, y_k)`. The target at x-token
    :math:`2i` (0-based) is :math:`y_i`, predicted from :math:`x_1, y_1, \dots, x_i` under a causal
    model (Garg et al. 2022; Raventós et al. 2023 draw w from N(0, I) and use σ² = 0.25).

    Parameters
    ----------
    num_tasks
        Number of sequences N (each with its own w).
    num_points
        Points k per sequence (the sequence has 2k tokens).
    dim
        Input dimension d.
    noise
        Noise standard deviation σ.
    seed
        Seed of the draws.

    Returns
    -------
    dict
        ``"x"``: float32 tokens ``(N, 2k, d + 1)``; ``"y"``: float32 targets ``(N, k)``;
        ``"w"``: float32 tasks ``(N, d)`` (for baselines such as ridge regression; the losses
        ignore it).

    Examples
    --------
    >>> from slt.nets.datasets import in_context_regression
    >>> data = in_context_regression(3, num_points=5, dim=2)
    >>> data["x"].shape, data["y"].shape
    ((3, 10, 3), (3, 5))
    """
    if num_tasks < 1 or num_points < 1 or dim < 1:
        raise ValueError("num_tasks, num_points and dim must be >= 1")
    if noise < 0:
        raise ValueError(f"noise must be >= 0; got {noise!r}")
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(num_tasks, dim)) / np.sqrt(dim)
    xs = rng.normal(size=(num_tasks, num_points, dim))
    ys = np.einsum("npd,nd->np", xs, w) + noise * rng.normal(size=(num_tasks, num_points))
    tokens = np.zeros((num_tasks, num_points, 2, dim + 1))
    tokens[:, :, 0, :dim] = xs
    tokens[:, :, 1, dim] = ys
    return {
        "x": tokens.reshape(num_tasks, 2 * num_points, dim + 1).astype(np.float32),
        "y": ys.astype(np.float32),
        "w": w.astype(np.float32),
    }
