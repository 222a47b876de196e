"""``python -m core batch``: restyle many .blend files with one model on Ray.

``settings`` (arguments, cheap to import), ``driver`` (Ray, the queue, retries),
``task`` (one fresh Blender process on a node), ``model`` (the one model),
``summary`` (batch.json, done records), ``extension`` (the zip). The script that runs
inside Blender is ``addon/batch_script.py``. Only ``settings`` is imported by
``core.cli`` up front, so the other commands never load Ray.
"""
