"""The execution plane: how user code runs (processes only, no store).

Every place that runs code a tenant sends (kernels, the agent's Bash, callbacks,
machine commands) asks a `Sandbox` to run an argv for one session. See
``sandbox.py`` for the interface and ``bubblewrap.py`` for the default.
"""
