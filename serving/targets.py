"""Campaign target lists, pure: who to act on for a campaign, best first, with the model's reasons.

Every campaign ranks its eligible members by the expected value of acting on them: the campaign's
driving probability times the member's value, where value is the value model's ``expected_value``
and, for a member (or a snapshot) without one, the BG/NBD + Gamma-Gamma ``clv_12m``. Who each
campaign selects is ``serving.campaigns``.

Percentile ranks compare a member's ranking score with every member of the snapshot that has one
(before the campaign rule and the filters), so a filter never changes a member's percentile.

A list leaves the service whole or in pages: JSON in pages of at most ``MAX_TARGETS`` rows joined
by cursors tied to the list they came from (``serving.list_cursor``), CSV as one stream of chunks
of the whole list, SHAP reasons computed per chunk so memory does not grow with the list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xgboost as xgb

from features import contract
from features.catalogue import ENGLISH
from features.formats import Voice
from features.i18n import Translator
from features.list_headers import for_readers
from features.offer_lists import NO_OFFERS, decode_offers
from features.segment_rules import ABC_CLASSES, LIFECYCLE_STAGES, read_segment_rules
from features.spreadsheet import csv_text
from features.value_names import CAMPAIGN, CODED_FIELDS, label, labels_for
from serving.campaign_words import listed_words
from serving.campaigns import CAMPAIGNS as CAMPAIGNS  # re-exported: callers name campaigns from here
from serving.campaigns import RULE_FEATURES, Campaign
from serving.campaigns import campaign_named as campaign_named
from serving.list_cursor import cursor_start, encode_cursor, list_identity
from serving.reasons import top_reasons
from serving.schemas import (
    DEFAULT_PAGE,
    MAX_TARGETS,
    TargetFilters,
    TargetRow,
    TargetsRequest,
    TargetsResponse,
)
from serving.scoring import shap_contributions

if TYPE_CHECKING:
    from serving.artefacts import LoadedSnapshot

CSV_CHUNK_ROWS = 2_000  # rows explained and written per CSV chunk: bounds the SHAP matrix and the text held
LABEL_FIELDS = frozenset(f"{field}_label" for field in CODED_FIELDS)  # added per request, in its language
WORD_FIELDS = ("score_unit", "score_text", "campaign_reasons")  # said per page or chunk, in the asked language
ROW_COLUMNS = [name for name in TargetRow.model_fields
               if name != "reasons" and name not in LABEL_FIELDS and name not in WORD_FIELDS]
CSV_COLUMNS = [*ROW_COLUMNS, *WORD_FIELDS]  # campaign_reasons joined by CSV_JOIN in one cell
CSV_JOIN = "; "  # between the campaign's reasons in their one CSV cell


class CampaignUnavailable(ValueError):
    """The campaign's driving score is empty in this snapshot (its model has no champion)."""


def ranked_targets(scores_by_id: pd.DataFrame, features_by_id: pd.DataFrame, campaign: str,
                   filters: TargetFilters) -> pd.DataFrame:
    """Every member passing the campaign rule and the filters, best first (``ROW_COLUMNS``)."""
    chosen = campaign_named(campaign)
    _check_filter_labels(filters, scores_by_id)
    members = _scored_members(scores_by_id, features_by_id, chosen)
    keep = chosen.rule(members).fillna(False).astype(bool) & _passes(members, filters) & members["score"].notna()
    listed = members[keep].sort_values(["score", contract.MEMBER_ID], ascending=[False, True], kind="stable")
    listed.insert(0, "rank", np.arange(1, len(listed) + 1))
    listed["offer_category"] = _offers(listed) if chosen.task == "upsell" else None
    if chosen.task != "upsell":
        listed["upsell_categories"] = NO_OFFERS
    return listed[ROW_COLUMNS].reset_index(drop=True)


def rank_targets(scores_by_id: pd.DataFrame, features_by_id: pd.DataFrame, campaign: str,
                 filters: TargetFilters, limit: int) -> pd.DataFrame:
    """The best ``limit`` targets of ``ranked_targets`` (which also gives the eligible count)."""
    return ranked_targets(scores_by_id, features_by_id, campaign, filters).head(limit)


