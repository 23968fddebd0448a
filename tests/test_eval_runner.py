"""The runner end to end: summaries from known results, reports, thresholds, and real runs
against the in-process pipeline and a live server."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from eval import report, thresholds
from eval.gold import DEFAULT_CONVERSATIONS, DEFAULT_GOLD, Conversation, GoldItem, load_conversations, load_gold
from eval.runner import (
    MISS_CAUSES,
    CitationResult,
    FollowUpResult,
    ItemResult,
    RunConfig,
    RunResult,
    main,
    run,
    summarize,
)
from eval.targets import HttpTarget, PipelineTarget
from rag.pipeline import Pipeline


def _item(
    id: str,
    gold_answerable: bool,
    answerable: bool,
    keys_ok: bool,
    relevance: list[bool],
    supports: list[bool],
    ranking: list[bool] | None = None,
) -> ItemResult:
    return ItemResult(
        id=id, type="factual" if gold_answerable else "unanswerable", question=f"{id}?",
        gold_answerable=gold_answerable, expected="167" if gold_answerable else "", keys=[["167"]],
        answer="167 crimes [1]" if answerable else "The interview does not say.", answerable=answerable,
        backend="extractive", fallback_reason=None, keys_ok=keys_ok, f1=0.5 if keys_ok else 0.0, em=0.0,
        relevance=relevance, ranking_relevance=relevance if ranking is None else ranking, n_gold_spans=1,
        citations=[CitationResult(1, "d", 0, 1, "x", s, True) for s in supports], latency_ms=10.0 * len(id),
    )  # fmt: skip


def test_summarize_known_results() -> None:
    items = [
        _item("a", True, True, True, [True, False], [True]),  # hit@1, right, supported
        _item("bb", True, True, False, [False, False, True], [False, True]),  # hit@3, wrong keys
        _item("ccc", True, False, False, [False] * 10, []),  # false refusal, nothing retrieved
        _item("dddd", False, False, False, [], []),  # correct refusal
        _item("eeeee", False, True, False, [], [False]),  # answered the unanswerable
    ]
    follow = FollowUpResult("cv", ["q", "a"], "and it?", True, [["x"]], "x", True, True, 5.0)
    s = summarize(items, [follow], extra_latencies=[5.0], extra_violations=2)
    assert s.hit_at_1 == pytest.approx(1 / 3)
    assert s.hit_at_3 == pytest.approx(2 / 3)
    assert s.mrr_at_10 == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert s.key_accuracy == pytest.approx(1 / 3)
    assert s.f1 == pytest.approx(0.5 / 3)
    # citations of answered answerable items only: a [T], bb [F, T] -> 2/3 precise, both supported
    assert s.citation_precision == pytest.approx(2 / 3)
    assert s.citation_recall == 1.0
    assert s.citation_invariant_violations == 2
    assert s.refusal_precision == 0.5 and s.refusal_recall == 0.5
    assert s.false_refusals == 1 and s.false_refusals_per_20 == pytest.approx(20 / 3)
    assert s.followups_answered == 1.0
    assert s.latency_p50_ms == 25.0  # median of 5, 10, 20, 30, 40, 50
    assert (s.n_items, s.n_answerable, s.n_followups) == (5, 3, 1)
    result = RunResult(RunConfig("t", "hybrid", "extractive", None), s, items, [follow])
    assert [r.id for r in result.misses()] == ["bb", "ccc", "eeeee"]


def test_the_ranking_alone_is_summarised_beside_search() -> None:
    # /search is ordered by the answer; the ranking before it is summarised on its own, and not
    # at all when the target cannot show it (over HTTP).
    items = [
        _item("a", True, True, True, [True, False], [True], ranking=[False, False, False, True]),  # rank 4
        _item("bb", True, True, True, [True], [True], ranking=[False, True]),  # rank 2
        _item("c", False, False, False, [], [], ranking=[]),
    ]
    s = summarize(items, [], extra_latencies=[], extra_violations=0)
    assert s.hit_at_3 == 1.0 and s.mrr_at_10 == 1.0
    assert s.ranking_hit_at_3 == pytest.approx(1 / 2) and s.ranking_mrr_at_10 == pytest.approx((1 / 4 + 1 / 2) / 2)
    unseen = [dataclasses.replace(items[0], ranking_relevance=None), items[1], items[2]]
    s = summarize(unseen, [], extra_latencies=[], extra_violations=0)
    assert s.ranking_hit_at_3 is None and s.ranking_mrr_at_10 is None
    assert "ranking alone" in report.summary_table([RunResult(RunConfig("t", "hybrid", "extractive", None), s, unseen, [])])


def test_thresholds_floors_and_ceilings(tmp_path: Path) -> None:
    items = [_item("a", True, True, True, [True], [True]), _item("b", False, False, False, [], [])]
    summary = summarize(items, [], [], 0)
    path = tmp_path / "t.toml"
    path.write_text(
        "[floors]\nhit_at_1 = 0.9\nkey_accuracy = 1.0\nfollowups_answered = 0.1\n[ceilings]\nfalse_refusals = 0\n"
    )
    failures = thresholds.check(summary, thresholds.load(path))
    assert len(failures) == 1 and failures[0].startswith("followups_answered = None")
    path.write_text("[floors]\nhit_at_1 = 1.01\n[ceilings]\nlatency_p95_ms = 1.0\n")
    failures = thresholds.check(summary, thresholds.load(path))
    assert [f.split(" = ")[0] for f in failures] == ["hit_at_1", "latency_p95_ms"]
    path.write_text("[floors]\nhit_at_7 = 0.5\n")
    with pytest.raises(thresholds.ThresholdError, match="unknown figure 'hit_at_7'"):
        thresholds.load(path)


def test_shipped_thresholds_name_known_figures() -> None:
    loaded = thresholds.load()
    assert loaded.floors and loaded.ceilings


@pytest.mark.parametrize(
    ("item", "cause", "rank"),
    [
        (_item("ok", True, True, True, [False, True], [True]), None, 2),
        (_item("lost", True, True, False, [False] * 10, []), "not_retrieved", None),
        (_item("shy", True, False, False, [False, False, True], []), "refused", 3),
        (_item("off", True, True, False, [True], [False, False]), "other_sentences", 1),
        (_item("part", True, True, False, [True], [False, True]), "key_missing", 1),
        (_item("bold", False, True, False, [], [False]), "answered", None),
        (_item("wise", False, False, False, [], []), None, None),
    ],
)
def test_a_miss_says_where_it_went_wrong(item: ItemResult, cause: str | None, rank: int | None) -> None:
    assert item.cause == cause
    assert item.evidence_rank == rank
    assert cause is None or cause in MISS_CAUSES


def test_reports_written(tmp_path: Path) -> None:
    items = [_item("a", True, True, True, [True], [True]), _item("bb", True, False, False, [False], [])]
    results = [
        RunResult(RunConfig(name, name, "extractive", None), summarize(items, [], [], 0), items, [])
        for name in ("bm25", "hybrid")
    ]
    paths = report.write_reports(results, {"endpoint": "http://x"}, tmp_path, compare=True)
    assert {p.suffix for p in paths} == {".json", ".md", ".png"}
    data = json.loads(next(p for p in paths if p.suffix == ".json").read_text(encoding="utf-8"))
    assert [r["config"]["name"] for r in data["runs"]] == ["bm25", "hybrid"]
    assert data["runs"][0]["items"][1]["id"] == "bb"
    md = next(p for p in paths if p.suffix == ".md").read_text(encoding="utf-8")
    png = next(p for p in paths if p.suffix == ".png")
    assert f"]({png.name})" in md and "| hit@3" in md and "**bb**" in md and "(refused)" in md
    # Each miss says why, and the misses are counted by cause.
    assert f"  - why: {MISS_CAUSES['not_retrieved']}" in md
    assert f"By cause: {MISS_CAUSES['not_retrieved']} 1" in md
    assert [item.get("cause") for item in data["runs"][0]["items"]] == [None, "not_retrieved"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "latest.md").exists() and (tmp_path / "latest-compare.png").exists()


# ---- against the real pipeline and server -------------------------------------------------

SAMPLE_IDS = ("f04", "p02", "l02", "c05", "u01", "u15")


@pytest.fixture(scope="module")
def sample() -> list[GoldItem]:
    picked = [item for item in load_gold() if item.id in SAMPLE_IDS]
    assert len(picked) == len(SAMPLE_IDS)
    return picked


@pytest.fixture(scope="module")
def sample_conversations() -> list[Conversation]:
    return load_conversations()[:2]


def test_run_in_process(pipeline: Pipeline, sample: list[GoldItem], sample_conversations: list[Conversation]) -> None:
    result = run(
        PipelineTarget(pipeline), RunConfig("hybrid", "hybrid", "extractive", None), sample, sample_conversations
    )
    assert result.summary.n_items == len(sample) and result.summary.n_followups == 2
    assert result.summary.citation_invariant_violations == 0
    for item in result.items:
        assert len(item.relevance) == (10 if item.gold_answerable else 0)
        assert item.n_gold_spans == len(next(g for g in sample if g.id == item.id).evidence)
    # f04 asks for the sentence with "167" in almost its own words: retrieval must find it.
    f04 = next(r for r in result.items if r.id == "f04")
    assert any(f04.relevance[:5])
    # In-process, the ranking before the answer orders it is measured too: the same passages.
    assert result.summary.ranking_hit_at_3 is not None and result.summary.ranking_mrr_at_10 is not None
    for item in result.items:
        assert item.ranking_relevance is not None and len(item.ranking_relevance) == len(item.relevance)
        assert sorted(item.ranking_relevance) == sorted(item.relevance), item.id


def test_endpoint_matches_in_process(
    pipeline: Pipeline, live_server: object, sample: list[GoldItem], sample_conversations: list[Conversation]
) -> None:
    url = live_server.url  # type: ignore[attr-defined]
    config = RunConfig("x", "hybrid", "extractive", None)
    local = run(PipelineTarget(pipeline), config, sample, sample_conversations)
    remote = run(HttpTarget(url), config, sample, sample_conversations)
    assert [(r.answer, r.answerable, r.relevance) for r in remote.items] == [
        (r.answer, r.answerable, r.relevance) for r in local.items
    ]
    assert [f.answer for f in remote.followups] == [f.answer for f in local.followups]
    # Over HTTP only /search is seen: the ranking before the answer orders it is not.
    assert remote.summary.ranking_hit_at_3 is None and local.summary.ranking_hit_at_3 is not None


def test_main_over_http_with_thresholds(live_server: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = live_server.url  # type: ignore[attr-defined]
    gold = tmp_path / "gold.jsonl"
    lines = DEFAULT_GOLD.read_text(encoding="utf-8").splitlines()
    gold.write_text("\n".join(line for line in lines if json.loads(line)["id"] in SAMPLE_IDS), encoding="utf-8")
    conversations = tmp_path / "conversations.jsonl"
    conversations.write_text(DEFAULT_CONVERSATIONS.read_text(encoding="utf-8").splitlines()[0])
    impossible = tmp_path / "t.toml"
    impossible.write_text("[floors]\nhit_at_5 = 1.01\n")
    args = ["--endpoint", url, "--gold", str(gold), "--conversations", str(conversations)]
    reports = tmp_path / "reports"
    code = main([*args, "--report-dir", str(reports), "--check-thresholds", "--thresholds", str(impossible)])
    assert code == 1
    assert len(list(reports.glob("*.json"))) == 1 and (reports / "latest.md").exists()
    # The terminal shows the misses by cause, as the report does.
    latest = (reports / "latest.md").read_text(encoding="utf-8")
    printed = capsys.readouterr().out
    assert ("  - why: " in latest) == ("By cause: " in printed)
    assert main([*args, "--no-report", "--compare"]) == 2


def test_phrasings_table_has_a_row_per_phrasing(pipeline: Pipeline, sample: list[GoldItem], tmp_path: Path) -> None:
    from eval import phrasings

    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(dataclasses.asdict(item)) + "\n" for item in sample), encoding="utf-8")
    lines = phrasings.table(pipeline, gold).splitlines()
    assert len(lines) == 2 + len(phrasings.PHRASINGS) + 1  # and "…, according to Sysoyev?"
    assert any("according to Sysoyev" in line for line in lines)
    as_written = run(PipelineTarget(pipeline.configured(cache_size=0)), RunConfig("x", "hybrid", "extractive", None), sample, [])
    cells = lines[2].strip("|").split("|")
    assert cells[0].strip() == "as written"
    assert float(cells[2]) == pytest.approx(as_written.summary.key_accuracy, abs=5e-4)
    # A rewritten question is really asked: ALL CAPS changes the text every item is asked with.
    assert all(phrasings.PHRASINGS["ALL CAPS"](item.question) != item.question for item in sample)


def test_asked_last_rewrites_only_questions_that_ask_how_many_or_when() -> None:
    from eval.phrasings import PHRASINGS

    last = PHRASINGS["…: how many? (asked last)"]
    assert last("How many terrorists were liquidated in 2015?") == "Terrorists were liquidated in 2015: how many?"
    assert last("In which year was the convention adopted?") == "Was the convention adopted: in which year?"
    assert last("Who is the Director?") == "Who is the Director?"
