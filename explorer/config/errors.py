"""The error every configuration rule raises: a value a person gave, refused in one sentence, with the option it is
about carried apart from the words. The command line names the option as its flag (``--batch-size``), the app as
its field's label ("Batch size") and marks that field; neither reads the option out of the sentence."""

from __future__ import annotations

from typing import Callable


class ConfigError(ValueError):
    """``option`` is the option's name in the core's words ("batch-size", "depths"); ``says`` is the rest of the
    sentence ("0 must be a whole number of at least 1"); ``others`` are options in conflict with it, which ``says``
    may name as ``{device}`` so that each caller names them its own way too."""

    def __init__(self, option: str, says: str, *, others: tuple[str, ...] = ()) -> None:
        self.option, self.says, self.others = option, says, tuple(others)
        super().__init__(self.worded(lambda name: name))

    @property
    def options(self) -> tuple[str, ...]:
        """Every option the sentence is about: the one it names first, then those in conflict with it."""
        return (self.option, *self.others)

    def worded(self, name: Callable[[str], str]) -> str:
        """The sentence with the options named as the caller names them: ``name("batch-size")`` → "--batch-size"."""
        says = self.says
        for other in self.others:
            says = says.replace(f"{{{other}}}", name(other))
        return f"{name(self.option)} {says}"
