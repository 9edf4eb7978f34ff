"""BG/NBD + Gamma-Gamma as of a cut-off with the members' data on Spark executors.

``features.lifetime.fit_lifetime`` summarises every member in the driver. Here the executors
build the summary (x, t_x, T, repeat spend per member, exactly as ``btyd.summarise_purchases``),
then aggregate what each likelihood needs, and only that reaches the driver:

- BG/NBD: the distinct histories (x, t_x, T) and how many members share each: 4 numbers (32
  bytes) per distinct history, at most one per member (160 MB for 5 M members). Day-stamped data
  shares histories (t_x and T are whole days) and sends fewer; timestamps with a time of day make
  nearly every history distinct.
- Gamma-Gamma: the distinct (x, mean repeat spend) of repeat buyers and their counts: 3 numbers
  per distinct pair. Spend is continuous, so this is about one row per repeat buyer (24 bytes:
  120 MB for 5 M). Its likelihood couples a member's spend with the parameters (the
  ``log(v + x m_x)`` term), so no smaller statistic gives the same fit.

The driver fits both (``features.lifetime.fit_models``, weighted by the counts: the members'
likelihood), and the executors turn every member's summary into the lifetime features and
profile columns (``mapInPandas``) with the same ``LifetimeModel`` code the driver path uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Final

import pandas as pd
from ibis.backends import BaseBackend
from ibis.expr.types import Table

from features import contract
from features.btyd import NET, BetaGeoFitter, GammaGammaFitter
from features.lifetime import (
    HISTORY,
    LIFETIME_FEATURES,
    MEMBERS,
    MIN_MEMBERS,
    PROFILE_COLUMNS,
    SPEND,
    UNIT_DAYS,
    LifetimeModel,
    fit_models,
)
from features.purchases import lines_in_window, purchases
from features.spark import spark_frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

MICROS_PER_UNIT: Final = UNIT_DAYS * 86400 * 1_000_000


@dataclass(frozen=True)
class SparkLifetime:
    """What was fitted (each model None where it could not be), the sizes that reached the driver, and the per-member frame."""

    bgnbd: BetaGeoFitter | None
    gamma_gamma: GammaGammaFitter | None
    penalizers: dict[str, float]
    unavailable: dict[str, str]
    driver_rows: dict[str, int]  # distinct histories / spend pairs collected for the fits
    features: DataFrame  # member_id, LIFETIME_FEATURES, PROFILE_COLUMNS; on the executors


def occasions_on_spark(backend: BaseBackend, lines: Table, as_of: date) -> DataFrame:
    """Purchase occasions before ``as_of`` (member_id, ts, net) of ``lines``, a table of the Spark ``backend``.

    The driver path's ``features.lifetime.occasions`` expression, left on the executors.
    """
    expression = purchases(lines_in_window(lines, None, as_of)).select(contract.MEMBER_ID, contract.TS, NET)
    return spark_frame(backend, expression)


def member_summary(occasions: DataFrame, as_of: date) -> DataFrame:
    """Per member with an occasion before ``as_of``: x, t_x and T in weeks, mean repeat net, mean net.

    ``occasions`` holds one row per purchase occasion (member_id, ts, net), as
    ``features.lifetime.occasions``. Times are whole microseconds apart, divided once, so a value
    is the driver path's (nanoseconds over a week in nanoseconds) to the bit. The first occasion by
    (ts, net) is the one left out of the repeat spend, as ``summarise_purchases`` orders them.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    history = occasions.filter(F.col(contract.TS) < F.to_timestamp(F.lit(f"{as_of.isoformat()} 00:00:00")))
    order = Window.partitionBy(contract.MEMBER_ID).orderBy(contract.TS, NET)
    ranked = history.withColumn("_n", F.row_number().over(order))
    micros = F.unix_micros(F.col(contract.TS).cast("timestamp"))  # a naive (NTZ) time read in the session zone, UTC
    end = F.unix_micros(F.to_timestamp(F.lit(f"{as_of.isoformat()} 00:00:00")))
    summary = ranked.groupBy(contract.MEMBER_ID).agg(
        (F.count(F.lit(1)) - 1).alias("frequency"), F.min(micros).alias("_first"), F.max(micros).alias("_last"),
        F.avg(F.when(F.col("_n") > 1, F.col(NET))).alias("monetary_value"), F.avg(NET).alias("mean_net"))
    return summary.select(
        F.col(contract.MEMBER_ID).cast("string").alias(contract.MEMBER_ID), F.col("frequency").cast("double"),
        ((F.col("_last") - F.col("_first")).cast("double") / MICROS_PER_UNIT).alias("recency"),
        ((end - F.col("_first")).cast("double") / MICROS_PER_UNIT).alias("T"),
        F.coalesce(F.col("monetary_value"), F.lit(0.0)).alias("monetary_value"), F.col("mean_net").cast("double"))


def counts(summary: DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The distinct rows of ``columns`` and how many members share each, collected to the driver."""
    from pyspark.sql import functions as F

    return summary.groupBy(*columns).agg(F.count(F.lit(1)).alias(MEMBERS)).toPandas()


def fit_on_spark(occasions: DataFrame, as_of: date) -> SparkLifetime | None:
    """BG/NBD + Gamma-Gamma as ``features.lifetime.fit_lifetime`` fits them, from aggregates; None as there.

    None when no member has an occasion before ``as_of``, fewer than ``MIN_MEMBERS`` do, or none
    repeats: the same windows the driver path refuses.
    """
    summary = member_summary(occasions, as_of).cache()
    histories = counts(summary, HISTORY)
    if histories[MEMBERS].sum() < MIN_MEMBERS or not (histories["frequency"] > 0).any():
        summary.unpersist()
        return None
    spend = counts(summary.filter("frequency > 0 AND monetary_value > 0"), SPEND)
    fits = fit_models(histories, spend)
    bgnbd, gamma_gamma = fits["bgnbd"].model, fits["gamma_gamma"].model
    job = _Outputs(bgnbd, gamma_gamma)
    features = summary.mapInPandas(job.run, schema=_output_schema())
    return SparkLifetime(bgnbd, gamma_gamma, {k: f.penalizer for k, f in fits.items() if f.penalizer is not None},
                         {k: f.reason for k, f in fits.items() if f.reason is not None},
                         {"bgnbd": len(histories), "gamma_gamma": len(spend)}, features)


def _output_schema() -> str:
    return ", ".join([f"{contract.MEMBER_ID} string", *(f"{c} double" for c in (*LIFETIME_FEATURES, *PROFILE_COLUMNS))])


@dataclass(frozen=True)
class _Outputs:
    """The per-member outputs on an executor: ``features.lifetime.lifetime_features`` of each partition."""

    bgnbd: Any
    gamma_gamma: Any

    def run(self, partitions: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from features.lifetime import lifetime_features

        for part in partitions:
            model = LifetimeModel(part.set_index(contract.MEMBER_ID), self.bgnbd, self.gamma_gamma)
            yield lifetime_features(pd.DataFrame(), date.min, model)
