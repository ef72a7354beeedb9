"""Which interview languages this box can analyse: a job's languages, gated on its speech models.

A job package offers languages (``job.languages``); the box can analyse those that an
installed speech model serves (:meth:`ModelStore.speech_languages`, matched on the primary
subtag, so an installed ``zh`` serves ``zh-CN``). The others are *disabled* on this box: a
package offering some of them is imported with them disabled and says so; one offering
none the box can analyse is refused; the touchscreen does not offer them and check-in
refuses them.

Nothing here is stored. It is read from the model store's index each time it is asked, so
a speech model installed later makes its language available at once, without importing
the job again (and one removed disables it).

The gate is open, every language usable, when analysis is off (``[analysis] enabled =
false``: nothing is analysed, so nothing can fail) and while the model store is empty: a
box with no model installed at all is not set up yet (``kiosk serve`` refuses to start
with analysis on until ``kiosk models install`` has run), and jobs may be imported before
the models; the import says that nothing can be analysed yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from device.config import KioskConfig
from device.errors import KioskError, ModelStoreUnreadable, PackageRejectedError
from device.jobs.models import LANGUAGES
from inference.errors import ModelError
from inference.models.store import ModelStore

log = logging.getLogger(__name__)

#: ``off``: analysis is off; ``unset``: no model installed yet; ``on``: languages are gated.
GateState = Literal["off", "unset", "on"]

#: How staff enable a language: the default models, or a speech model of their own.
FIX = ("run `kiosk models install` (or `kiosk models add PATH --language LANG` for a speech"
       " model of your own)")


class LanguageUnavailableError(KioskError):
    """An interview language this box cannot analyse (no speech model serves it)."""

    status = 409
    code = "language-unavailable"

    def __init__(self, message: str, available: Sequence[str]) -> None:
        super().__init__(message)
        #: The languages of the interview the box can analyse (empty: none).
        self.available = list(available)


def serves(installed: Iterable[str], language: str) -> bool:
    """Whether one of the ``installed`` speech languages serves ``language`` (the model
    store's rule: the same primary subtag, case-insensitively; 'zh' serves 'zh-CN')."""
    wanted = language.lower().split("-")[0]
    return any(lang.lower().split("-")[0] == wanted for lang in installed)


def names(languages: Sequence[str]) -> str:
    return ", ".join(languages) if languages else "none"


@dataclass(frozen=True)
class Coverage:
    """A job's offered languages split into those this box can analyse and the disabled."""

    state: GateState
    offered: tuple[str, ...]
    available: tuple[str, ...]
    disabled: tuple[str, ...]
    #: Installed speech languages (empty unless ``state`` is ``on``).
    installed: tuple[str, ...] = ()

    def notice(self) -> str | None:
        """What staff should be told about the job's languages (None: nothing to say)."""
        if self.state == "unset":
            return ("no model is installed on this box yet, so no interview language can be"
                    f" analysed ({names(self.offered)} offered); run `kiosk models install`"
                    " before candidates check in")
        if not self.disabled:
            return None
        them = "it" if len(self.disabled) == 1 else "them"
        return (f"language{'s' if len(self.disabled) > 1 else ''} {names(self.disabled)}"
                f" disabled on this box: no speech model is installed for {them} (installed"
                f" speech languages: {names(self.installed)}); candidates can choose"
                f" {names(self.available)}. To enable {them}, {FIX}; the job need not be"
                " imported again")

    def require_importable(self, job_id: str, source: str) -> None:
        """PackageRejectedError when the box can analyse none of the offered languages."""
        if self.offered and not self.available:
            raise PackageRejectedError(
                f"{source}: job {job_id} offers {names(self.offered)}, none of which this box can"
                f" analyse (installed speech languages: {names(self.installed)}); {FIX},"
                " then import the package again")


@dataclass(frozen=True)
class Installed:
    """One reading of the model store: the gate's state and the installed speech languages."""

    state: GateState
    languages: tuple[str, ...] = ()

    def coverage(self, offered: Sequence[str]) -> Coverage:
        if self.state != "on":
            return Coverage(self.state, tuple(offered), tuple(offered), ())
        available = tuple(lang for lang in offered if serves(self.languages, lang))
        disabled = tuple(lang for lang in offered if lang not in available)
        return Coverage(self.state, tuple(offered), available, disabled, self.languages)


class LanguageGate:
    """The installed speech languages of one model store, read when asked."""

    def __init__(self, models_dir: Path | None) -> None:
        #: None: the gate is off (analysis is off on this box).
        self.models_dir = models_dir

    @classmethod
    def for_config(cls, config: KioskConfig) -> LanguageGate:
        return cls(config.models_dir if config.analysis.enabled else None)

    @classmethod
    def off(cls) -> LanguageGate:
        return cls(None)

    @property
    def gating(self) -> bool:
        """False when analysis is off: every language may be used."""
        return self.models_dir is not None

    def read(self) -> Installed:
        """The model store as it is now (ModelStoreUnreadable when its index cannot be read)."""
        if self.models_dir is None:
            return Installed("off")
        store = ModelStore(self.models_dir)
        try:
            if not store.installed():
                return Installed("unset")
            return Installed("on", tuple(sorted(store.speech_languages())))
        except ModelError as exc:
            raise ModelStoreUnreadable(
                f"{exc}; no interview language can be checked until it is repaired (move it"
                " aside and run `kiosk models install`)") from None

    def coverage(self, offered: Sequence[str]) -> Coverage:
        return self.read().coverage(offered)

    def languages(self) -> tuple[str, ...]:
        """The interview languages (of those the kiosk knows) the box can analyse now."""
        return self.coverage(LANGUAGES).available

    def require_language(self, language: str, offered: Sequence[str], session_id: str = ""
                         ) -> None:
        """LanguageUnavailableError (logged) unless ``language`` is one of ``offered`` (the
        job's languages) that the box can analyse; nothing is refused while the gate is open.
        """
        found = self.coverage(offered)
        if found.state != "on" or language in found.available:
            return
        where = (f"this job offers {names(found.offered)}; the box can analyse"
                 f" {names(found.installed)}")
        if not found.available:
            error = LanguageUnavailableError(
                f"this interview cannot be held on this box: none of its languages can be"
                f" analysed ({where}); please ask staff", [])
        else:
            error = LanguageUnavailableError(
                f"the interview cannot be held in {language} on this box ({where}); choose"
                f" {names(found.available)}", found.available)
        log.warning("check-in of session %s refused: %s", session_id or "?", error)
        raise error
