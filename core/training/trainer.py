"""Train one style model: ``train_style(style_paths, content_paths, out_dir, settings)``.

The generator learns to restyle random crops of the content images so that
(a) features of its output keep the input's structure (content loss), (b) the
distribution of its features matches the style crops' (sliced Wasserstein,
optionally a normalised Gram) and its coarse patches lie near the painting's own, and
(c) a PatchGAN critic on style crops cannot tell its patches apart. The adversarial
term starts only after a warm-up and ramps in, so the critic cannot win before the
generator has learned colours.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..device import resolve_device
from ..errors import BadInput
from ..model.discriminator import PatchDiscriminator
from ..model.exemplar import painting_contrast, painting_patches
from ..model.features import build_features
from ..model.generator import Generator, build_generator
from ..model.noise import Coords, grid_coords
from ..precision import resolve_precision
from ..progress import ProgressFn, check_cancel, report
from ..store import BASE_DIR, load_model, models_dir, save_model
from . import losses
from .data import content_sampler, expand_paths, jpeg_round_trip, load_rgb, style_sampler
from .options import DEFAULT_TIME_BUDGET_S

#: Style batches measured up front for the patch term, each on its own directions.
STYLE_SETS = 16
#: Scales of the detail term: full and half resolution.
DETAIL_OCTAVES = 2
CHANNELS_LAST = torch.channels_last
#: Crops take their noise from random places in this many pixels of rows and columns.
NOISE_FIELD = 1 << 16


@dataclass
class TrainSettings:
    """Every knob of a training run; ``asdict`` is stored in model.json and keys the cache."""

    steps: int = 400  # 1-2.5 minutes on 2 CPU cores, warm-started from the base
    size: int = 128  # crop size in pixels (a multiple of 8)
    batch: int = 2
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16: the autocast of generator and critic forwards
    lr: float = 1e-3
    content_weight: float = 0.3  # luminance structure kept (planks, grain, borders)
    style_weight: float = 1.0  # raw-pixel patch distribution of the painting (strokes)
    neighbour_weight: float = 1.0  # each coarse patch near one of the painting's (its marks)
    detail_weight: float = 1.0  # the patches of the painting's detail band: its strokes
    feature_weight: float = 0.0  # random-CNN (or VGG) feature distribution
    adv_weight: float = 0.05
    tv_weight: float = 0.0
    lattice_weight: float = 5.0  # no energy added at the period-4/8 grid frequencies
    halo_weight: float = 5.0  # no rims or glows along the input's strong edges
    ground_weight: float = 5.0  # no tint on a cut-out's ground near it (tens of px)
    outline_weight: float = 5.0  # no rim on that ground right beside it (1-2 px)
    jpeg_share: float = 0.5  # share of content crops the generator sees JPEG-compressed
    patch: int = 5  # side of the pixel patches the style term compares
    octaves: int = 4  # patch scales: 1, 1/2, 1/4, ... of the crop
    preserve_color: bool = False
    time_budget_s: float | None = DEFAULT_TIME_BUDGET_S  # None: as long as the steps take
    init_from: str | None = None  # a style to fine-tune (name or folder); wins over warm_start
    warm_start: bool = True  # start from the shipped base generator (default arch only)
    style_scale: float = 1.0  # stroke size: the painting's resampling after ``fit_painting``
    adv_start: float = 0.2  # fraction of the run before the critic's term starts
    adv_ramp: float = 0.2  # fraction of the run over which it ramps to full weight
    features: str = "auto"  # auto | random | vgg19 (vgg19 only from a local file)
    arch: dict = field(default_factory=dict)  # generator kwargs; {} = defaults
    name: str = ""
    description: str = ""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cache_key(styles: list[Path], contents: list[Path], settings: TrainSettings) -> str:
    digest = hashlib.sha256()
    for group in (styles, contents):
        for path in group:
            digest.update(_sha256(path).encode())
        digest.update(b"|")
    digest.update(json.dumps(asdict(settings), sort_keys=True).encode())
    return digest.hexdigest()[:24]


def _load_all(paths: list[Path], role: str) -> list[torch.Tensor]:
    images = []
    for path in paths:
        try:
            images.append(load_rgb(path))
        except BadInput as exc:
            raise BadInput(f"{role}: {exc}") from exc
    return images


def _initial_generator(settings: TrainSettings) -> Generator:
    """A copy of the ``init_from`` style, else of the base generator (trained once on
    several paintings: it already keeps structure and paints marks, so a new painting
    needs only a few hundred steps), else a fresh identity generator."""
    source = settings.init_from
    if source is None and settings.warm_start and not settings.arch and BASE_DIR.is_dir():
        source = str(BASE_DIR)
    if source is None:
        return build_generator(**settings.arch)
    base = load_model(source, device="cpu").generator
    generator = build_generator(**base.arch)
    generator.load_state_dict(base.state_dict())
    return generator


def _eta(start: float, fraction: float) -> str:
    if fraction <= 0:
        return "?"
    left = (time.monotonic() - start) * (1 - fraction) / fraction
    return f"{int(left // 60)}m{int(left % 60):02d}s"


class _Run:
    """The state of one training run: nets, optimisers, samplers, and one step."""

    def __init__(self, styles, contents, settings: TrainSettings) -> None:
        self.s = settings
        self.device = resolve_device(settings.device)
        self.precision = resolve_precision(self.device, settings.precision)
        torch.manual_seed(settings.seed)
        self.gen = torch.Generator().manual_seed(settings.seed)
        # Channels-last is oneDNN's fast layout for these small convs (about 1.3x here).
        self.G = _initial_generator(settings).to(self.device, memory_format=CHANNELS_LAST).train()
        self.D = PatchDiscriminator().to(self.device, memory_format=CHANNELS_LAST).train()
        self.features = (build_features(settings.features).to(self.device)
                         if settings.feature_weight else None)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=settings.lr, betas=(0.5, 0.99))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=settings.lr, betas=(0.5, 0.99))
        self.content = content_sampler(contents, settings.size, self.gen)
        self.style = style_sampler(styles, settings.size, self.gen, settings.style_scale)
        if getattr(self.G, "marks", 0):  # the painting's own marks, as the crops see it
            self.G.set_marks(self._styled_view(
                painting_patches(self.style.images, self.G.marks, self.gen, self.G.layout)
            ).to(self.device), painting_contrast(self.style.images, self.G.layout))
        self.style_patches = losses.StylePatches(
            [self._styled_view(self.style.batch(settings.batch).to(self.device))
             for _ in range(STYLE_SETS)], self.gen, settings.patch, settings.octaves)
        self.neighbours = (losses.StyleNeighbours(
            [self._styled_view(self.style.batch(settings.batch).to(self.device))
             for _ in range(STYLE_SETS // 2)], self.gen) if settings.neighbour_weight else None)
        self.details = (losses.StylePatches(
            [self._detail(self._styled_view(self.style.batch(settings.batch).to(self.device)))
             for _ in range(STYLE_SETS // 2)], self.gen, settings.patch, DETAIL_OCTAVES)
            if settings.detail_weight else None)
        self.steps_done = 0

    def adv_factor(self, fraction: float) -> float:
        if self.s.adv_weight <= 0 or fraction < self.s.adv_start:
            return 0.0
        return min(1.0, (fraction - self.s.adv_start) / max(self.s.adv_ramp, 1e-6))

    def set_lr(self, fraction: float) -> None:
        """Full rate, then a linear decay over the last 30% of the run to settle the weights."""
        factor = 1.0 if fraction < 0.7 else max(0.1, (1.0 - fraction) / 0.3)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = self.s.lr * factor

    def _styled_view(self, x: torch.Tensor) -> torch.Tensor:
        """What the style terms see: the image, or its luminance when colours are kept."""
        if self.s.preserve_color:
            return losses.luminance(x).expand(-1, 3, -1, -1)
        return x

    def _detail(self, x: torch.Tensor) -> torch.Tensor:
        """The band of ``x`` the generator's marks carry (its layout's ``sigma``)."""
        return losses.detail_band(x, self.G.layout.sigma)

    def _run(self, net: torch.nn.Module, *inputs: object) -> torch.Tensor:
        """A network forward in the run's precision; the losses stay in fp32 (sorting and
        standardising need the mantissa). Backward ops keep their forward dtypes."""
        with self.precision.autocast():
            return net(*inputs).float()

    def _noise_coords(self, batch: torch.Tensor) -> Coords:
        """Each crop a place of its own in the noise field, at a multiple of 8 like every
        tile (``Generator.multiple``), so its noise blocks line up as at inference."""
        multiple = self.G.multiple
        origin = torch.randint(0, NOISE_FIELD // multiple, (len(batch), 2), generator=self.gen)
        return grid_coords(len(batch), *batch.shape[2:], origin * multiple)

    def step(self, fraction: float) -> dict[str, float]:
        s, dev = self.s, self.device
        content, grounds = self.content.batch_with_grounds(s.batch)
        given = self._as_given(content).to(dev, memory_format=CHANNELS_LAST)
        content = content.to(dev, memory_format=CHANNELS_LAST)
        style = self._styled_view(self.style.batch(s.batch).to(dev, memory_format=CHANNELS_LAST))
        out = self._run(self.G, given, self._noise_coords(given))
        seen = self._styled_view(out)
        adv = self.adv_factor(fraction)
        self.set_lr(fraction)

        d_loss = torch.zeros(())
        if adv > 0:
            self.opt_d.zero_grad(set_to_none=True)
            d_loss = losses.hinge_critic(self._run(self.D, style),
                                         self._run(self.D, seen.detach()))
            d_loss.backward()
            self.opt_d.step()

        terms = {
            "style": self.style_patches.distance(seen, self.gen, self.steps_done),
            "content": losses.structure_loss(out, content),
        }
        total = s.style_weight * terms["style"] + s.content_weight * terms["content"]
        if self.neighbours is not None:
            terms["neighbours"] = self.neighbours.distance(seen, self.gen)
            total = total + s.neighbour_weight * terms["neighbours"]
        if self.details is not None:
            terms["detail"] = self.details.distance(self._detail(seen), self.gen, self.steps_done)
            total = total + s.detail_weight * terms["detail"]
        if s.feature_weight:
            terms["features"] = self._feature_distance(seen, style)
            total = total + s.feature_weight * terms["features"]
        if s.tv_weight:
            total = total + s.tv_weight * losses.total_variation(out)
        if s.lattice_weight:
            terms["lattice"] = losses.lattice_penalty(out.clamp(0.0, 1.0), given)
            total = total + s.lattice_weight * terms["lattice"]
        if s.halo_weight:
            terms["halo"] = losses.halo_penalty(out, content)
            total = total + s.halo_weight * terms["halo"]
        if bool(grounds.any()):
            grounds = grounds.to(dev)
            if s.ground_weight:
                terms["ground"] = losses.ground_penalty(out, grounds)
                total = total + s.ground_weight * terms["ground"]
            if s.outline_weight:
                terms["outline"] = losses.ground_penalty(out, grounds, **losses.OUTLINE_BANDS)
                total = total + s.outline_weight * terms["outline"]
        total = total + 10.0 * losses.range_penalty(out)
        if s.preserve_color:
            total = total + 10.0 * losses.colour_loss(out, content)
        if adv > 0:
            terms["adv"] = losses.hinge_generator(self._run(self.D, seen))
            total = total + adv * s.adv_weight * terms["adv"]
            terms["critic"] = d_loss
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        self.steps_done += 1
        return {**{k: float(v.detach()) for k, v in terms.items()}, "total": float(total.detach())}

    def _as_given(self, content: torch.Tensor) -> torch.Tensor:
        """The generator's input: a share of the crops through a JPEG round trip, so it
        learns to leave block edges alone (the losses still compare with the clean crop)."""
        picked = torch.rand(len(content), generator=self.gen) < self.s.jpeg_share
        if not picked.any():
            return content
        given = content.clone()
        given[picked] = jpeg_round_trip(content[picked], self.gen)
        return given

    def _feature_distance(self, seen: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            f_style = self.features(style)
        f_out = self.features(seen.clamp(-0.5, 1.5))
        distance = seen.new_zeros(())
        for fo, fs in zip(f_out, f_style, strict=True):
            dirs = losses.random_directions(fo.shape[1], 32, self.gen, self.device)
            distance = distance + losses.sliced_wasserstein(fo, fs, dirs)
        return distance


@contextmanager
def _deterministic() -> Iterator[None]:
    """Torch's deterministic kernels while a run trains, then the caller's setting back.

    Some CPU backward kernels sum in thread order: two runs with one seed drifted apart
    from the first steps (a shipped style's retrain moved held-out out/in by .04 and its
    tint 2x), which made the models unreproducible and A/B comparisons noise. Same step
    time here. ``warn_only``: a device without a deterministic kernel for an op warns.
    """
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def run_training(
    styles: list[torch.Tensor],
    contents: list[torch.Tensor],
    settings: TrainSettings,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> tuple[Generator, dict]:
    """Train on in-memory images; returns the generator (eval mode, CPU) and run stats."""
    if settings.size % 8 or settings.size < 32:
        raise BadInput(f"Crop size {settings.size} must be a multiple of 8 and at least 32.")
    with _deterministic():
        run = _Run(styles, contents, settings)
        start = time.monotonic()
        budget = settings.time_budget_s
        step, last_report, history = 0, 0.0, []
        while step < settings.steps:
            check_cancel(cancel)
            elapsed = time.monotonic() - start
            if budget is not None and elapsed >= budget:
                break
            fraction = max(step / settings.steps, elapsed / budget if budget else 0.0)
            logs = run.step(fraction)
            history.append(logs)
            step += 1
            now = time.monotonic()
            done = max(step / settings.steps, (now - start) / budget if budget else 0.0)
            if now - last_report > 0.5 or step == settings.steps:
                last_report = now
                terms = " ".join(f"{k} {v:.3f}" for k, v in logs.items() if k != "total")
                report(progress, done, "train",
                       f"step {step}/{settings.steps} · {terms} · ETA {_eta(start, done)}")
    check_cancel(cancel)
    generator = run.G.cpu().eval()
    stats = {"steps_done": step, "seconds": round(time.monotonic() - start, 1)}
    if history:
        tail = history[-min(50, len(history)) :]
        stats["final_losses"] = {
            k: round(sum(h[k] for h in tail if k in h) / sum(k in h for h in tail), 4)
            for k in tail[-1]}
    return generator, stats


def train_style(
    style_paths: Sequence[Path | str],
    content_paths: Sequence[Path | str],
    out_dir: Path | None,
    settings: TrainSettings | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Train a style model and save it to ``out_dir`` (or the cache); returns the folder."""
    settings = settings or TrainSettings()
    styles = expand_paths(style_paths)
    contents = expand_paths(content_paths)
    for role, paths in (("Style image", styles), ("Content image", contents)):
        for path in paths:
            if not path.is_file():
                raise BadInput(f"{role} {path} does not exist; check the path.")
    if out_dir is None:
        out_dir = models_dir() / _cache_key(styles, contents, settings)
        if (out_dir / "model.json").is_file() and (out_dir / "model.safetensors").is_file():
            report(progress, 1.0, "train", f"using cached model {out_dir.name}")
            return out_dir
    style_images = _load_all(styles, "Style image")
    content_images = _load_all(contents, "Content image")
    report(progress, 0.0, "train", f"training on {len(contents)} content, {len(styles)} style")
    generator, stats = run_training(style_images, content_images, settings, progress, cancel)
    meta = {
        "name": settings.name or Path(out_dir).name,
        "description": settings.description
        or f"Trained on {', '.join(p.name for p in styles)}",
        "architecture": dict(generator.arch),
        "train_settings": asdict(settings),
        "train_stats": stats,
        "style_images": [{"file": p.name, "sha256": _sha256(p)} for p in styles],
        "content_images": [{"file": p.name, "sha256": _sha256(p)} for p in contents],
    }
    check_cancel(cancel)
    return save_model(generator, meta, Path(out_dir))

