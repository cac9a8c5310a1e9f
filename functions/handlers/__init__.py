"""The Lambda handlers: every handler module imports this package first."""

from videohook import snap_start

snap_start.register()  # SnapStart's hooks, once per process (videohook.snap_start)
