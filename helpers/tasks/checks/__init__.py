"""The checks of the "Your turn" tasks, one module per notebook: each reads the engine state
the learner made.

Each check gets the task's names (``names["container"]`` …) and returns a
:class:`~helpers.tasks.registry.Verdict` that says what is wrong, specifically, and what to do.
Importing this package registers every task, in notebook order.
"""

from . import nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09  # noqa: F401  (registers the tasks)
