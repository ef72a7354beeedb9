"""Job package format: the shipped example, loading, error reporting, digest and schema."""

import copy
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from device.jobs import document as package_document
from device.jobs import models as package_models
from device.jobs.consent_rules import stated_period
from device.jobs.package import (
    LANGUAGES,
    MAX_PACKAGE_BYTES,
    METRICS,
    SCHEMA_ID,
    DemonstrationTask,
    JobPackage,
    Language,
    LocalizedText,
    Metric,
    PackageError,
    SpokenQuestion,
    example_package_path,
    load_package,
    localized_texts,
    main,
    package_digest,
    package_json_schema,
    parse_package,
    write_schema,
)

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "docs" / "schemas" / "job-package.schema.json"
DOC_FILE = ROOT / "docs" / "job-package.md"
ALL_LANGUAGES: tuple[Language, ...] = ("zh-CN", "en", "ko")
REGENERATE = "python -m device.jobs.package --write-schema docs/schemas/job-package.schema.json"

Document = dict[str, Any]
Mutation = Callable[[Document], object]


@pytest.fixture
def example() -> Document:
    """The shipped example as plain JSON values, to be altered by a test."""
    document: Document = json.loads(example_package_path().read_text(encoding="utf-8"))
    return document


def write_json(tmp_path: Path, document: object, name: str = "package.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def load_error(path: Path) -> PackageError:
    with pytest.raises(PackageError) as caught:
        load_package(path)
    return caught.value


def walk_localized(node: object, path: str = "") -> Iterator[tuple[str, dict[str, str]]]:
    """Find every LocalizedText in a model tree from the field annotations (independently of
    ``localized_texts``)."""
    if isinstance(node, BaseModel):
        for name, field in type(node).model_fields.items():
            value = getattr(node, name)
            child = f"{path}.{name}" if path else name
            if field.annotation == LocalizedText:
                yield child, value
            elif isinstance(value, dict) and get_args(field.annotation)[1:] == (LocalizedText,):
                for key, text in value.items():
                    yield f"{child}.{key}", text
            else:
                yield from walk_localized(value, child)
    elif isinstance(node, list):
        for index, element in enumerate(node):
            yield from walk_localized(element, f"{path}[{index}]")


# --- the shipped example -------------------------------------------------------------------


def test_example_loads_with_the_described_job_and_rubric() -> None:
    package = load_package(example_package_path())

    assert package.format == "kiosk-job-package/1"
    assert package.package_version == 1
    assert package.job.id == "assembly-line-operator"
    assert package.job.cost_centre == "CC-4100-ASSEMBLY"
    assert package.job.language == "zh-CN"
    assert package.job.languages == ["zh-CN", "en", "ko"]
    competencies = package.rubric.competencies
    assert [c.id for c in competencies] == [
        "communication",
        "problem_solving",
        "operation_proficiency",
        "attention_to_detail",
    ]
    assert sum(c.weight for c in competencies) == 100
    assert package.competency_ids == {c.id for c in competencies}
    assert package.consent.version == "2026-02"
    assert package.scoring.use_expression_in_score is False


def test_example_items_are_two_questions_and_one_demonstration() -> None:
    package = load_package(example_package_path())
    questions = [item for item in package.items if isinstance(item, SpokenQuestion)]
    demos = [item for item in package.items if isinstance(item, DemonstrationTask)]
    assert [item.kind for item in package.items] == ["question", "question", "demonstration"]

    quality, shift = questions
    assert (quality.think_time_s, quality.answer_time_s, quality.retakes) == (30, 120, 1)
    assert {e.competency for e in quality.evidence} == {
        "problem_solving",
        "attention_to_detail",
        "communication",
    }
    assert (shift.think_time_s, shift.answer_time_s, shift.retakes) == (20, 90, 1)
    assert "result" in quality.follow_ups
    assert "result" in shift.follow_ups
    assert "质量" in quality.evidence[1].keywords["zh-CN"]
    assert "그때" in quality.star_cues.situation["ko"]

    (demo,) = demos
    assert (demo.time_limit_s, demo.preparation_s) == (600, 60)
    assert demo.time_band is not None
    band = demo.time_band
    assert (band.credible_min_s, band.expected_min_s, band.expected_max_s) == (120, 240, 480)
    area = demo.work_area
    assert area is not None
    assert (area.x, area.y, area.width, area.height) == (0.1, 0.45, 0.8, 0.55)
    assert set(demo.competencies) == {"operation_proficiency", "attention_to_detail"}
    assert len(demo.checklist) == 5
    assert {check.competency for check in demo.checklist} == set(demo.competencies)
    assert package.item(demo.id) is demo


def test_example_localized_texts_have_every_language_in_its_own_script() -> None:
    package = load_package(example_package_path())
    found = dict(walk_localized(package))
    assert len(found) == 24
    scripts = {"zh-CN": r"[\u4e00-\u9fff]", "ko": r"[\uac00-\ud7a3]", "en": r"[A-Za-z]"}
    for path, text in found.items():
        assert set(text) == set(LANGUAGES), path
        for language, pattern in scripts.items():
            assert re.search(pattern, text[language]), f"{path}.{language}: {text[language]!r}"
        assert not re.search(r"[\u4e00-\u9fff\uac00-\ud7a3]", text["en"]), f"{path}.en"
        assert not re.search(r"[\uac00-\ud7a3]", text["zh-CN"]), f"{path}.zh-CN"


def test_example_vocabulary_covers_every_language() -> None:
    package = load_package(example_package_path())
    for item in package.items:
        if isinstance(item, SpokenQuestion):
            for evidence in item.evidence:
                assert all(evidence.keywords.get(lang) for lang in ALL_LANGUAGES), evidence
                assert all(evidence.synonyms.get(lang) for lang in ALL_LANGUAGES), evidence
            for element in ("situation", "task", "action", "result"):
                cues = getattr(item.star_cues, element)
                assert all(cues.get(lang) for lang in LANGUAGES), (item.id, element)


def test_example_consent_leaves_the_retention_period_to_retention_days() -> None:
    consent = load_package(example_package_path()).consent
    for texts in (consent.text, consent.shared_with_central, consent.expression_analysis,
                  consent.deletion_contact):
        for language in ALL_LANGUAGES:
            assert stated_period(texts[language]) is None, language
            assert str(consent.retention_days) not in texts[language], language


@pytest.mark.parametrize(("field", "language", "sentence", "period"), [
    ("text", "en", "Recordings are kept for 90 days, then deleted.", "90 days"),
    ("text", "zh-CN", "录像保存六个月后自动删除。", "六个月"),
    ("shared_with_central", "ko", "녹화 자료는 3개월 동안 보관합니다.", "3개월"),
    ("deletion_contact", "en", "Your data is erased after two years.", "two years"),
    ("expression_analysis", "zh-CN", "分析结果保留1年。", "1年"),
])
def test_a_consent_text_stating_its_own_retention_period_is_refused(
    tmp_path: Path, example: Document, field: str, language: str, sentence: str, period: str,
) -> None:
    example["consent"][field][language] += " " + sentence
    error = load_error(write_json(tmp_path, example))
    assert error.problems == [
        f"consent.{field}.{language}: states its own retention period ('{period}'); the"
        f" period comes from consent.retention_days ({example['consent']['retention_days']}"
        " days), which the touchscreen and the receipt show beside this text and the box"
        " keeps: remove the period from the text"]


def test_a_package_installed_before_the_rule_still_reads_back(example: Document) -> None:
    """The rule runs on import, not when a stored package is read for its sessions."""
    example["consent"]["text"]["en"] += " Recordings are kept for 180 days."
    package = package_document.JobPackage.model_validate(example, strict=True)
    assert stated_period(package.consent.text["en"]) == "180 days"


def test_other_periods_in_consent_texts_are_not_retention_periods() -> None:
    for text in ("We will reply within 15 days.", "我们会在 15 个工作日内答复。",
                 "영업일 기준 15일 이내에 답변드립니다.", "The interview takes 20 minutes.",
                 "Recordings are deleted when the retention period ends."):
        assert stated_period(text) is None, text


def test_localized_texts_lists_every_localized_field() -> None:
    package = load_package(example_package_path())
    assert [path for path, _ in localized_texts(package)] == [
        path for path, _ in walk_localized(package)
    ]


def test_example_matches_the_json_schema() -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    validator = jsonschema_rs.validator_for(package_json_schema())
    document = json.loads(example_package_path().read_text(encoding="utf-8"))
    assert [error.message for error in validator.iter_errors(document)] == []
    document["job"]["salary"] = 1
    assert not validator.is_valid(document)


# --- model API -------------------------------------------------------------------------------


def test_item_lookup_and_competency_lookup() -> None:
    package = load_package(example_package_path())
    assert package.item("shift-teamwork-handover").kind == "question"
    assert package.competency("communication").weight == 20
    with pytest.raises(KeyError):
        package.item("no-such-item")
    with pytest.raises(KeyError):
        package.competency("safety")


def test_language_and_metric_constants_match_the_types() -> None:
    assert get_args(Language) == LANGUAGES == ALL_LANGUAGES
    assert get_args(Metric) == METRICS
    assert len(METRICS) == 13
    assert set(METRICS) >= package_models.SPOKEN_METRICS | package_models.DEMONSTRATION_METRICS


def test_models_are_frozen() -> None:
    package = load_package(example_package_path())
    with pytest.raises(ValueError, match="frozen"):
        package.job.id = "other"  # type: ignore[misc]


def test_expression_metric_is_allowed_whether_or_not_it_is_scored(example: Document) -> None:
    assert "expression" in example["rubric"]["competencies"][0]["metrics"]
    for flag in (False, True):
        example["scoring"]["use_expression_in_score"] = flag
        package = parse_package(json.dumps(example))
        assert package.scoring.use_expression_in_score is flag


def test_smaller_language_set_needs_only_the_offered_languages(example: Document) -> None:
    example["job"].update(language="en", languages=["en"])
    example["items"][0]["prompt"] = {"en": example["items"][0]["prompt"]["en"]}
    example["items"][0]["star_cues"]["task"] = {}
    package = parse_package(json.dumps(example))
    assert package.job.languages == ["en"]


# --- digest ------------------------------------------------------------------------------------


def _reverse_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _reverse_keys(node[key]) for key in reversed(list(node))}
    if isinstance(node, list):
        return [_reverse_keys(element) for element in node]
    return node


