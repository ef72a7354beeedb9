"""How well a transcript was understood, and whether its content can be assessed.

Every recogniser reports a quality figure between 0 and 1 with each transcript:

* Whisper: the speech-time-weighted mean over its segments of ``exp(avg_logprob)`` (the
  geometric mean of the token probabilities the decoder gave its own output), where a
  segment the decoder itself judged not to be speech (``no_speech_prob`` above 0.6 with
  a low log-probability) counts as 0.
* vosk: the mean word confidence.

Below :data:`RELIABLE_QUALITY` the words are too uncertain to judge what was said: the
content metrics (keywords, STAR, structure) of that answer are reported as not assessed,
with :data:`NOT_ASSESSED_REASON`, and never as 0. An answer in which no speech could be
heard at all (silence, or only noise) is not assessed either, with :data:`NO_SPEECH_REASON`:
a microphone left muted is not a candidate with nothing to say. A transcript without a
quality figure (an older stored analysis) is taken as assessable, as it was before the
figure existed.
"""

from __future__ import annotations

from inference.findings import Transcript

RELIABLE_QUALITY = 0.45
"""Lowest recognition quality whose content is assessed (see docs/analysis.md)."""
NOT_ASSESSED_REASON = "speech could not be recognised reliably — listen to the recording"
NO_SPEECH_REASON = "no speech could be heard in the recording — listen to it"


def unreliable_reason(transcript: Transcript) -> str | None:
    """Why the content of ``transcript`` cannot be assessed, or None when it can."""
    if transcript.silent:
        return NO_SPEECH_REASON
    if transcript.quality is None:
        return None
    if transcript.quality < RELIABLE_QUALITY:
        return NOT_ASSESSED_REASON
    return None
