"""Rules across a whole job package: ids, languages, references, coverage.

Each model in :mod:`device.jobs.models` checks its own fields; these checks need the
whole document and run from the validator of
:class:`device.jobs.document.JobPackage`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from device.jobs.models import (
    DEMONSTRATION_METRICS,
    SPOKEN_METRICS,
    STAR_ELEMENTS,
    Language,
    LocalizedText,
    Phrases,
    SpokenQuestion,
    duplicates,
)

if TYPE_CHECKING:  # the document runs these rules; they only read it
    from device.jobs.document import JobPackage


def localized_texts(package: JobPackage) -> Iterator[tuple[str, LocalizedText]]:
    """Yield ``(path, text)`` for every localized text in the package."""
    yield "job.title", package.job.title
    for i, competency in enumerate(package.rubric.competencies):
        yield f"rubric.competencies[{i}].name", competency.name
        yield f"rubric.competencies[{i}].description", competency.description
    for i, item in enumerate(package.items):
        if isinstance(item, SpokenQuestion):
            yield f"items[{i}].prompt", item.prompt
            for element, text in item.follow_ups.items():
                yield f"items[{i}].follow_ups.{element}", text
        else:
            yield f"items[{i}].title", item.title
            yield f"items[{i}].instructions", item.instructions
            for j, check in enumerate(item.checklist):
                yield f"items[{i}].checklist[{j}].label", check.label
    consent = package.consent
    yield "consent.text", consent.text
    yield "consent.shared_with_central", consent.shared_with_central
    yield "consent.expression_analysis", consent.expression_analysis
    yield "consent.deletion_contact", consent.deletion_contact


def item_id_problems(package: JobPackage) -> list[str]:
    return [
        f"items[{i}].id: duplicate item id '{item_id}' (first used by items[{first}])"
        for i, item_id, first in duplicates(item.id for item in package.items)
    ]


def language_problems(package: JobPackage) -> list[str]:
    offered = package.job.languages
    known = ", ".join(offered)

    def missing(path: str, mapping: Mapping[Language, object]) -> list[str]:
        return [
            f"{path}: missing language '{lang}' (job.languages: {known})"
            for lang in offered
            if lang not in mapping
        ]

    problems: list[str] = []
    for path, text in localized_texts(package):
        problems += missing(path, text)
    for i, item in enumerate(package.items):
        if not isinstance(item, SpokenQuestion):
            continue
        for j, evidence in enumerate(item.evidence):
            path = f"items[{i}].evidence[{j}].keywords"
            problems += missing(path, evidence.keywords)
            problems += [
                f"{path}.{lang}: no keywords"
                for lang in offered
                if evidence.keywords.get(lang) == []
            ]
        for element in STAR_ELEMENTS:
            cues: Phrases = getattr(item.star_cues, element)
            if any(cues.get(lang) for lang in offered):
                path = f"items[{i}].star_cues.{element}"
                problems += [
                    f"{path}: no cues for language '{lang}' although other languages have cues"
                    for lang in offered
                    if not cues.get(lang)
                ]
    return problems


def reference_problems(package: JobPackage) -> list[str]:
    known_ids = [competency.id for competency in package.rubric.competencies]
    known = ", ".join(known_ids)
    references: list[tuple[str, str]] = []
    for i, item in enumerate(package.items):
        if isinstance(item, SpokenQuestion):
            references += [
                (f"items[{i}].evidence[{j}].competency", evidence.competency)
                for j, evidence in enumerate(item.evidence)
            ]
        else:
            references += [
                (f"items[{i}].competencies[{j}]", cid) for j, cid in enumerate(item.competencies)
            ]
            references += [
                (f"items[{i}].checklist[{j}].competency", check.competency)
                for j, check in enumerate(item.checklist)
            ]
    return [
        f"{path}: unknown competency '{cid}' (known: {known})"
        for path, cid in references
        if cid not in known_ids
    ]


def coverage_problems(package: JobPackage) -> list[str]:
    """Every competency must be fed by an item, and every metric it lists must have a source."""
    spoken: set[str] = set()
    demonstrated: set[str] = set()
    checked: set[str] = set()
    for item in package.items:
        if isinstance(item, SpokenQuestion):
            spoken.update(evidence.competency for evidence in item.evidence)
        else:
            demonstrated.update(item.competencies)
            checked.update(check.competency for check in item.checklist)
    problems: list[str] = []
    for i, competency in enumerate(package.rubric.competencies):
        path = f"rubric.competencies[{i}]"
        cid = competency.id
        if cid not in spoken | demonstrated | checked:
            problems.append(
                f"{path}: competency '{cid}' is not fed by any item (no question evidence,"
                " demonstration or checklist item names it), so it could never be scored"
            )
            continue
        for j, metric in enumerate(competency.metrics):
            if metric in SPOKEN_METRICS and cid not in spoken:
                source = "question evidence"
            elif metric == "checklist" and cid not in checked:
                source = "checklist item"
            elif metric in DEMONSTRATION_METRICS and cid not in demonstrated:
                source = "demonstration"
            else:
                continue
            problems.append(
                f"{path}.metrics[{j}]: metric '{metric}' needs a {source} for competency"
                f" '{cid}', but none names it"
            )
    return problems
