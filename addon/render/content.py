"""What a Stylize run gets from the renders: extra training content and per-texture scales."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from .uv_density import DensitySamples, TextureDensity, choose_scales, measure_view
from .views import render_one, training_views


@dataclass
class RenderContent:
    """Renders to train on, stroke scale per original image name, and the measurements."""

    renders: list[Path] = field(default_factory=list)
    scales: dict[str, float] = field(default_factory=dict)
    densities: list[TextureDensity] = field(default_factory=list)

    def report_lines(self) -> list[str]:
        """One line per measured texture, for the operator's report."""
        lines = [f"Trained on {len(self.renders)} scene render(s) as well"] if self.renders else []
        for d in self.densities:
            seen = (f"{d.density:.2f} texels/px (1024 px view)" if d.density
                    else "not seen by any view")
            lines.append(f"Texel density {d.image}: {seen}, stroke scale {d.scale:.2f}")
        return lines


def render_content_steps(scene: bpy.types.Scene, objects: Sequence,
                         image_names: Sequence[str], job_dir: Path, training: bool
                         ) -> Generator[str, None, RenderContent]:
    """Render the training views and measure texel density, as ``scene.restyle_render`` says.

    A generator: it renders one view, yields a progress line, and so on, so a modal
    timer can step it (Blender stays responsive, Esc works between renders); it returns
    the ``RenderContent``. ``objects``: the run's objects (the orbit views frame them);
    ``image_names``: the original images the run stylizes; ``training``: whether the run
    trains (renders are only worth making then). Files go under ``job_dir/renders``.
    """
    settings = scene.restyle_render
    want_renders = training and settings.render_aware
    if not (want_renders or settings.consistent_scale) or not image_names:
        return RenderContent()
    views = training_views(scene, settings.render_count, objects)
    out = Path(job_dir) / "renders"
    content = RenderContent()
    total = len(views) * (int(want_renders) + int(settings.consistent_scale))
    done = 0
    if want_renders:
        for i, view in enumerate(views):
            content.renders.append(render_one(scene, view, out / f"view_{i:02d}.png",
                                              settings.render_size, settings.engine,
                                              settings.samples))
            done += 1
            yield f"Rendering training view {done} of {total}"
    if settings.consistent_scale:
        samples = DensitySamples()
        for i, view in enumerate(views):
            measure_view(scene, view, out / f"uv_{i:02d}.exr", samples, settings.density_size)
            done += 1
            yield f"Measuring texel density: view {done} of {total}"
        wanted = set(image_names)
        measured = samples.densities()
        content.densities = [d for d in measured if d.image in wanted]
        content.densities += [TextureDensity(n) for n in sorted(wanted - {d.image for d in
                                                                            measured})]
        content.scales = choose_scales(content.densities, settings.target_stroke_scale)
    return content


def prepare_render_content(scene: bpy.types.Scene, objects: Sequence,
                           image_names: Sequence[str], job_dir: Path,
                           training: bool) -> RenderContent:
    """``render_content_steps`` run to the end at once (scripts and tests, no UI)."""
    steps = render_content_steps(scene, objects, image_names, job_dir, training)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
