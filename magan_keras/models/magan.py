"""MAGAN: the generator, discriminator and self-representation network trained together."""

import keras
from keras import ops

from magan_keras.models import losses as magan_losses
from magan_keras.models import metrics as image_metrics
from magan_keras.models.discriminator import PatchDiscriminator
from magan_keras.models.generator import MultiBranchGenerator
from magan_keras.models.precision import sublayers_follow
from magan_keras.models.presets import DEFAULT, validate_options, with_saved_defaults
from magan_keras.models.self_representation import SelfRepresentationNetwork
from magan_keras.models.single_input_generator import SingleInputGenerator
from tfds_brats.preprocessing import Preprocessing


def default_optimizer(name):
    """The paper's (pix2pix's) optimiser: Adam, learning rate 2e-4, beta_1 = 0.5."""
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, name=name)


@keras.saving.register_keras_serializable(package="magan_keras")
class MAGAN(keras.Model):
    """MA-GAN ("Joint Attention GAN for Multimodal Image Translation") as one `keras.Model`.

    Holds the multi-branch generator G, the conditional PatchGAN D and the
    self-representation network SR, and trains all three in one `train_step`:

    - `L_G = lambda_l1 * L1 + L_GAN + alpha * L_intra + beta * L_inter` (Eq. 4), plus
      `lambda_ssim * (1 - SSIM)` when `lambda_ssim > 0` (our addition, off by default), where
      `L_intra` compares each available branch's Conv3 + RA features and `L_inter`
      the fused features with SR's Conv3 features of the ground truth (stop-gradient:
      SR never learns from G's losses).
    - `L_D`: pix2pix's real-vs-fake patch loss (vanilla or least squares).
    - `L_SR = ||SR(y) - y||_1`, learnt alongside from step 0 (`sr_schedule="joint"`) or
      fitted alone for `sr_pretrain_steps` at the start of `fit` and then frozen
      (`"pretrain"`, what the authors do).

    G, D and SR are updated from the same forward pass (simultaneous updates, as in
    TensorFlow's pix2pix tutorial; pix2pix's PyTorch code updates D first and then
    re-scores the fake). Losses are averaged over the global batch, so a step under a
    `tf.distribute` strategy with `R` replicas equals a one-device step, and so does
    a JAX step under `keras.distribution.DataParallel`.

    Every loss is computed once, backend-free, in `compute_step_losses`; the
    gradient plumbing is a small module per backend
    (`magan_keras.models.steps.{tensorflow,jax,torch}`), so the same model trains
    and predicts on TensorFlow, JAX and PyTorch, and a `.keras` file written under
    one loads under the others.

    `fit` and `evaluate` take batches `({"images", "available", "target"}, y)` (see
    `magan_keras.data.make_dataset`) and report the loss terms and `psnr`, `ssim`,
    `mae` of the synthesis (images mapped from [-1, 1] to [0, 1]). `call` and
    `predict` run the generator.

    Args:
        modalities: sequence of str. Contrast names in channel order.
        image_size: int. Training image height and width.
        base_filters: int. Width of G and SR (64 in the paper).
        res_blocks: int. Residual blocks of G and SR (6 in the authors' code).
        discriminator_filters: int or None. Width of D (defaults to `base_filters`).
        gamma: float in [0, 1]. MA's Eq. 2 trade-off (a fixed hyperparameter).
        alpha: float >= 0. Weight of `L_intra`.
        beta: float >= 0. Weight of `L_inter`.
        lambda_l1: float >= 0. Weight of the L1 loss (100, as pix2pix).
        lambda_ssim: float >= 0. Weight of an added `lambda_ssim * (1 - SSIM)` term in
            `L_G` (SSIM of the synthesis on [0, 1], whole slice, as the `ssim` metric).
            Not in the paper: 0, the class default, is the paper's loss; `TrainConfig`
            (the CLI's default) uses 50, which docs/results.md measured.
        gan_loss: `"vanilla"` or `"lsgan"`.
        modal_attention: bool. Ablation switch for MA.
        intra_attention: bool. Ablation switch for RA.
        sr_supervision: bool. Ablation switch for SR (off: no SR, `alpha`, `beta` unused).
        sr_schedule: `"joint"` or `"pretrain"`.
        sr_pretrain_steps: int. SR's solo steps under `"pretrain"`.
        attention_reduction: int. Bottleneck ratio of MA and RA.
        pooled_attention: bool. Size-free pooled MA variant.
        generator: `"multi_branch"` (MA-GAN's, one encoder per contrast) or
            `"single_input"` (pix2pix-style early fusion, `SingleInputGenerator`; the
            ablations' baseline, which needs `modal_attention=False`).
        decoder_skip: bool. Full-resolution skip from the branches' Conv1 to the
            decoder (off here, the paper's generator; on in `TrainConfig`, the CLI's default;
            not in the paper; `MultiBranchGenerator` explains it).
            Multi-branch generator only.
        context_slices: int K in [0, 8]. 2.5-D context: each generator branch also sees its
            contrast's K axial neighbours on each side (batches then carry `context`
            `[B, H, W, M, 2K]`, `magan_keras.data.make_dataset(context_slices=K)`). 0, the
            default, is the paper's 2-D model. D and SR stay on the centre slice: D judges the
            centre synthesis against the centre inputs, and SR encodes the centre ground truth
            that the synthesis is compared with. Multi-branch generator only.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...). Anything else
            raises. `dtype="mixed_bfloat16"` runs G, D and SR in bfloat16 with float32
            weights (their outputs and the losses stay float32); it is saved with the model.

    Example:
    >>> import numpy as np
    >>> model = MAGAN(image_size=32, base_filters=8, res_blocks=1)
    >>> model.compile()
    >>> inputs = {"images": np.zeros((2, 32, 32, 4), "float32"),
    ...           "available": np.array([[1, 1, 1, 0]] * 2, "float32"),
    ...           "target": np.array([[0, 0, 0, 1]] * 2, "float32")}
    >>> y = np.zeros((2, 32, 32, 1), "float32")
    >>> history = model.fit(inputs, y, batch_size=2, epochs=1, verbose=0)
    >>> sorted(history.history)[:4]
    ['d_loss', 'g_gan', 'g_inter', 'g_intra']
    >>> model.predict(inputs, verbose=0).shape
    (2, 32, 32, 1)
    """

    def __init__(
        self,
        modalities=DEFAULT["modalities"],
        image_size=DEFAULT["image_size"],
        base_filters=DEFAULT["base_filters"],
        res_blocks=DEFAULT["res_blocks"],
        discriminator_filters=DEFAULT["discriminator_filters"],
        gamma=DEFAULT["gamma"],
        alpha=DEFAULT["alpha"],
        beta=DEFAULT["beta"],
        lambda_l1=DEFAULT["lambda_l1"],
        lambda_ssim=DEFAULT["lambda_ssim"],
        gan_loss=DEFAULT["gan_loss"],
        modal_attention=DEFAULT["modal_attention"],
        intra_attention=DEFAULT["intra_attention"],
        sr_supervision=DEFAULT["sr_supervision"],
        sr_schedule=DEFAULT["sr_schedule"],
        sr_pretrain_steps=DEFAULT["sr_pretrain_steps"],
        attention_reduction=DEFAULT["attention_reduction"],
        pooled_attention=DEFAULT["pooled_attention"],
        generator=DEFAULT["generator"],
        decoder_skip=DEFAULT["decoder_skip"],
        context_slices=DEFAULT["context_slices"],
        preprocessing=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Config (validated in one place: presets.validate_options) ===
        options = validate_options(
            {
                "modalities": modalities,
                "image_size": image_size,
                "base_filters": base_filters,
                "res_blocks": res_blocks,
                "discriminator_filters": discriminator_filters,
                "gamma": gamma,
                "alpha": alpha,
                "beta": beta,
                "lambda_l1": lambda_l1,
                "lambda_ssim": lambda_ssim,
                "gan_loss": gan_loss,
                "modal_attention": modal_attention,
                "intra_attention": intra_attention,
                "sr_supervision": sr_supervision,
                "sr_schedule": sr_schedule,
                "sr_pretrain_steps": sr_pretrain_steps,
                "attention_reduction": attention_reduction,
                "pooled_attention": pooled_attention,
                "generator": generator,
                "decoder_skip": decoder_skip,
                "context_slices": context_slices,
            }
        )
        self.modalities = options["modalities"]
        self.image_size = options["image_size"]
        self.base_filters = options["base_filters"]
        self.res_blocks = options["res_blocks"]
        self.discriminator_filters = options["discriminator_filters"] or self.base_filters
        self.gamma = options["gamma"]
        self.alpha = options["alpha"]
        self.beta = options["beta"]
        self.lambda_l1 = options["lambda_l1"]
        self.lambda_ssim = options["lambda_ssim"]
        self.preprocessing = Preprocessing.from_config(preprocessing, self.modalities)
        self.generator_kind = generator
        self.gan_loss = gan_loss
        self.modal_attention = modal_attention
        self.intra_attention = intra_attention
        self.sr_supervision = sr_supervision
        self.sr_schedule = sr_schedule
        self.sr_pretrain_steps = options["sr_pretrain_steps"]
        self.attention_reduction = options["attention_reduction"]
        self.pooled_attention = pooled_attention
        self.decoder_skip = decoder_skip
        self.context_slices = options["context_slices"]
        # === Networks (with the model's dtype policy, which `load_model` restores) ===
        with sublayers_follow(self):
            if generator == "single_input":
                self.generator = SingleInputGenerator(
                    self.modalities,
                    self.image_size,
                    self.base_filters,
                    self.res_blocks,
                    intra_attention=self.intra_attention,
                    attention_reduction=self.attention_reduction,
                    preprocessing=self.preprocessing.to_config(stored=True),
                    name="generator",
                )
            else:
                self.generator = MultiBranchGenerator(
                    self.modalities,
                    self.image_size,
                    self.base_filters,
                    self.res_blocks,
                    modal_attention=self.modal_attention,
                    intra_attention=self.intra_attention,
                    gamma=self.gamma,
                    attention_reduction=self.attention_reduction,
                    pooled_attention=self.pooled_attention,
                    decoder_skip=self.decoder_skip,
                    context_slices=self.context_slices,
                    preprocessing=self.preprocessing.to_config(stored=True),
                    name="generator",
                )
            self.discriminator = PatchDiscriminator(
                len(self.modalities), self.discriminator_filters, name="discriminator"
            )
            self.self_representation = (
                SelfRepresentationNetwork(
                    self.image_size, self.base_filters, self.res_blocks, name="self_representation"
                )
                if self.sr_supervision
                else None
            )
            self.generator.build_on_zeros()
            self.discriminator.build_on_zeros(self.image_size)
            if self.self_representation is not None:
                self.self_representation.build_on_zeros()
            self.sr_pretrained = self.add_weight(shape=(), initializer="zeros", trainable=False, name="sr_pretrained")
            # === Trackers ===
            names = ["g_loss", "g_l1", "g_gan", "d_loss"]
            if self.lambda_ssim > 0:
                names.append("g_ssim")
            if self.sr_supervision:
                names += ["g_intra", "g_inter", "sr_loss"]
            names += ["psnr", "ssim", "mae"]
            self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
            self.built = True

    # === Training ===
    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def trains_self_representation(self):
        """Whether `train_step` updates SR (joint schedule with SR supervision on)."""
        return self.sr_supervision and self.sr_schedule == "joint"

    def compile(self, g_optimizer=None, d_optimizer=None, sr_optimizer=None, **kwargs):
        """Sets the three optimisers (Adam 2e-4, beta_1 0.5 when omitted) and builds them.

        Building them here, on the already-built networks, lets
        `BackupAndRestore` and `load_model` restore their state (Keras only builds
        `model.optimizer` itself).

        The same call works on every backend, and each optimiser keeps its own
        settings everywhere (different learning rates included). On TensorFlow and
        torch `model.optimizer` is `g_optimizer`; JAX's trainer threads only
        `model.optimizer.variables` through its functional state, so there
        `model.optimizer` is a `jax_step.OptimizerGroup` whose variables are all
        three optimisers' and whose `iterations` and `learning_rate` are G's.

        Args:
            g_optimizer: optimiser of G (also `model.optimizer` on TensorFlow and torch).
            d_optimizer: optimiser of D.
            sr_optimizer: optimiser of SR.
            **kwargs: passed to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, ...). `loss` and `metrics` are not accepted:
                MAGAN's losses are constructor arguments.
        """
        for key in ("loss", "metrics", "optimizer"):
            if key in kwargs:
                raise ValueError(
                    f"MAGAN.compile: {key!r} is not an argument; use g_optimizer/d_optimizer/"
                    "sr_optimizer and the constructor's loss weights"
                )
        self.g_optimizer = g_optimizer or default_optimizer("g_adam")
        self.d_optimizer = d_optimizer or default_optimizer("d_adam")
        self.sr_optimizer = sr_optimizer or default_optimizer("sr_adam")
        super().compile(optimizer=self.g_optimizer, **kwargs)
        for optimizer, network, _ in self._optimizer_pairs(include_sr=True):
            if not optimizer.built:
                optimizer.build(network.trainable_variables)
        if keras.backend.backend() == "jax":
            from magan_keras.models.steps.jax import OptimizerGroup

            self.optimizer = OptimizerGroup([self.g_optimizer, self.d_optimizer, self.sr_optimizer])

    def _optimizer_pairs(self, include_sr=None):
        """Returns `(optimizer, network, loss name)` for each network the step updates."""
        pairs = [
            (self.g_optimizer, self.generator, "g_loss"),
            (self.d_optimizer, self.discriminator, "d_loss"),
        ]
        with_sr = self.trains_self_representation if include_sr is None else include_sr
        if with_sr and self.self_representation is not None:
            pairs.append((self.sr_optimizer, self.self_representation, "sr_loss"))
        return pairs

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {
            name: keras.saving.serialize_keras_object(getattr(self, name))
            for name in ("g_optimizer", "d_optimizer", "sr_optimizer")
        }

    def compile_from_config(self, config):
        self.compile(**{k: keras.saving.deserialize_keras_object(v) for k, v in config.items()})

    def compute_step_losses(self, inputs, y, training):
        """Runs G, D (and SR) on a batch and returns every loss and metric as scalars.

        This is the backend-free heart of `train_step` and `test_step`; each
        backend's gradient step differentiates `g_loss`, `d_loss` and `sr_loss`
        with respect to G's, D's and SR's weights respectively.

        Args:
            inputs: dict with `images`, `available`, `target`.
            y: `[B, H, W, 1]` ground-truth target in [-1, 1].
            training: bool.

        Returns:
            dict of scalar tensors named as the trackers.
        """
        y = ops.cast(y, "float32")
        outputs = self.generator.call_with_features(inputs, training=training)
        synthesis = outputs["synthesis"]
        batch = ops.shape(y)[0]
        d_inputs = {
            key: ops.concatenate([inputs[key], inputs[key]], axis=0) for key in ("images", "available", "target")
        }
        d_inputs["candidate"] = ops.concatenate([y, synthesis], axis=0)
        logits = self.discriminator(d_inputs, training=training)
        real_logits, fake_logits = logits[:batch], logits[batch:]
        results = {}
        teacher = None
        if self.self_representation is not None:
            reconstruction, teacher = self.self_representation.call_with_features(
                y, training=training and self.trains_self_representation
            )
            results["sr_loss"] = magan_losses.batch_mean(magan_losses.l1_loss(y, reconstruction))
        results.update(
            magan_losses.generator_losses(
                y,
                synthesis,
                fake_logits,
                outputs["branch_features"],
                outputs["fused_features"],
                teacher,
                outputs.get("branch_available", inputs["available"]),
                lambda_l1=self.lambda_l1,
                lambda_ssim=self.lambda_ssim,
                alpha=self.alpha,
                beta=self.beta,
                gan_loss=self.gan_loss,
            )
        )
        results["d_loss"] = magan_losses.discriminator_loss(real_logits, fake_logits, self.gan_loss)
        y_unit, synthesis_unit = image_metrics.to_unit_range(y), image_metrics.to_unit_range(synthesis)
        results["psnr"] = ops.mean(image_metrics.psnr(y_unit, synthesis_unit))
        if "g_ssim" in results:  # the SSIM loss already scored this batch: 1 - mean SSIM
            results["ssim"] = 1.0 - results["g_ssim"]
        else:
            results["ssim"] = ops.mean(image_metrics.ssim(y_unit, synthesis_unit))
        results["mae"] = ops.mean(image_metrics.mae(y_unit, synthesis_unit))
        return results

    def update_trackers(self, results, reduce=None):
        """Feeds `results` into the trackers (after `reduce`, e.g. a cross-replica mean).

        Returns:
            the logs dict `{name: running mean}`.
        """
        for name, tracker in self.trackers.items():
            value = results[name]
            tracker.update_state(reduce(value) if reduce is not None else value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, *args):
        return _backend_steps().train_step(self, *args)

    def test_step(self, *args):
        return _backend_steps().test_step(self, *args)

    def _maybe_symbolic_build(self, *args, **kwargs):
        # Workaround for keras-team/keras#20585: under MultiWorkerMirroredStrategy the
        # TensorFlow trainer's symbolic build reduces a PerReplica batch and fails.
        # MAGAN builds its networks in __init__ and its optimizers in compile, so a
        # compiled MAGAN has nothing left to build symbolically.
        if self.built and getattr(self, "compiled", False):
            return None
        return super()._maybe_symbolic_build(*args, **kwargs)

    def fit(self, x=None, y=None, **kwargs):
        """`keras.Model.fit`; under `sr_schedule="pretrain"` SR is first fitted alone.

        SR's solo phase runs `sr_pretrain_steps` steps of `SR.fit` on the targets of
        `x` (a `tf.data.Dataset` of `(inputs, y)`) once; a model restored with that
        phase done skips it.
        """
        if (
            self.sr_supervision
            and self.sr_schedule == "pretrain"
            and float(ops.convert_to_numpy(self.sr_pretrained)) < 0.5
        ):
            self.pretrain_self_representation(x, self.sr_pretrain_steps, verbose=kwargs.get("verbose", "auto"))
        return super().fit(x, y, **kwargs)

    def pretrain_self_representation(self, dataset, steps, verbose="auto"):
        """Fits SR alone on the targets of `dataset` for `steps` steps, then marks it done.

        Args:
            dataset: `tf.data.Dataset` yielding `(inputs, y)`.
            steps: int. Number of SR steps.
            verbose: Keras verbosity.
        """
        if self.self_representation is None:
            raise ValueError("MAGAN: SR pretraining needs sr_supervision=True")
        if steps > 0:
            targets = dataset.map(lambda inputs, y, *rest: (y, y))
            self.self_representation.compile(optimizer=self.sr_optimizer, loss="mean_absolute_error")
            self.self_representation.fit(targets, epochs=1, steps_per_epoch=steps, verbose=verbose)
        self.sr_pretrained.assign(1.0)

    # === Inference ===
    def call(self, inputs, training=None):
        return self.generator(inputs, training=training)

    @classmethod
    def from_config(cls, config):
        # A file written before an option existed was built with that option's old default.
        return cls(**with_saved_defaults(config))

    # === Sharing (magan_keras.sharing.preset) ===
    @classmethod
    def from_preset(cls, handle, modalities=None):
        """A trained MAGAN from a preset: a folder, `hf://owner/name` or `kaggle://...` (KerasHub's spelling).

        Args:
            handle: str or path-like. The preset (`save_to_preset` writes one).
            modalities: the contrasts the caller needs, in order, or None (any).

        Raises:
            magan_keras.sharing.PresetError: a damaged or incompatible preset (the message names the file).

        Example:
        >>> MAGAN(image_size=16, base_filters=2, res_blocks=1).save_to_preset("preset_m").name
        'preset_m'
        >>> MAGAN.from_preset("preset_m").image_size
        16
        """
        from magan_keras.sharing import preset  # pylint: disable=import-outside-toplevel

        return preset.from_preset(handle, modalities)

    def save_to_preset(self, folder, run_dir=None, builder=None, overwrite=False):
        """Writes this model as a preset folder with its model card (`magan_keras.sharing.preset.save_to_preset`).

        Args:
            folder: str or path-like. A new folder (or an old preset, with `overwrite`).
            run_dir: the training run's folder, whose scores and config go into the card, or None.
            builder: the training data's TFDS builder (for `metadata.json`), or None.
            overwrite: bool.

        Returns:
            `pathlib.Path` of the folder.
        """
        from magan_keras.sharing import preset  # pylint: disable=import-outside-toplevel

        return preset.save_to_preset(self, folder, run_dir=run_dir, builder=builder, overwrite=overwrite)

    def get_config(self):
        config = super().get_config()
        config.update(
            modalities=list(self.modalities),
            image_size=self.image_size,
            base_filters=self.base_filters,
            res_blocks=self.res_blocks,
            discriminator_filters=self.discriminator_filters,
            gamma=self.gamma,
            alpha=self.alpha,
            beta=self.beta,
            lambda_l1=self.lambda_l1,
            lambda_ssim=self.lambda_ssim,
            gan_loss=self.gan_loss,
            modal_attention=self.modal_attention,
            intra_attention=self.intra_attention,
            sr_supervision=self.sr_supervision,
            sr_schedule=self.sr_schedule,
            sr_pretrain_steps=self.sr_pretrain_steps,
            attention_reduction=self.attention_reduction,
            pooled_attention=self.pooled_attention,
            generator=self.generator_kind,
            decoder_skip=self.decoder_skip,
            context_slices=self.context_slices,
            preprocessing=self.preprocessing.to_config(stored=True),
        )
        return config


def _backend_steps():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from magan_keras.models.steps import tensorflow as steps

    elif backend == "jax":
        from magan_keras.models.steps import jax as steps

    elif backend == "torch":
        from magan_keras.models.steps import torch as steps

    else:
        raise NotImplementedError(f"MAGAN has no train step for the {backend!r} backend")
    return steps