def _scored_members(scores_by_id: pd.DataFrame, features_by_id: pd.DataFrame, campaign: Campaign) -> pd.DataFrame:
    """Scores, rule features, value, ranking score and both percentiles for every member."""
    why = f"it needs {campaign.needs}" if campaign.needs else f"the {campaign.task} model has no champion"
    driver = _required(scores_by_id, campaign.driver, why, campaign)
    expected, clv = _column(scores_by_id, "expected_value"), _column(scores_by_id, "clv_12m")
    value = expected.where(expected.notna(), clv)
    if len(value) and value.isna().all():
        raise CampaignUnavailable(f"campaign {campaign.name!r}: no member has expected_value or clv_12m to rank by")
    members = scores_by_id.join(features_by_id.reindex(columns=list(RULE_FEATURES)), how="left")
    members["expected_value"] = value
    members["score"] = driver * value
    members = members.rename_axis(None).reset_index(names=contract.MEMBER_ID)
    members[contract.MEMBER_ID] = members[contract.MEMBER_ID].astype(str)
    members["percentile_global"] = _percentile(members["score"].rank(method="max", pct=True))
    by_segment = members.groupby(_column(members, "rfm_segment"), dropna=False)["score"]
    members["percentile_in_segment"] = _percentile(by_segment.rank(method="max", pct=True))
    return members


def _percentile(share: pd.Series) -> pd.Series:
    """Share of members scoring at most this one, in % with two decimals (the top member: 100)."""
    return (share * 100).round(2)


def _required(scores_by_id: pd.DataFrame, column: str, why: str, campaign: Campaign) -> pd.Series:
    values = _column(scores_by_id, column)
    if len(values) and values.isna().all():  # no members (e.g. a store scope without any) is an empty list
        raise CampaignUnavailable(f"campaign {campaign.name!r} ranks by {column}, which is empty: {why}")
    return values


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column as floats/labels, or all-missing when the frame lacks it."""
    if name not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    values = frame[name]
    return values if values.dtype == object or isinstance(values.dtype, pd.StringDtype) else values.astype("float64")


@functools.cache
def _filter_fields() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(filter field, profile column, configured labels): rfm names and tiers from the packaged rules."""
    rules = read_segment_rules()
    return (
        ("segments", "rfm_segment", rules.rfm.labels),
        ("tiers", "tier", rules.tiers.labels),
        ("abc_classes", "abc_class", ABC_CLASSES),
        ("lifecycle_stages", "lifecycle_stage", LIFECYCLE_STAGES),
    )


def _check_filter_labels(filters: TargetFilters, scores_by_id: pd.DataFrame) -> None:
    """Every label must be a configured one or one present in the snapshot (built with custom rules)."""
    for field, column, configured in _filter_fields():
        wanted = getattr(filters, field) or []
        present = _column(scores_by_id, column).dropna().astype(str).unique()
        valid = list(dict.fromkeys([*configured, *sorted(present)]))
        unknown = [label for label in wanted if label not in valid]
        if unknown:
            raise ValueError(f"filters.{field}: unknown {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}")


def _passes(members: pd.DataFrame, filters: TargetFilters) -> pd.Series:
    keep = pd.Series(True, index=members.index)
    for field, column, _ in _filter_fields():
        wanted = getattr(filters, field)
        if wanted:
            keep &= members[column].isin(wanted)
    if filters.min_value is not None:
        keep &= members["expected_value"] >= filters.min_value
    if filters.exclude_member_ids:
        excluded = set(filters.exclude_member_ids)  # a set lookup per member: isin on Arrow strings is slow here
        keep &= np.fromiter((m not in excluded for m in members[contract.MEMBER_ID].tolist()), bool, len(members))
    return keep


def _offers(listed: pd.DataFrame) -> pd.Series:
    """The first of the member's ``upsell_categories`` (a JSON array, best first), None when empty."""
    offers = [decode_offers(cell) for cell in listed["upsell_categories"].tolist()]
    return pd.Series([names[0] if names else None for names in offers], index=listed.index, dtype=object)


@dataclass(frozen=True)
class TargetList:
    """A campaign's whole ranked list for one snapshot and request, before any page or limit."""

    campaign: Campaign
    ranked: pd.DataFrame  # ROW_COLUMNS, best first
    snapshot_as_of: str
    fingerprint: str

    def identity(self) -> str:
        """The digest a cursor is tied to (``serving.list_cursor``)."""
        return list_identity(self.ranked, self.campaign.name, self.snapshot_as_of, self.fingerprint)


@dataclass(frozen=True)
class CsvExport:
    """A list as CSV text chunks: the header, then ``chunk_rows`` rows at a time, reasons computed per chunk."""

    campaign: str
    snapshot_as_of: str
    eligible: int
    rows: int  # rows the chunks hold (eligible, or the limit when smaller)
    chunks: Iterator[str]


