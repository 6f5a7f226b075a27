"""Tuning real programs with a cost model: :mod:`.measure` (the parts of a run, shared with
:mod:`tpgnn.auto_scheduler`) and :mod:`.command` (``tpgnn tune``: a network end to end,
with a report and a plot). TVM is imported by the submodules, not here."""
