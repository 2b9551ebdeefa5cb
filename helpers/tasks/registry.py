"""The "Your turn" tasks: what each asks, the names and ports it fixes, the check behind it.

Pure: a task is plain data plus a check function; the checks themselves live in
:mod:`helpers.tasks.checks` and read the engine through :mod:`helpers.engine.state`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """What a check found: passed or not yet, one specific sentence, and a hint."""

    task: str
    passed: bool
    message: str
    hint: str = ""

    def text(self) -> str:
        """The line a learner reads: ``✔ done: …`` or ``not yet: … Hint: …``."""
        if self.passed:
            return f"{self.task} done: {self.message}"
        hint = f" Hint: {self.hint}" if self.hint else ""
        return f"{self.task} not yet: {self.message}{hint}"


Check = Callable[[Mapping[str, str]], Verdict]


@dataclass(frozen=True)
class Task:
    """One task: ``id`` ("06.keep-a-file"), its notebook, goal, and the names it must use.

    ``names`` maps a role ("volume", "container", "port" …) to the name or port the learner
    must use; tests pass other names to :func:`helpers.tasks.check` to stay apart. ``objects``
    lists ``(kind, role)`` of what the learner creates, for :func:`remove_my_objects` (kind:
    container, network, volume, image, or project: a Compose project, removed with
    ``docker compose -p NAME down -v``). ``solution`` is one way to do it: shell command lines
    as a learner types them in a terminal (``{role}`` stands for a name, ``<shell-image>``,
    ``<python-image>``, ``<database-image>`` for the course's images, ``{notebooks}`` for the
    notebooks folder); the test harness runs them, in order, in a scratch working folder.
    """

    id: str
    notebook: str
    goal: str
    names: Mapping[str, str]
    check: Check
    objects: tuple[tuple[str, str], ...] = field(default=())
    solution: tuple[str, ...] = field(default=())

    def verdict(self, passed: bool, message: str, hint: str = "") -> Verdict:
        """A :class:`Verdict` of this task."""
        return Verdict(task=self.id, passed=passed, message=message, hint=hint)


TASKS: dict[str, Task] = {}


def register(task_id: str, *, goal: str, names: Mapping[str, str],
             objects: tuple[tuple[str, str], ...] = (),
             solution: tuple[str, ...] = ()) -> Callable[[Check], Check]:
    """Register the decorated function as the check of a new task ``task_id`` ("NN.slug")."""
    notebook, _, slug = task_id.partition(".")
    if not (len(notebook) == 2 and notebook.isdigit() and slug):
        raise ValueError(f"a task id is NN.slug, got {task_id!r}")

    def decorate(func: Check) -> Check:
        if task_id in TASKS:
            raise ValueError(f"task {task_id!r} registered twice")
        TASKS[task_id] = Task(id=task_id, notebook=notebook, goal=goal, names=dict(names),
                              check=func, objects=tuple(objects), solution=tuple(solution))
        return func

    return decorate
