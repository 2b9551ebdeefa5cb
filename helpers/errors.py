"""One exception type for everything a learner can get wrong.

Notebooks show a :class:`CourseError` as a single readable message (what happened, what to do,
and the last lines of the relevant log) instead of a traceback from deep inside the docker SDK.
"""

from __future__ import annotations


class CourseError(RuntimeError):
    """A failure explained in the course's own words.

    ``hint`` says what to do next; ``log_tail`` carries the few log lines that show why.
    """

    def __init__(self, message: str, *, hint: str = "", log_tail: str = "") -> None:
        self.message = message
        self.hint = hint
        self.log_tail = log_tail.rstrip()
        super().__init__(self.render())

    def render(self) -> str:
        parts = [self.message]
        if self.hint:
            parts.append(f"What to do: {self.hint}")
        if self.log_tail:
            parts.append("Last log lines:\n" + self.log_tail)
        return "\n".join(parts)

    def _render_traceback_(self) -> list[str]:
        """IPython hook: show our message, not a 40-frame traceback."""
        return [f"{type(self).__name__}: {line}" if i == 0 else line
                for i, line in enumerate(self.render().splitlines())]


class EngineUnavailable(CourseError):
    """No Docker Engine answered (not installed, not started, or DOCKER_HOST points nowhere)."""


class BuildFailed(CourseError):
    """A Dockerfile step failed; carries the step and its command."""

    def __init__(self, message: str, *, step: str = "", command: str = "", hint: str = "",
                 log_tail: str = "") -> None:
        self.step = step
        self.command = command
        super().__init__(message, hint=hint, log_tail=log_tail)


class ImageUnavailable(CourseError):
    """An image could not be found, pulled, loaded or built."""


class PortInUse(CourseError):
    """A host port the learner asked for is already taken."""


class NotReady(CourseError):
    """A container or service did not become ready in time."""


class ComposeFileInvalid(CourseError):
    """A compose file Compose cannot read: bad YAML, or keys the Compose format does not know."""


class ReplayMissing(CourseError):
    """Replay mode found no (or an outdated) recording for a helper call."""


class RegistryError(CourseError):
    """A registry refused or failed a request."""


class LoginFailed(RegistryError):
    """``docker login`` was refused: wrong user name or password, or no credentials at all."""


class PushFailed(RegistryError):
    """``docker push`` was refused or broke off."""


class PullFailed(RegistryError):
    """``docker pull`` was refused or broke off."""


def first_line(text: str) -> str:
    """The first line of a message (at most 300 characters), or "no reason given"."""
    return text.strip().splitlines()[0][:300] if text.strip() else "no reason given"


def tail(text: str, lines: int = 15) -> str:
    """The last ``lines`` non-empty lines of ``text``: enough to see why, short enough to read."""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])
