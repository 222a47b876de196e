"""The operators scripts and buttons call: stylize (selected / scene), revert, cancel.

With a UI the stylize operators run modally on a timer so Blender stays responsive
(Esc cancels); without one (``blender -b``, the bpy module) they run to completion
before returning, so pipelines can script them.
"""


import bpy

from . import runner, session
from .errors import REPORTED
from .run_states import CANCELLED, DONE, FAILED, RUNNING

_TIMER_S = 0.25
_OUTCOME = {DONE: {"FINISHED"}, CANCELLED: {"CANCELLED"}, FAILED: {"CANCELLED"}}


def _blocking(context) -> bool:
    """True when there is no event loop to drive a modal operator."""
    return bpy.app.background or context.window is None


def _redraw(context) -> None:
    screen = getattr(context, "screen", None)
    for area in getattr(screen, "areas", ()):
        if area.type in {"VIEW_3D", "NODE_EDITOR", "PROPERTIES"}:
            area.tag_redraw()


class _StylizeBase:
    """Shared run logic; subclasses say which objects' textures to stylize."""

    bl_options = {"REGISTER", "UNDO"}
    _run: runner.RestyleRun | None = None
    _timer = None

    wait: bpy.props.BoolProperty(
        name="Wait", description="Run to completion before returning, even with a UI "
        "(for scripts run inside an interactive Blender)",
        default=False, options={"HIDDEN", "SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context) -> bool:
        if context.scene is not None and context.scene.name in runner.ACTIVE:
            cls.poll_message_set(runner.BUSY_MESSAGE)  # the tooltip, and the script's error
            return False
        return context.scene is not None

    def objects(self, context) -> list:
        raise NotImplementedError

    def execute(self, context):
        try:
            run = runner.start_run(context, self.objects(context), self.bl_label)
        except REPORTED as exc:  # its job folder, its settings: report them
            self.report({"ERROR"}, f"Restyle could not prepare the job: {exc}")
            return {"CANCELLED"}
        if self.wait or _blocking(context):
            runner.run_to_end(run)
            return self._end(context, run)
        self._run = run
        self._timer = context.window_manager.event_timer_add(_TIMER_S, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        run = self._run
        if event.type == "ESC" and event.value == "PRESS":
            run.request_cancel()
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            state = run.step()
        finally:
            if run.state != RUNNING:  # over, also when a bug raised: no timer left behind
                context.window_manager.event_timer_remove(self._timer)
        _redraw(context)
        if state == RUNNING:
            return {"RUNNING_MODAL"}
        return self._end(context, run)

    def _end(self, context, run: runner.RestyleRun) -> set:
        """Report like every Blender operator does, and push an undo step on success."""
        lines = run.report().splitlines()
        level = {"ERROR"} if run.state == FAILED else {"INFO"}
        self.report(level, lines[0])
        for line in lines[1:]:  # skipped textures warn; texel densities only inform
            self.report({"WARNING"} if line.startswith("Skipped") else {"INFO"}, line)
        _redraw(context)
        return _OUTCOME[run.state]


class RESTYLE_OT_stylize_selected(_StylizeBase, bpy.types.Operator):
    """Restyle the colour textures of the selected objects' materials"""

    bl_idname = "restyle.stylize_selected"
    bl_label = "Stylize Selected"

    def objects(self, context) -> list:
        return list(context.selected_objects)


class RESTYLE_OT_stylize_scene(_StylizeBase, bpy.types.Operator):
    """Restyle every colour texture in the scene with one style model (a consistent look)"""

    bl_idname = "restyle.stylize_scene"
    bl_label = "Stylize Scene"

    def objects(self, context) -> list:
        return list(context.scene.objects)


class RESTYLE_OT_revert(bpy.types.Operator):
    """Put the original textures back (the stylized images are removed, files stay)"""

    bl_idname = "restyle.revert"
    bl_label = "Revert"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context) -> bool:
        if runner.ACTIVE:  # its write-back would undo the revert
            cls.poll_message_set(runner.REVERT_BUSY_MESSAGE)
            return False
        return True

    scope: bpy.props.EnumProperty(
        name="Scope",
        items=[("SELECTED", "Selected", "Only the selected objects' materials"),
               ("ALL", "All", "Every material in the file")],
        default="ALL",
    )

    def execute(self, context):
        from .writeback import revert, revert_objects

        selected = self.scope == "SELECTED"
        names = revert_objects(context.selected_objects) if selected else revert()
        self.report({"INFO"}, f"Reverted {len(names)} texture(s)")
        return {"FINISHED"}


class RESTYLE_OT_cancel(bpy.types.Operator):
    """Stop the running restyle job; the scene stays as it was"""

    bl_idname = "restyle.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context) -> bool:
        return context.scene is not None and context.scene.name in runner.ACTIVE

    def execute(self, context):
        runner.ACTIVE[context.scene.name].request_cancel()
        return {"FINISHED"}


classes = (RESTYLE_OT_stylize_selected, RESTYLE_OT_stylize_scene, RESTYLE_OT_revert,
           RESTYLE_OT_cancel)


@bpy.app.handlers.persistent
def _on_load_pre(*_args) -> None:
    """Loading a file ends modal operators; cancel their runs so none is left dangling."""
    runner.abandon_all()


def add_handlers() -> None:
    """Cancel runs when a file is loaded (called by the add-on's ``register``)."""
    bpy.app.handlers.load_pre.append(_on_load_pre)


def remove_handlers() -> None:
    """Undo ``add_handlers``, cancel every run and stop this session's worker."""
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)
    runner.abandon_all()
    session.shutdown()