def target_list(loaded: LoadedSnapshot, request: TargetsRequest) -> TargetList:
    """Every member ``request`` lists, ranked; bad campaigns, filters and missing scores raise here."""
    campaign = campaign_named(request.campaign)
    ranked = ranked_targets(loaded.scores_by_id, loaded.features_by_id, campaign.name, request.filters)
    return TargetList(campaign, ranked, loaded.snapshot.as_of.isoformat(), loaded.snapshot.fingerprint)


def targets_response(models: Mapping[str, xgb.Booster], loaded: LoadedSnapshot,
                     request: TargetsRequest, voice: Voice = ENGLISH) -> TargetsResponse:
    """One JSON page of the ranked list, with the campaign model's top reasons for its rows only,
    each score in words and the campaign's own reasons (``serving.campaign_words``), reasons and
    ``_label`` names in ``voice``'s language.

    The page starts where ``request.cursor`` says (the first page without one) and holds up to
    ``request.limit`` rows (default ``DEFAULT_PAGE``, at most ``MAX_TARGETS``); ``next_cursor``
    continues it, and is refused once the list it belongs to is no longer served.
    """
    whole = target_list(loaded, request)
    limit = _page_limit(request.limit)
    eligible = len(whole.ranked)
    identity = whole.identity() if request.cursor is not None or eligible > limit else ""
    start = cursor_start(request.cursor, identity, eligible, whole.snapshot_as_of)
    listed = whole.ranked.iloc[start:start + limit]
    booster = models.get(whole.campaign.task)
    rows = loaded.features_by_id.loc[listed[contract.MEMBER_ID]]
    reasons = supporting_reasons(booster, rows, request.explain, whole.campaign.raising_sign, voice,
                                 features=whole.campaign.reason_features)
    records = listed.astype(object).where(listed.notna(), None).to_dict(orient="records")
    texts, facts = listed_words(whole.campaign, listed, loaded.scores_by_id, loaded.features_by_id, voice)
    words = [{"score_unit": whole.campaign.score_unit, "score_text": text, "campaign_reasons": fact}
             for text, fact in zip(texts, facts)]
    end = start + len(listed)
    return TargetsResponse(
        campaign=whole.campaign.name,
        campaign_label=label(CAMPAIGN, whole.campaign.name, voice.translator),
        snapshot_as_of=whole.snapshot_as_of,
        eligible=eligible,
        score_unit=whole.campaign.score_unit,
        score_meaning=voice.translator.gettext(whole.campaign.score_meaning),
        rows=[TargetRow.model_validate({**record, **labels_for(record, voice.translator), **said, "reasons": why})
              for record, said, why in zip(records, words, reasons)],
        next_cursor=encode_cursor(identity, end, whole.snapshot_as_of) if end < eligible else None,
    )


def _page_limit(limit: int | None) -> int:
    """Rows of a JSON page: ``limit``, default ``DEFAULT_PAGE``; above ``MAX_TARGETS`` is refused (CSV has no cap)."""
    if limit is None:
        return DEFAULT_PAGE
    if limit > MAX_TARGETS:
        raise ValueError(f"limit: a JSON page holds at most {MAX_TARGETS:,} rows, got {limit:,}; page with "
                         "next_cursor, or ask for CSV (?format=csv, or an --out .csv file), which has no cap")
    return limit


def targets_csv_export(models: Mapping[str, xgb.Booster], loaded: LoadedSnapshot, request: TargetsRequest,
                       rename_ids: Callable[[str], str] | None = None,
                       chunk_rows: int = CSV_CHUNK_ROWS, voice: Voice = ENGLISH,
                       headers: Translator | None = None) -> CsvExport:
    """The whole list (or its best ``request.limit`` rows) as CSV chunks, ``targets_csv``'s format.

    Everything that can be refused is checked here, before the first chunk: a stream that has
    started can no longer answer 4xx. The chunks then only read the ranked list and compute
    SHAP reasons ``chunk_rows`` at a time, so memory stays bounded by a chunk, not the list.
    Reason columns are ``reason_1`` to ``reason_{explain}`` whenever the campaign's model
    serves (a row with fewer supporting reasons leaves the rest empty): the header is written
    before any reason is known. ``rename_ids`` replaces member ids (pseudonyms) as rows are written.
    Reasons are in ``voice``'s language; with ``headers`` the list is for readers of that language
    (``features.list_headers``: translated headers, names beside codes). The text starts with a
    byte-order mark, so a spreadsheet opens it as UTF-8.
    """
    if request.cursor is not None:
        raise ValueError("cursor: a CSV answer is the whole list at once; cursors page JSON lists")
    whole = target_list(loaded, request)
    listed = whole.ranked if request.limit is None else whole.ranked.head(request.limit)
    booster = models.get(whole.campaign.task)
    k = request.explain if booster is not None else 0
    chunks = _csv_chunks(whole.campaign, listed, loaded, booster, k, rename_ids, chunk_rows, voice, headers)
    return CsvExport(whole.campaign.name, whole.snapshot_as_of, len(whole.ranked), len(listed), chunks)


