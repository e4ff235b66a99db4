"""Random brain phantoms with a tumour, imaged as T1, T1Gd, T2 and FLAIR by MR signal equations.

The phantom is the built-in default data set: it stands in for BraTS when no BraTS folder is
given. Each subject is a random brain (deformed ellipsoidal head, grey-matter cortex folded by
sulci, white matter, deep grey nuclei, lateral ventricles, a thin CSF layer) with a random
glioma-like tumour (edema around an enhancing rim around a necrotic core). Each voxel carries
the T1, T2 and proton density (PD) of its tissue, varied a little per subject, and the four
contrasts come from the spin-echo and inversion-recovery signal equations (DESIGN.md, Data).
The artefacts of a real scan follow: partial volume, a smooth multiplicative bias field per
contrast, a per-volume gain and Rician noise. FLAIR is therefore not a linear function of the
other contrasts and synthesising a missing contrast is a real task.

Conventions: volumes are `[X, Y, Z]` in a RAS-like orientation (axis 0 runs to the patient's
right, axis 1 to anterior, axis 2 to superior; axial slices are `[:, :, z]`), float32 in
arbitrary scanner units, exactly 0 outside the brain and strictly positive inside it. The
segmentation uses the BraTS 2018-2021 labels: 0 healthy or background, 1 necrosis, 2 edema,
4 enhancing tumour.

Example:
>>> subject = make_subject(seed=0, shape=(32, 32, 8))
>>> sorted(subject.volumes) == sorted(MODALITIES)
True
>>> subject.volumes["flair"].shape, subject.seg.dtype.name, subject.brain_mask.dtype.name
((32, 32, 8), 'uint8', 'bool')
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from tfds_brats.constants import MODALITIES, SEG_LABELS

# Tissue labels of `PhantomSubject.tissue`: the index into this tuple.
TISSUES = ("background", "csf", "grey_matter", "white_matter", "edema", "necrosis", "enhancing")
BACKGROUND, CSF, GREY_MATTER, WHITE_MATTER, EDEMA, NECROSIS, ENHANCING = range(len(TISSUES))

# Relaxation times at 3 T (T1, T2 in ms) and relative proton density, per tissue.
# Source: the starting values of DESIGN.md (the project's reading of the paper) ("Data"), rounded literature figures
# for healthy tissue (Wansapura et al., JMRI 1999; Stanisz et al., MRM 2005; Lu et al., JMRI
# 2005) and approximate figures for edema, necrosis and enhancing glioma.
RELAXATION = {
    #               T1 (ms)  T2 (ms)   PD
    "csf": (4000.0, 2000.0, 1.00),
    "grey_matter": (1820.0, 100.0, 0.80),
    "white_matter": (1080.0, 70.0, 0.69),
    "edema": (1800.0, 200.0, 0.90),
    "necrosis": (3000.0, 800.0, 0.95),
    "enhancing": (1600.0, 120.0, 0.85),
}
# T1 of the enhancing tumour after gadolinium (the contrast agent shortens T1).
ENHANCING_T1_GADOLINIUM = 500.0


@dataclasses.dataclass(frozen=True)
class Sequence:
    """Acquisition parameters of one contrast (times in ms).

    Args:
        tr: float. Repetition time.
        te: float. Echo time.
        ti: float or None. Inversion time; None for a spin echo.
        gadolinium: bool. Whether the enhancing tumour's T1 is shortened by contrast agent.

    Example:
    >>> SEQUENCES["flair"].ti
    2370.0
    """

    tr: float
    te: float
    ti: float | None = None
    gadolinium: bool = False


# TI = 2370 ms nulls CSF (T1 4000 ms) at TR 9000 ms: 1 - 2 exp(-TI/T1) + exp(-TR/T1) = 0.
SEQUENCES = {
    "t1": Sequence(tr=500.0, te=10.0),
    "t1ce": Sequence(tr=500.0, te=10.0, gadolinium=True),
    "t2": Sequence(tr=4000.0, te=100.0),
    "flair": Sequence(tr=9000.0, te=120.0, ti=2370.0),
}


@dataclasses.dataclass(frozen=True, eq=False)
class PhantomSubject:
    """One phantom subject.

    Args:
        volumes: dict str -> float32 [X, Y, Z]. One volume per name in MODALITIES; 0 outside the brain.
        seg: uint8 [X, Y, Z]. 0 healthy/background, 1 necrosis, 2 edema, 4 enhancing tumour.
        brain_mask: bool [X, Y, Z]. True inside the brain (where every volume is > 0).
        tissue: uint8 [X, Y, Z]. Index into TISSUES of each voxel's (dominant) tissue.
        relaxation: dict str -> (T1, T2, PD). This subject's varied RELAXATION table, plus
            "enhancing_gadolinium" for the enhancing tumour after contrast agent.

    Example:
    >>> make_subject(seed=1, shape=(16, 16, 8)).brain_mask.shape
    (16, 16, 8)
    """

    volumes: dict
    seg: np.ndarray
    brain_mask: np.ndarray
    tissue: np.ndarray
    relaxation: dict


# === Signal equations ===


def spin_echo_signal(t1, t2, pd, tr, te):
    """Spin-echo magnitude `PD (1 - exp(-TR/T1)) exp(-TE/T2)`.

    Args:
        t1, t2: float or array. Relaxation times in ms.
        pd: float or array. Relative proton density.
        tr, te: float. Repetition and echo times in ms.

    Example:
    >>> round(float(spin_echo_signal(1080.0, 70.0, 0.69, tr=500.0, te=10.0)), 3)
    0.222
    """
    t1, t2, pd = (np.asarray(v, dtype=np.float64) for v in (t1, t2, pd))
    return pd * (1.0 - np.exp(-tr / t1)) * np.exp(-te / t2)


def inversion_recovery_signal(t1, t2, pd, tr, te, ti):
    """Inversion-recovery magnitude `PD |1 - 2 exp(-TI/T1) + exp(-TR/T1)| exp(-TE/T2)`.

    Args:
        t1, t2: float or array. Relaxation times in ms.
        pd: float or array. Relative proton density.
        tr, te, ti: float. Repetition, echo and inversion times in ms.

    Example:
    >>> float(inversion_recovery_signal(4000.0, 2000.0, 1.0, tr=9000.0, te=120.0, ti=2370.0)) < 1e-3
    True
    """
    t1, t2, pd = (np.asarray(v, dtype=np.float64) for v in (t1, t2, pd))
    longitudinal = 1.0 - 2.0 * np.exp(-ti / t1) + np.exp(-tr / t1)
    return pd * np.abs(longitudinal) * np.exp(-te / t2)


def sequence_signal(sequence, t1, t2, pd):
    """Signal of `sequence` (a Sequence) for tissues with the given T1, T2 and PD.

    Args:
        sequence: Sequence. The acquisition.
        t1, t2, pd: float or array. Tissue parameters (ms, ms, relative).

    Example:
    >>> float(sequence_signal(SEQUENCES["t2"], 4000.0, 2000.0, 1.0)) > 0.5
    True
    """
    if sequence.ti is None:
        return spin_echo_signal(t1, t2, pd, sequence.tr, sequence.te)
    return inversion_recovery_signal(t1, t2, pd, sequence.tr, sequence.te, sequence.ti)


def tissue_signals(relaxation, sequence):
    """Noise-free signal of every tissue label under `sequence`: float64 [len(TISSUES)].

    Args:
        relaxation: dict. A table shaped like RELAXATION plus "enhancing_gadolinium".
        sequence: Sequence. The acquisition; with `gadolinium` the enhancing tumour uses the
            T1 of "enhancing_gadolinium".

    Example:
    >>> table = dict(RELAXATION, enhancing_gadolinium=(500.0, 120.0, 0.85))
    >>> signals = tissue_signals(table, SEQUENCES["t1"])
    >>> bool(signals[WHITE_MATTER] > signals[GREY_MATTER] > signals[CSF] > signals[BACKGROUND])
    True
    """
    signals = np.zeros(len(TISSUES))
    for label, name in enumerate(TISSUES[1:], start=1):
        if name == "enhancing" and sequence.gadolinium:
            name = "enhancing_gadolinium"
        signals[label] = sequence_signal(sequence, *relaxation[name])
    return signals


# === Random smooth fields ===


def _grid(shape):
    """Normalised coordinates in [-1, 1] per axis, as broadcastable [X,1,1], [1,Y,1], [1,1,Z]."""
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in shape]
    return tuple(np.reshape(a, [-1 if i == k else 1 for k in range(3)]) for i, a in enumerate(axes))


def _random_waves(rng, n_waves, max_frequency):
    """Parameters of a sum of `n_waves` plane waves with frequencies up to `max_frequency` cycles/unit."""
    frequencies = rng.uniform(-max_frequency, max_frequency, size=(n_waves, 3)) * 2.0 * np.pi
    phases = rng.uniform(0.0, 2.0 * np.pi, size=n_waves)
    amplitudes = rng.normal(size=n_waves) * np.sqrt(2.0 / n_waves)
    return frequencies.astype(np.float32), phases.astype(np.float32), amplitudes.astype(np.float32)


def _smooth_field(rng, coords, n_waves=8, max_frequency=1.0):
    """A random smooth field of unit variance (over random draws) on the broadcast grid `coords`."""
    frequencies, phases, amplitudes = _random_waves(rng, n_waves, max_frequency)
    x, y, z = coords
    field = np.zeros(np.broadcast_shapes(x.shape, y.shape, z.shape), dtype=np.float32)
    for (fx, fy, fz), phase, amplitude in zip(frequencies, phases, amplitudes):
        # The in-plane part is small ([X, Y, 1]); only the final add and cos are full-sized.
        field += amplitude * np.cos((fx * x + fy * y + phase) + fz * z)
    return field


# === Anatomy ===


def _ellipsoid_radius(coords, centre, semi_axes):
    """Normalised ellipsoidal radius: 1 on the surface of the ellipsoid."""
    return np.sqrt(sum(((c - m) / a) ** 2 for c, m, a in zip(coords, centre, semi_axes)))


def _head_depth(rng, coords):
    """Depth below the (randomly deformed, ellipsoidal) brain surface in normalised units; > 0 inside."""
    scale = rng.uniform(0.9, 1.05)
    semi_axes = (0.70 * scale * rng.uniform(0.95, 1.05), 0.86 * scale, 1.05 * scale)
    radius = _ellipsoid_radius(coords, (0.0, rng.uniform(-0.04, 0.04), 0.0), semi_axes)
    deformation = 1.0 + 0.035 * _smooth_field(rng, coords, n_waves=8, max_frequency=0.6)
    return (1.0 - radius / deformation) * 0.75


def _cortex(rng, coords, depth):
    """Labels of the cortical mantle: CSF sulci and surface, grey-matter gyri, white matter below."""
    thickness = rng.uniform(0.06, 0.09)
    sulcal_depth = rng.uniform(0.16, 0.22)
    folds = _smooth_field(rng, coords, n_waves=32, max_frequency=4.0)
    near_fold = np.abs(folds)
    labels = np.full(depth.shape, WHITE_MATTER, dtype=np.uint8)
    in_folding = depth < sulcal_depth
    labels[(depth < thickness) | (in_folding & (near_fold < 0.45))] = GREY_MATTER
    labels[(depth < 0.02) | (in_folding & (near_fold < 0.12) & (depth < sulcal_depth * 0.85))] = CSF
    # Interhemispheric fissure: a CSF cleft along the midline, deep only at the top and front.
    x, y, z = coords
    fissure_depth = sulcal_depth * (1.0 + 1.5 * np.clip(z + 0.2, 0.0, 1.0) + np.clip(y, 0.0, 1.0))
    labels[(np.abs(x) < 0.016) & (depth < fissure_depth)] = CSF
    return labels


def _deep_structures(rng, coords, labels):
    """Adds deep grey nuclei (thalami, basal ganglia) and the lateral ventricles (CSF) in place."""
    x, y, z = coords
    for side in (-1.0, 1.0):
        thalamus = _ellipsoid_radius(coords, (side * 0.13, -0.12, -0.15), (0.10, 0.14, 0.22)) < 1.0
        basal_ganglia = _ellipsoid_radius(coords, (side * 0.26, 0.10, -0.15), (0.07, 0.17, 0.22)) < 1.0
        labels[thalamus | basal_ganglia] = GREY_MATTER
    size = rng.uniform(0.7, 1.35)
    # Each lateral ventricle: an ellipsoid bent away from the midline at both ends (frontal and
    # occipital horns), so the pair looks like a butterfly on axial slices.
    half_length = 0.36 * np.sqrt(size)
    half_width = 0.045 * size
    for side in (-1.0, 1.0):
        # The centre line keeps a septum between the two and bends outwards, more at the back.
        along = np.clip((y + 0.02) / half_length, -1.2, 1.2)
        bend = half_width + 0.02 + np.where(along < 0, 0.14, 0.08) * along**2
        radius = _ellipsoid_radius(
            (x - side * bend, y, z), (0.0, -0.02, 0.05), (half_width, half_length, 0.28 * np.sqrt(size))
        )
        labels[radius < 1.0] = CSF
    third_ventricle = _ellipsoid_radius(coords, (0.0, -0.05, -0.15), (0.015, 0.12, 0.15)) < 1.0
    labels[third_ventricle] = CSF
    return labels


def _tumour(rng, coords, labels, brain):
    """Adds a random tumour in place: edema around an enhancing rim around a (sometimes absent) necrotic core."""
    side = rng.choice([-1.0, 1.0])
    centre = (side * rng.uniform(0.12, 0.40), rng.uniform(-0.45, 0.45), rng.uniform(-0.3, 0.3))
    enhancing_radius = rng.uniform(0.09, 0.20)
    core_fraction = rng.uniform(0.35, 0.75) if rng.uniform() < 0.85 else 0.0
    edema_radius = enhancing_radius * rng.uniform(1.4, 2.3)
    radius = _ellipsoid_radius(coords, centre, (1.0, 1.0, 1.0))
    radius = radius * (1.0 + 0.12 * _smooth_field(rng, coords, n_waves=8, max_frequency=1.5))
    core_radius = radius * (1.0 + 0.1 * _smooth_field(rng, coords, n_waves=8, max_frequency=3.0))
    edema_radius = edema_radius * (1.0 + 0.2 * _smooth_field(rng, coords, n_waves=8, max_frequency=1.5))
    healthy_parenchyma = (labels == WHITE_MATTER) | (labels == GREY_MATTER)
    labels[(radius < edema_radius) & healthy_parenchyma] = EDEMA
    labels[(radius < enhancing_radius) & brain] = ENHANCING
    labels[(core_radius < enhancing_radius * core_fraction) & brain] = NECROSIS
    return labels


def tissue_map(rng, shape, tumour_probability=0.9):
    """Random tissue labels (indices into TISSUES) uint8 [X, Y, Z], 0 outside the brain.

    Args:
        rng: numpy.random.Generator. Source of randomness.
        shape: tuple of 3 ints. Volume shape [X, Y, Z].
        tumour_probability: float in [0, 1]. Chance that the subject has a tumour.

    Example:
    >>> labels = tissue_map(np.random.default_rng(0), (16, 16, 8), tumour_probability=1.0)
    >>> bool((labels == ENHANCING).any())
    True
    """
    coords = _grid(shape)
    depth = _head_depth(rng, coords)
    brain = depth > 0.0
    labels = _cortex(rng, coords, depth)
    labels = _deep_structures(rng, coords, labels)
    if rng.uniform() < tumour_probability:
        labels = _tumour(rng, coords, labels, brain)
    labels[~brain] = BACKGROUND
    return labels


def seg_from_tissue(labels):
    """BraTS segmentation uint8 (1 necrosis, 2 edema, 4 enhancing) from tissue labels.

    Args:
        labels: integer array. Indices into TISSUES.

    Example:
    >>> seg_from_tissue(np.array([WHITE_MATTER, EDEMA, NECROSIS, ENHANCING])).tolist()
    [0, 2, 1, 4]
    """
    lookup = np.zeros(len(TISSUES), dtype=np.uint8)
    for value, name in SEG_LABELS.items():
        if value:
            lookup[TISSUES.index(name)] = value
    return lookup[labels]


# === Tissue parameters ===


def vary_relaxation(rng, variation=0.05):
    """This subject's relaxation table: RELAXATION with each value scaled by 1 + variation * N(0, 1).

    The normal draws are clipped at 2 sigma, so that with the default variation FLAIR's CSF stays
    far darker than brain tissue (the sequence's TI is fixed, as on a scanner, so CSF is nulled
    exactly only at the table's T1).

    Args:
        rng: numpy.random.Generator. Source of randomness.
        variation: float >= 0. Relative standard deviation.

    Example:
    >>> vary_relaxation(np.random.default_rng(0), variation=0.0)["csf"]
    (4000.0, 2000.0, 1.0)
    """

    def scaled(value):
        return float(value * (1.0 + variation * np.clip(rng.normal(), -2.0, 2.0)))

    table = {name: tuple(scaled(v) for v in values) for name, values in RELAXATION.items()}
    _, t2, pd = table["enhancing"]
    table["enhancing_gadolinium"] = (scaled(ENHANCING_T1_GADOLINIUM), t2, pd)
    return table


# === Imaging artefacts ===


def _gaussian_blur(volume, sigma):
    """Separable Gaussian blur with per-axis `sigma` in voxels (zero padding)."""
    for axis, s in enumerate(sigma):
        if s <= 0:
            continue
        radius = max(1, int(np.ceil(2.5 * s)))
        offsets = np.arange(-radius, radius + 1)
        weights = np.exp(-0.5 * (offsets / s) ** 2)
        weights /= weights.sum()
        padded = np.moveaxis(volume, axis, 0)
        padded = np.pad(padded, [(radius, radius)] + [(0, 0)] * (volume.ndim - 1))
        n = volume.shape[axis]
        blurred = sum(w * padded[radius + o : radius + o + n] for o, w in zip(offsets, weights))
        volume = np.moveaxis(blurred.astype(np.float32), 0, axis)
    return volume


def _bias_field(rng, coords, strength):
    """Smooth multiplicative field exp(strength * f), f a low-frequency random field."""
    if strength == 0:
        return np.float32(1.0)
    return np.exp(strength * _smooth_field(rng, coords, n_waves=6, max_frequency=0.4)).astype(np.float32)


def _rician(rng, signal, sigma):
    """Magnitude of the signal plus complex Gaussian noise of standard deviation `sigma` per channel."""
    real = signal + rng.normal(scale=sigma, size=signal.shape).astype(np.float32)
    imaginary = rng.normal(scale=sigma, size=signal.shape).astype(np.float32)
    return np.sqrt(real * real + imaginary * imaginary)


def _validate(seed, shape, tumour_probability, variation, partial_volume, bias_strength, noise_level, gain_range):
    seeds = seed if isinstance(seed, (tuple, list)) else (seed,)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise ValueError(f"seed must be a non-negative int or a tuple of them, got {seed!r}")
    if len(tuple(shape)) != 3 or any(int(n) != n or n < 8 for n in shape):
        raise ValueError(f"shape must be three ints >= 8 ([X, Y, Z]), got {shape!r}")
    if not 0.0 <= tumour_probability <= 1.0:
        raise ValueError(f"tumour_probability must be in [0, 1], got {tumour_probability!r}")
    for name, value in (
        ("parameter_variation", variation),
        ("partial_volume", partial_volume),
        ("bias_strength", bias_strength),
        ("noise_level", noise_level),
    ):
        if not value >= 0.0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    if len(gain_range) != 2 or not 0.0 < gain_range[0] <= gain_range[1]:
        raise ValueError(f"gain_range must be (low, high) with 0 < low <= high, got {gain_range!r}")


def make_subject(
    seed,
    shape=(64, 64, 24),
    *,
    tumour_probability=0.9,
    parameter_variation=0.05,
    partial_volume=0.6,
    texture=0.03,
    bias_strength=0.1,
    noise_level=0.03,
    gain_range=(0.7, 1.3),
    scanner_scale=1000.0,
):
    """Generates one random phantom subject (deterministic for a seed).

    Args:
        seed: int >= 0, or a tuple of them (e.g. `(dataset_seed, subject_index)`). The
            subject's seed; different seeds give different subjects.
        shape: tuple of 3 ints >= 8. Volume shape [X, Y, Z]; axial slices are [:, :, z].
        tumour_probability: float in [0, 1]. Chance of a tumour (1.0: always).
        parameter_variation: float >= 0. Relative per-subject spread of T1, T2 and PD.
        partial_volume: float >= 0. Gaussian blur (sigma in voxels) of the noise-free images,
            which mixes the signals of neighbouring tissues as partial volume does; 0 keeps
            tissue edges binary.
        texture: float >= 0. Relative amplitude of smooth within-tissue PD variation.
        bias_strength: float >= 0. Log-amplitude of each contrast's smooth bias field; 0 disables it.
        noise_level: float >= 0. Rician noise sigma relative to the contrast's mean brain signal;
            0 gives noise-free images.
        gain_range: (float, float). Range of the random per-volume gain.
        scanner_scale: float > 0. Overall scale of the arbitrary scanner units.

    Returns:
        PhantomSubject. Volumes are float32, 0 outside `brain_mask` and > 0 inside.

    Example:
    >>> clean = make_subject(3, (32, 32, 8), noise_level=0.0, bias_strength=0.0, gain_range=(1, 1))
    >>> wm = clean.tissue == WHITE_MATTER
    >>> bool(clean.volumes["t2"][clean.tissue == CSF].mean() > clean.volumes["t2"][wm].mean())
    True
    """
    _validate(
        seed, shape, tumour_probability, parameter_variation, partial_volume, bias_strength, noise_level, gain_range
    )
    shape = tuple(int(n) for n in shape)
    rng = np.random.default_rng(list(seed) if isinstance(seed, (tuple, list)) else seed)
    labels = tissue_map(rng, shape, tumour_probability)
    brain = labels != BACKGROUND
    relaxation = vary_relaxation(rng, parameter_variation)
    coords = _grid(shape)
    proton_texture = 1.0 + texture * _smooth_field(rng, coords, n_waves=16, max_frequency=4.0)
    volumes = {}
    for name in MODALITIES:
        signal = tissue_signals(relaxation, SEQUENCES[name]).astype(np.float32)[labels] * proton_texture
        signal = _gaussian_blur(signal, (partial_volume,) * 3) * _bias_field(rng, coords, bias_strength)
        signal *= np.float32(scanner_scale * rng.uniform(*gain_range))
        if noise_level > 0:
            signal = _rician(rng, signal, noise_level * float(signal[brain].mean()))
        # Inside the brain the value is > 0 (a floor far below the noise), outside exactly 0.
        floor = np.float32(1e-6 * scanner_scale)
        volumes[name] = np.where(brain, np.maximum(signal, floor), np.float32(0.0)).astype(np.float32)
    return PhantomSubject(
        volumes=volumes, seg=seg_from_tissue(labels), brain_mask=brain, tissue=labels, relaxation=relaxation
    )


# === Preview ===


def render_slice(subject, path, slice_index=None):
    """Writes a PNG of one axial slice: the four contrasts side by side, then the segmentation.

    Args:
        subject: PhantomSubject. The subject to show.
        path: str or os.PathLike. Where to write the PNG (its folder must exist).
        slice_index: int or None. Axial slice; None for the middle one.

    Returns:
        str. `path`.

    Example:
    >>> import tempfile, os
    >>> out = render_slice(make_subject(0, (32, 32, 8)), os.path.join(tempfile.mkdtemp(), "s.png"))
    >>> os.path.getsize(out) > 0
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    depth = subject.seg.shape[2]
    z = depth // 2 if slice_index is None else int(slice_index)
    if not 0 <= z < depth:
        raise ValueError(f"slice_index must be in [0, {depth}), got {slice_index!r}")
    figure = Figure(figsize=(3 * (len(MODALITIES) + 1), 3.2))
    FigureCanvasAgg(figure)
    panels = [(name, subject.volumes[name][:, :, z]) for name in MODALITIES] + [("seg", subject.seg[:, :, z])]
    for i, (name, image) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), i + 1)
        # Transposed with origin lower: patient right to the right, anterior up.
        if name == "seg":
            axes.imshow(image.T, origin="lower", cmap="viridis", vmin=0, vmax=4, interpolation="nearest")
        else:
            axes.imshow(
                image.T, origin="lower", cmap="gray", vmin=0.0, vmax=float(np.percentile(subject.volumes[name], 99.5))
            )
        axes.set_title(name)
        axes.set_axis_off()
    figure.tight_layout()
    figure.savefig(os.fspath(path), dpi=100)
    return os.fspath(path)
