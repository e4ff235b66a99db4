"""Two voxel-wise baselines, fitted on a training split, that a GAN has to beat.

Both work on the normalised model scale ([-1, 1], background -1), use only brain voxels and are
fitted once from streamed sufficient statistics, so a whole training split costs one pass:

- `best_single` (the best single available contrast after intensity matching): for each pair
  (source s, target t) a lookup table maps s's intensity to the mean of t's intensity over the
  training voxels whose s falls in the same bin (`bins` bins over [-1, 1], the conditional mean,
  linearly interpolated; empty bins are interpolated from their neighbours). Unlike histogram
  matching this can also invert a contrast (T1 -> T2). For a target, the available source with
  the lowest training mean squared error is used.
- `linear`: a per-voxel least-squares regression `t = w . x_available + b` from all available
  contrasts, solved from the training Gram matrix, so any subset of available contrasts has its
  own fit without another pass.

On a prepared split the fit reads at most `DEFAULT_MAX_EXAMPLES` slices by default (the training
command's report and `python -m magan_keras.evaluate` both use it, so they print the same table).

Example (a prepared split works the same: `Baselines.fit(split, max_examples=DEFAULT_MAX_EXAMPLES)`):
>>> import numpy as np
>>> from magan_keras.evaluation.baselines import Baselines
>>> rng = np.random.default_rng(0)
>>> images = rng.uniform(-1, 1, (500, 4))          # 500 brain voxels, 4 contrasts
>>> images[:, 3] = 0.5 * images[:, 0] - 0.2        # flair: a linear function of t1
>>> mask = np.ones(500, bool)
>>> baselines = Baselines.fit([(images, mask)])
>>> flair = baselines.predict("linear", images, available=[1, 1, 1, 0], target="flair", brain_mask=mask)
>>> bool(np.allclose(flair, images[:, 3], atol=1e-6))
True
"""

from __future__ import annotations

import numpy as np

from magan_keras.modalities import BRATS_MODALITIES, validate_modalities

METHODS = ("best_single", "linear")
# Slices of a prepared training split the baselines are fitted on (the first ones, in the split's
# order): enough for stable statistics, a fraction of a minute at BraTS size.
DEFAULT_MAX_EXAMPLES = 2000
DESCRIPTIONS = {
    "best_single": "best single available contrast, intensity-mapped (training lookup table)",
    "linear": "voxel-wise linear regression from the available contrasts (training fit)",
}