def _csv_chunks(campaign: Campaign, listed: pd.DataFrame, loaded: LoadedSnapshot, booster: xgb.Booster | None,
                k: int, rename_ids: Callable[[str], str] | None, chunk_rows: int,
                voice: Voice = ENGLISH, headers: Translator | None = None) -> Iterator[str]:
    """The header, then each ``chunk_rows`` rows with their words and reasons, as spreadsheet-safe CSV text."""
    yield csv_text(for_readers(pd.DataFrame(columns=[*CSV_COLUMNS, *_reason_columns(k)]), headers), bom=True)
    for start in range(0, len(listed), chunk_rows):
        chunk = listed.iloc[start:start + chunk_rows].reset_index(drop=True)
        rows = loaded.features_by_id.loc[chunk[contract.MEMBER_ID]]
        reasons = supporting_reasons(booster, rows, k, campaign.raising_sign, voice, features=campaign.reason_features)
        scores_said, facts = listed_words(campaign, chunk, loaded.scores_by_id, loaded.features_by_id, voice)
        chunk = _with_words(chunk, campaign.score_unit, scores_said, facts)
        if rename_ids is not None:
            chunk[contract.MEMBER_ID] = [rename_ids(member) for member in chunk[contract.MEMBER_ID]]
        for i, column in enumerate(_reason_columns(k)):
            chunk[column] = [texts[i] if i < len(texts) else "" for texts in reasons]
        yield csv_text(for_readers(chunk, headers), header=False)


def _with_words(chunk: pd.DataFrame, unit: str, texts: list[str], facts: list[list[str]]) -> pd.DataFrame:
    """``chunk`` in ``CSV_COLUMNS`` order, the campaign's reasons in one cell (a spreadsheet row stays one row)."""
    said = chunk.assign(score_unit=unit, score_text=texts, campaign_reasons=[CSV_JOIN.join(f) for f in facts])
    return said[CSV_COLUMNS]


def _reason_columns(k: int) -> list[str]:
    return [f"reason_{i + 1}" for i in range(k)]


def supporting_reasons(booster: xgb.Booster | None, rows: pd.DataFrame, k: int, raising_sign: int,
                       voice: Voice = ENGLISH, *, features: frozenset[str] | None = None) -> list[list[str]]:
    """Per row, in words, the ``k`` largest SHAP contributions that push the campaign's score up.

    A list answers "why is this member on it", so contributions pulling the other way are left
    out (a row may then have fewer than ``k``), and so are features outside ``features`` when
    given (``Campaign.reason_features``). No model (or k = 0): no reasons.
    """
    if booster is None or k <= 0 or rows.empty:
        return [[] for _ in range(len(rows))]
    contributions, frame = shap_contributions(booster, rows)
    supporting = np.where(contributions * raising_sign > 0, contributions, 0.0)
    if features is not None:  # the bias column (last) is never a reason
        shown = [str(name) in features for name in frame.columns]
        supporting = np.where(np.array(shown + [False] * (supporting.shape[1] - len(shown))), supporting, 0.0)
    return [[reason.text for reason in row if reason.contribution != 0.0]
            for row in top_reasons(supporting, frame, k, voice)]


def targets_csv(response: TargetsResponse, headers: Translator | None = None) -> str:
    """The rows as CSV, one column per reason (``reason_1``, ...) so a spreadsheet shows them side by side.

    Spreadsheet-safe (``features.spreadsheet``) and UTF-8 with a byte-order mark; ``headers`` as in
    ``targets_csv_export``. The CLI's file and the API's ``?format=csv`` both come from here.
    """
    k = max((len(row.reasons) for row in response.rows), default=0)
    frame = pd.DataFrame([row.model_dump(exclude={"reasons"}) for row in response.rows], columns=CSV_COLUMNS)
    frame["campaign_reasons"] = [CSV_JOIN.join(row.campaign_reasons) for row in response.rows]
    for i, column in enumerate(_reason_columns(k)):
        frame[column] = [row.reasons[i] if i < len(row.reasons) else "" for row in response.rows]
    return csv_text(for_readers(frame, headers), bom=True)
