"""Errors of the analysis package. Callers translate them at their edges (CLI, API)."""

from __future__ import annotations


class InferenceError(Exception):
    """Base of the analysis errors: a message a technician can act on."""


class ModelError(InferenceError):
    """A model cannot be installed or used."""


class ModelNotInstalled(ModelError):
    """No installed model of the kind (and language) asked for."""


class ModelVerificationError(ModelError):
    """An installed model's files differ from what was installed; it is never loaded."""

    def __init__(self, model: str, problems: list[str]) -> None:
        self.model = model
        self.problems = problems
        super().__init__(
            f"model '{model}' failed verification and will not be loaded: "
            + "; ".join(problems)
            + ". Reinstall it with `kiosk models install` (or `kiosk models add` for a local one)."
        )


class UnknownLanguage(InferenceError):
    """Speech in a language no installed model recognises."""

    def __init__(self, language: str, installed: list[str]) -> None:
        self.language = language
        self.installed = installed
        have = ", ".join(sorted(installed)) or "none"
        super().__init__(
            f"no speech model for language '{language}' (installed: {have}); add one with"
            f" `kiosk models add PATH --language {language}`"
        )