def test_digest_ignores_whitespace_and_key_order(example: Document) -> None:
    original = example_package_path().read_bytes()
    compact = json.dumps(example, separators=(",", ":"), ensure_ascii=False).encode()
    reordered = json.dumps(_reverse_keys(example), indent=7, ensure_ascii=True).encode()
    digest = package_digest(original)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert package_digest(compact) == digest
    assert package_digest(reordered) == digest
    assert package_digest(original.decode()) == digest
    canonical = json.dumps(example, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert digest == hashlib.sha256(canonical.encode()).hexdigest()


def test_digest_changes_when_content_changes(example: Document) -> None:
    before = package_digest(json.dumps(example).encode())
    example["items"][0]["retakes"] = 2
    assert package_digest(json.dumps(example).encode()) != before


def test_digest_rejects_invalid_json() -> None:
    with pytest.raises(PackageError, match="line 1, column"):
        package_digest(b'{"format": ')


# --- rejected packages -------------------------------------------------------------------------


def test_not_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "format": "kiosk-job-package/1",\n  "job": {,\n}\n', encoding="utf-8")
    error = load_error(path)
    assert str(error).startswith(f"{path}: invalid JSON at line 3, column 11")
    assert "\n" not in str(error)


def test_wrong_format_is_rejected(tmp_path: Path, example: Document) -> None:
    example["format"] = "kiosk-job-package/2"
    error = load_error(write_json(tmp_path, example))
    assert 'format: unsupported format "kiosk-job-package/2"' in str(error)


def test_unknown_key_is_named(tmp_path: Path, example: Document) -> None:
    example["job"]["salary"] = 5200
    example["items"][2]["checklist"][1]["colour"] = "red"
    error = load_error(write_json(tmp_path, example))
    assert error.problems == [
        "job.salary: unknown field (not part of kiosk-job-package/1)",
        "items[2].checklist[1].colour: unknown field (not part of kiosk-job-package/1)",
    ]
    assert str(error) == f"{tmp_path / 'package.json'}: {error.problems[0]} (and 1 more problem)"


def test_missing_language_names_path_and_language(tmp_path: Path, example: Document) -> None:
    del example["items"][0]["prompt"]["ko"]
    error = load_error(write_json(tmp_path, example))
    assert error.problems == [
        "items[0].prompt: missing language 'ko' (job.languages: zh-CN, en, ko)"
    ]


def test_every_localized_text_is_checked(example: Document) -> None:
    package = parse_package(json.dumps(example))
    paths = [path for path, _ in walk_localized(package)]
    for path in paths:
        broken = copy.deepcopy(example)
        node: Any = broken
        for part in re.findall(r"[^.\[\]]+", path):
            node = node[int(part)] if part.isdigit() else node[part]
        del node["en"]
        with pytest.raises(PackageError) as caught:
            parse_package(json.dumps(broken))
        assert caught.value.problems == [
            f"{path}: missing language 'en' (job.languages: zh-CN, en, ko)"
        ]


def test_unknown_competency_is_named_with_the_known_ones(tmp_path: Path, example: Document) -> None:
    example["items"][1]["evidence"][0]["competency"] = "safety"
    error = load_error(write_json(tmp_path, example))
    assert error.problems[0] == (
        "items[1].evidence[0].competency: unknown competency 'safety' (known: communication,"
        " problem_solving, operation_proficiency, attention_to_detail)"
    )


def test_duplicate_item_ids_are_rejected(tmp_path: Path, example: Document) -> None:
    example["items"][1]["id"] = example["items"][0]["id"]
    error = load_error(write_json(tmp_path, example))
    assert error.problems == [
        "items[1].id: duplicate item id 'quality-issue-found' (first used by items[0])"
    ]


def test_competency_fed_by_nothing_is_rejected(tmp_path: Path, example: Document) -> None:
    safety = copy.deepcopy(example["rubric"]["competencies"][0])
    safety.update(id="safety", metrics=["facing_screen"])
    example["rubric"]["competencies"].append(safety)
    error = load_error(write_json(tmp_path, example))
    assert len(error.problems) == 1
    assert error.problems[0].startswith(
        "rubric.competencies[4]: competency 'safety' is not fed by any item"
    )


def test_oversized_input_is_rejected(tmp_path: Path) -> None:
    text = example_package_path().read_text(encoding="utf-8")
    padding = MAX_PACKAGE_BYTES - len(text.encode())
    exact = tmp_path / "exact.json"
    exact.write_text(text + " " * padding, encoding="utf-8")
    assert load_package(exact).job.id == "assembly-line-operator"

    over = tmp_path / "over.json"
    over.write_text(text + " " * (padding + 1), encoding="utf-8")
    error = load_error(over)
    assert str(error).startswith(f"{over}: package is ")
    assert f"limit is {MAX_PACKAGE_BYTES} bytes" in str(error)
    with pytest.raises(PackageError, match="limit"):
        parse_package("[" + "0," * MAX_PACKAGE_BYTES + "0]")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "job.json"
    error = load_error(path)
    assert str(error) == f"{path}: cannot read package file: No such file or directory"


def test_empty_items_list_is_rejected(tmp_path: Path, example: Document) -> None:
    example["items"] = []
    error = load_error(write_json(tmp_path, example))
    assert error.problems == ["items: must not be empty"]


def _set(path: str, value: object) -> Mutation:
    """Mutation setting the value at a dotted path such as ``items.0.retakes``."""

    def mutate(document: Document) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _duplicate_competency(document: Document) -> None:
    document["rubric"]["competencies"].append(document["rubric"]["competencies"][0])


def _duplicate_checklist_id(document: Document) -> None:
    checklist = document["items"][2]["checklist"]
    checklist[3]["id"] = checklist[0]["id"]


RULES: list[tuple[str, Mutation, str]] = [
    ("default-language", _set("job.language", "fr"), "job.language: Input should be"),
    (
        "default-not-offered",
        _set("job.languages", ["en", "ko"]),
        "job.language: default language 'zh-CN' is not in languages (en, ko)",
    ),
    ("dup-language", _set("job.languages", ["zh-CN", "en", "en"]), "job.languages[2]: duplicate"),
    ("bad-id", _set("job.id", "-assembly"), "job.id: String should match pattern"),
    ("long-id", _set("job.id", "a" * 65), "job.id: String should match pattern"),
    ("blank-text", _set("job.title.en", "   "), "job.title.en: String should match pattern"),
    ("weight", _set("rubric.competencies.0.weight", 0), "rubric.competencies[0].weight: Input"),
    (
        "weight-max",
        _set("rubric.competencies.0.weight", 101),
        "rubric.competencies[0].weight: Input",
    ),
    (
        "metric",
        _set("rubric.competencies.0.metrics", ["charm"]),
        "rubric.competencies[0].metrics[0]: Input should be 'keyword_coverage'",
    ),
    (
        "dup-metric",
        _set("rubric.competencies.0.metrics", ["structure", "structure"]),
        "rubric.competencies[0].metrics[1]: duplicate metric 'structure'",
    ),
    (
        "expression-only",
        _set("rubric.competencies.0.metrics", ["expression"]),
        "rubric.competencies[0].metrics: 'expression' cannot be the only metric",
    ),
    (
        "metric-without-source",
        _set("rubric.competencies.1.metrics", ["keyword_coverage", "checklist"]),
        "rubric.competencies[1].metrics[1]: metric 'checklist' needs a checklist item",
    ),
    (
        "spoken-metric-without-question",
        _set("rubric.competencies.2.metrics", ["checklist", "filler_rate"]),
        "rubric.competencies[2].metrics[1]: metric 'filler_rate' needs a question evidence",
    ),
    (
        "dup-competency",
        _duplicate_competency,
        "rubric.competencies[4].id: duplicate competency id 'communication'",
    ),
    ("strict-int", _set("items.0.think_time_s", "30"), "items[0].think_time_s: Input should be"),
    ("think-range", _set("items.0.think_time_s", 601), "items[0].think_time_s: Input should be"),
    ("retakes", _set("items.0.retakes", 4), "items[0].retakes: Input should be less than"),
    ("kind", _set("items.1.kind", "essay"), "items[1]: Input tag 'essay'"),
    (
        "dup-evidence",
        _set("items.1.evidence.1.competency", "communication"),
        "items[1].evidence[1].competency: competency 'communication' already has evidence",
    ),
    (
        "keywords-language",
        lambda d: d["items"][0]["evidence"][2]["keywords"].pop("en"),
        "items[0].evidence[2].keywords: missing language 'en'",
    ),
    (
        "keywords-empty",
        _set("items.0.evidence.2.keywords.ko", []),
        "items[0].evidence[2].keywords.ko: no keywords",
    ),
    (
        "star-cues-language",
        lambda d: d["items"][1]["star_cues"]["action"].pop("zh-CN"),
        "items[1].star_cues.action: no cues for language 'zh-CN'",
    ),
    ("follow-up-key", _set("items.0.follow_ups.outcome", {}), "items[0].follow_ups.outcome[key]"),
    (
        "demo-unknown-competency",
        _set("items.2.competencies", ["operation_proficiency", "attention_to_detail", "safety"]),
        "items[2].competencies[2]: unknown competency 'safety'",
    ),
    (
        "checklist-outside-task",
        _set("items.2.checklist.0.competency", "communication"),
        "items[2].checklist[0].competency: 'communication' is not one of the task's",
    ),
    (
        "dup-checklist-id",
        _duplicate_checklist_id,
        "items[2].checklist[3].id: duplicate checklist id 'screws-torqued'",
    ),
    ("empty-checklist", _set("items.2.checklist", []), "items[2].checklist: must not be empty"),
    ("time-limit", _set("items.2.time_limit_s", 20), "items[2].time_limit_s: Input should be"),
    (
        "band-credible-above-expected",
        _set("items.2.time_band.credible_min_s", 300),
        "items[2].time_band.credible_min_s: 300 s is above expected_min_s (240 s)",
    ),
    (
        "band-min-above-max",
        _set("items.2.time_band.expected_min_s", 500),
        "items[2].time_band.expected_min_s: 500 s is above expected_max_s (480 s)",
    ),
    (
        "band-above-limit",
        _set("items.2.time_band.expected_max_s", 900),
        "items[2].time_band.expected_max_s: 900 s is above the task's time_limit_s (600 s)",
    ),
    (
        "band-credible-zero",
        _set("items.2.time_band.credible_min_s", 0),
        "items[2].time_band.credible_min_s: Input should be greater than 0",
    ),
    ("band-unknown-key", _set("items.2.time_band.typical_s", 300), "items[2].time_band.typical_s"),
    (
        "area-past-right-edge",
        _set("items.2.work_area.x", 0.5),
        "items[2].work_area.width: x + width is 1.3, past the right edge of the frame (1)",
    ),
    (
        "area-past-bottom-edge",
        _set("items.2.work_area.y", 0.6),
        "items[2].work_area.height: y + height is 1.15, past the bottom edge of the frame (1)",
    ),
    (
        "area-empty",
        _set("items.2.work_area.height", 0),
        "items[2].work_area.height: Input should be greater than 0",
    ),
    (
        "area-outside-frame",
        _set("items.2.work_area.x", -0.1),
        "items[2].work_area.x: Input should be greater than or equal to 0",
    ),
    ("area-unknown-key", _set("items.2.work_area.depth", 1), "items[2].work_area.depth"),
    ("retention", _set("consent.retention_days", 0), "consent.retention_days: Input should be"),
    ("missing-consent", lambda d: d.pop("consent"), "consent: required field is missing"),
    (
        "score-range",
        _set("scoring.min_score", 10),
        "scoring.max_score: must be greater than min_score (10)",
    ),
    ("version", _set("package_version", 0), "package_version: Input should be greater"),
    ("flag", _set("scoring.follow_up_enabled", "yes"), "scoring.follow_up_enabled: Input"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [rule[1:] for rule in RULES], ids=[rule[0] for rule in RULES]
)
def test_rule_violations_name_the_place(
    tmp_path: Path, example: Document, mutate: Mutation, expected: str
) -> None:
    mutate(example)
    error = load_error(write_json(tmp_path, example))
    assert any(problem.startswith(expected) for problem in error.problems), error.problems


def test_all_problems_are_listed(tmp_path: Path, example: Document) -> None:
    example["items"][0]["retakes"] = 9
    example["consent"]["retention_days"] = 0
    example["job"]["nickname"] = "x"
    error = load_error(write_json(tmp_path, example))
    assert [problem.split(":")[0] for problem in error.problems] == [
        "job.nickname",
        "items[0].retakes",
        "consent.retention_days",
    ]
    assert str(error).endswith("(and 2 more problems)")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[1, 2]", "(document): expected a JSON object, got list"),
        (b'{"format": 1, "format": 2}', "invalid JSON: duplicate key 'format' in a JSON object"),
        (b'{"min_score": NaN}', "invalid JSON: NaN is not a valid JSON number"),
        (b'{"max_score": 1e999}', "invalid JSON: number 1e999 is out of range"),
        (b"\xff{}", "not UTF-8 text (invalid byte at offset 0)"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid JSON: nested too deeply"),
    ],
)
def test_unusable_json_is_rejected(data: bytes, expected: str) -> None:
    with pytest.raises(PackageError) as caught:
        parse_package(data, source="central")
    assert str(caught.value) == f"central: {expected}"


def test_byte_order_mark_is_accepted() -> None:
    data = b"\xef\xbb\xbf" + example_package_path().read_bytes()
    assert parse_package(data).job.id == "assembly-line-operator"


# --- schema, docs and command line ------------------------------------------------------------


def test_committed_schema_is_up_to_date(tmp_path: Path) -> None:
    fresh = tmp_path / "schema.json"
    write_schema(fresh)
    assert SCHEMA_FILE.is_file(), f"{SCHEMA_FILE} is missing; regenerate it with: {REGENERATE}"
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == fresh.read_text(encoding="utf-8"), (
        f"{SCHEMA_FILE.relative_to(ROOT)} is out of date; regenerate it with: {REGENERATE}"
    )


def test_schema_identifies_itself_and_describes_every_field() -> None:
    schema = package_json_schema()
    assert schema["$id"] == SCHEMA_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    definitions = [schema, *schema["$defs"].values()]
    for definition in definitions:
        assert definition.get("description"), definition.get("title")
        for name, field in definition["properties"].items():
            assert field.get("description"), f"{definition['title']}.{name}"
        assert definition["additionalProperties"] is False


def test_documentation_covers_every_field_and_metric() -> None:
    doc = DOC_FILE.read_text(encoding="utf-8")
    models = [
        value
        for module in (package_models, package_document)
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == module.__name__
        and value is not package_models.Model
    ]
    assert JobPackage in models
    for model in models:
        assert f"`{model.__name__}`" in doc, model.__name__
        for name in model.model_fields:
            assert f"`{name}`" in doc, f"{model.__name__}.{name}"
    for metric in METRICS:
        assert f"`{metric}`" in doc, metric
    assert REGENERATE in doc


def test_command_line_writes_schema_and_checks_packages(
    tmp_path: Path, example: Document, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "schema.json"
    assert main(["--write-schema", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == package_json_schema()

    assert main([str(example_package_path())]) == 0
    assert "ok: job assembly-line-operator version 1" in capsys.readouterr().out

    example["items"] = []
    bad = write_json(tmp_path, example)
    assert main([str(bad)]) == 1
    assert "items: must not be empty" in capsys.readouterr().err