class Baselines:
    """Fitted voxel-wise baselines (see the module docstring).

    Build with `Baselines.fit(...)`, or make an empty one and call `update` per batch.

    Args:
        modalities: sequence of str. Contrast names in channel order (M).
        bins: int. Bins of the lookup tables over [-1, 1].
        description: str. Where the fit came from (shown in reports).

    Example:
    >>> from magan_keras.evaluation.baselines import Baselines
    >>> import numpy as np
    >>> images = np.random.default_rng(0).uniform(-1, 1, (8, 8, 4))   # one slice, 4 contrasts
    >>> mask = np.ones((8, 8), bool)
    >>> baselines = Baselines(("t1", "t1ce", "t2", "flair"))
    >>> baselines.update(images, mask)                                 # once per batch
    >>> baselines.num_voxels
    64
    >>> baselines.predict("best_single", images, [1, 1, 1, 0], "flair", mask).shape
    (8, 8)
    """

    def __init__(self, modalities=BRATS_MODALITIES, bins=128, description="training split"):
        self.modalities = validate_modalities(modalities)
        self.bins = int(bins)
        if self.bins < 2:
            raise ValueError(f"bins must be >= 2, got {bins}")
        self.description = str(description)
        m = len(self.modalities)
        self.num_voxels = 0
        self.gram = np.zeros((m + 1, m + 1), np.float64)  # [x_1 .. x_M, 1] outer products
        self.bin_counts = np.zeros((m, self.bins), np.float64)  # [source, bin]
        self.bin_sums = np.zeros((m, self.bins, m), np.float64)  # [source, bin, target]
        self.bin_square_sums = np.zeros((m, self.bins, m), np.float64)

    # === Fitting ===
    @classmethod
    def fit(
        cls,
        examples,
        modalities=BRATS_MODALITIES,
        *,
        max_examples=None,
        bins=128,
        description="training split",
        batch_size=64,
    ):
        """Fits both baselines on slice features or (images, mask) pairs.

        Args:
            examples: a `tf.data.Dataset` of unbatched feature dicts with `images [H, W, M]` and
                `brain_mask [H, W]` (a prepared split), or an iterable of `(images [..., M],
                brain_mask [...])` numpy pairs (e.g. normalised volumes).
            modalities: contrast names in channel order.
            max_examples: int or None. Use at most this many slices (dataset) or pairs.
            bins: int. Lookup-table bins.
            description: str. Shown in reports.
            batch_size: int. Slices read per step from a dataset.

        Returns:
            a fitted `Baselines`.

        Raises:
            ValueError: no brain voxel was seen.

        Example (pairs; a prepared split's `tf.data.Dataset` is read the same way):
        >>> from magan_keras.evaluation.baselines import Baselines
        >>> import numpy as np
        >>> pairs = [(np.random.default_rng(k).uniform(-1, 1, (8, 8, 4)), np.ones((8, 8), bool)) for k in range(3)]
        >>> Baselines.fit(pairs, max_examples=2, description="two slices").num_voxels
        128
        """
        baselines = cls(modalities, bins, description)
        try:
            import tensorflow as tf  # pylint: disable=import-outside-toplevel

            is_dataset = isinstance(examples, tf.data.Dataset)
        except ImportError:  # pragma: no cover - TensorFlow is a dependency
            is_dataset = False
        if is_dataset:
            dataset = examples.map(lambda f: (f["images"], f["brain_mask"]))
            if max_examples is not None:
                dataset = dataset.take(int(max_examples))
            for images, mask in dataset.batch(batch_size).as_numpy_iterator():
                baselines.update(images, mask)
        else:
            for count, (images, mask) in enumerate(examples):
                if max_examples is not None and count >= max_examples:
                    break
                baselines.update(images, mask)
        if baselines.num_voxels == 0:
            raise ValueError("Baselines.fit: no brain voxel in the fitting data")
        return baselines

    def update(self, images, brain_mask):
        """Adds the brain voxels of `images [..., M]` (inside `brain_mask [...]`) to the fit.

        Args:
            images: `[..., M]` normalised contrasts (model scale).
            brain_mask: bool `[...]`; only its voxels count.

        Example:
        >>> from magan_keras.evaluation.baselines import Baselines
        >>> import numpy as np
        >>> baselines = Baselines()
        >>> baselines.update(np.zeros((2, 4, 4, 4)), np.ones((2, 4, 4), bool))
        >>> baselines.num_voxels
        32
        """
        images = np.asarray(images, np.float64)
        mask = np.asarray(brain_mask, bool)
        if images.shape[:-1] != mask.shape or images.shape[-1] != len(self.modalities):
            raise ValueError(
                f"Baselines.update: images {images.shape} and brain_mask {mask.shape} do not match "
                f"{len(self.modalities)} contrasts"
            )
        voxels = images[mask]  # [N, M]
        if voxels.size == 0:
            return
        design = np.concatenate([voxels, np.ones((voxels.shape[0], 1))], axis=1)
        self.gram += design.T @ design
        self.num_voxels += voxels.shape[0]
        bins = self._bin_index(voxels)  # [N, M]
        for source in range(len(self.modalities)):
            self.bin_counts[source] += np.bincount(bins[:, source], minlength=self.bins)
            for target in range(len(self.modalities)):
                values = voxels[:, target]
                self.bin_sums[source, :, target] += np.bincount(bins[:, source], values, self.bins)
                self.bin_square_sums[source, :, target] += np.bincount(bins[:, source], values**2, self.bins)

    def _bin_index(self, values):
        scaled = (np.clip(values, -1.0, 1.0) + 1.0) * 0.5 * self.bins
        return np.minimum(scaled.astype(np.int64), self.bins - 1)

    # === Fitted parameters ===
    def _index(self, contrast):
        if isinstance(contrast, str):
            if contrast not in self.modalities:
                raise ValueError(f"unknown contrast {contrast!r}; known: {self.modalities}")
            return self.modalities.index(contrast)
        return int(contrast)

    def lookup_table(self, source, target) -> np.ndarray:
        """`[bins]` mean target intensity per source-intensity bin (empty bins interpolated).

        Args:
            source: contrast name or channel the table maps from.
            target: contrast name or channel it maps to.

        Example:
        >>> import numpy as np
        >>> from magan_keras.evaluation.baselines import Baselines
        >>> rng = np.random.default_rng(0)
        >>> images = rng.uniform(-1, 1, (500, 4))
        >>> images[:, 3] = -images[:, 0]                # flair: t1 inverted
        >>> baselines = Baselines.fit([(images, np.ones(500, bool))])
        >>> table = baselines.lookup_table("t1", "flair")      # about -(bin centre)
        >>> bool(np.abs(table + baselines.bin_centres()).max() < 0.02)
        True
        """
        s, t = self._index(source), self._index(target)
        counts = self.bin_counts[s]
        filled = counts > 0
        if not filled.any():
            raise ValueError("Baselines: not fitted")
        centres = self.bin_centres()
        means = self.bin_sums[s, filled, t] / counts[filled]
        return np.interp(centres, centres[filled], means)

    def bin_centres(self) -> np.ndarray:
        """`[bins]` centres of the lookup-table bins over [-1, 1].

        Example:
        >>> from magan_keras.evaluation.baselines import Baselines
        >>> Baselines(bins=4).bin_centres()
        array([-0.75, -0.25,  0.25,  0.75])
        """
        return -1.0 + (np.arange(self.bins) + 0.5) * 2.0 / self.bins

    def single_source_error(self, source, target) -> float:
        """Training mean squared error of the lookup table `source -> target` (per-bin means).

        Args:
            source: contrast name or channel.
            target: contrast name or channel.

        Example:
        >>> import numpy as np
        >>> from magan_keras.evaluation.baselines import Baselines
        >>> rng = np.random.default_rng(0)
        >>> images = rng.uniform(-1, 1, (500, 4))
        >>> images[:, 3] = -images[:, 0]                # flair: t1 inverted
        >>> baselines = Baselines.fit([(images, np.ones(500, bool))])
        >>> baselines.single_source_error("t1", "flair") < 1e-3 < baselines.single_source_error("t2", "flair")
        True
        """
        s, t = self._index(source), self._index(target)
        counts = self.bin_counts[s]
        filled = counts > 0
        within = self.bin_square_sums[s, filled, t] - self.bin_sums[s, filled, t] ** 2 / counts[filled]
        return float(within.sum() / counts.sum())

    def best_source(self, target, available) -> int:
        """Channel of the available contrast whose lookup table fits `target` best in training.

        Args:
            target: contrast name or channel.
            available: `[M]` 0/1; the target's own entry is ignored.

        Example:
        >>> import numpy as np
        >>> from magan_keras.evaluation.baselines import Baselines
        >>> rng = np.random.default_rng(0)
        >>> images = rng.uniform(-1, 1, (500, 4))
        >>> images[:, 3] = -images[:, 0]                # flair: t1 inverted
        >>> baselines = Baselines.fit([(images, np.ones(500, bool))])
        >>> baselines.best_source("flair", [1, 1, 1, 0]), baselines.best_source("flair", [0, 1, 1, 0]) in (1, 2)
        (0, True)
        """
        t = self._index(target)
        sources = [k for k in np.flatnonzero(np.asarray(available) > 0) if k != t]
        if not sources:
            raise ValueError("Baselines: no available contrast")
        return int(min(sources, key=lambda s: self.single_source_error(s, t)))

    def linear_weights(self, target, available) -> tuple[np.ndarray, float]:
        """`(weights [M], bias)` of the least-squares fit of `target` from the available contrasts.

        Weights of unavailable contrasts are 0.

        Args:
            target: contrast name or channel.
            available: `[M]` 0/1; the target's own entry is ignored.

        Example:
        >>> import numpy as np
        >>> from magan_keras.evaluation.baselines import Baselines
        >>> rng = np.random.default_rng(0)
        >>> images = rng.uniform(-1, 1, (500, 4))
        >>> images[:, 3] = -images[:, 0]                # flair: t1 inverted
        >>> baselines = Baselines.fit([(images, np.ones(500, bool))])
        >>> weights, bias = baselines.linear_weights("flair", [1, 1, 1, 0])
        >>> (np.round(weights, 6) + 0.0).tolist(), round(bias, 6) + 0.0
        ([-1.0, 0.0, 0.0, 0.0], 0.0)
        """
        t = self._index(target)
        m = len(self.modalities)
        sources = [k for k in np.flatnonzero(np.asarray(available) > 0) if k != t]
        if not sources:
            raise ValueError("Baselines: no available contrast")
        rows = sources + [m]  # the bias column
        solution = np.linalg.lstsq(self.gram[np.ix_(rows, rows)], self.gram[rows, t], rcond=None)[0]
        weights = np.zeros(m)
        weights[sources] = solution[:-1]
        return weights, float(solution[-1])

    # === Prediction ===
    def predict(self, method, images, available, target, brain_mask) -> np.ndarray:
        """A baseline's synthesis of `target` on the model scale, -1 outside the brain.

        Args:
            method: "best_single" or "linear".
            images: `[..., M]` normalised contrasts (unavailable ones are ignored).
            available: `[M]` 0/1.
            target: contrast name or channel.
            brain_mask: bool `[...]`.

        Returns:
            float32 `[...]` in [-1, 1].

        Example:
        >>> import numpy as np
        >>> from magan_keras.evaluation.baselines import Baselines
        >>> rng = np.random.default_rng(0)
        >>> images = rng.uniform(-1, 1, (500, 4))
        >>> images[:, 3] = -images[:, 0]                # flair: t1 inverted
        >>> baselines = Baselines.fit([(images, np.ones(500, bool))])
        >>> flair = baselines.predict("best_single", images, [1, 1, 1, 0], "flair", np.ones(500, bool))
        >>> bool(np.abs(flair - images[:, 3]).max() < 0.05)
        True
        """
        images = np.asarray(images, np.float64)
        available = np.asarray(available, np.float64)
        t = self._index(target)
        if method == "best_single":
            source = self.best_source(t, available)
            values = np.interp(images[..., source], self.bin_centres(), self.lookup_table(source, t))
        elif method == "linear":
            weights, bias = self.linear_weights(t, available)
            values = images @ weights + bias
        else:
            raise ValueError(f"unknown baseline {method!r}; choose from {METHODS}")
        values = np.clip(values, -1.0, 1.0)
        return np.where(np.asarray(brain_mask, bool), values, -1.0).astype(np.float32)
