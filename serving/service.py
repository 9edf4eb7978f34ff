"""The BentoML service: wiring only. Logic lives in scoring.py and reasons.py."""

from __future__ import annotations

import os

import bentoml
from fastapi import FastAPI

from features.store import default_snapshot_dir
from serving import artefacts
from serving.schemas import Metadata, ScoreRequest, ScoreResponse
from serving.scoring import score_members

web = FastAPI()


@bentoml.service(traffic={"timeout": 30})
@bentoml.asgi_app(web, path="/")
class MemberScoring:
    """Churn scores with exact SHAP reasons for the members of the newest feature snapshot."""

    def __init__(self) -> None:
        self.churn = artefacts.load_model("churn")
        poll_seconds = float(os.environ.get("MEMBERSCORE_SNAPSHOT_POLL_SECONDS", "5"))
        self.snapshots = artefacts.LiveSnapshot(default_snapshot_dir(), poll_seconds)

    @bentoml.api(route="/score", input_spec=ScoreRequest)
    def score(self, member_ids: list[str], explain: int = 3) -> ScoreResponse:
        snapshot, features_by_id = self.snapshots.current()
        results = score_members(self.churn.booster, features_by_id, member_ids, explain)
        return ScoreResponse(results=results, snapshot_as_of=snapshot.as_of.isoformat(),
                             model_version=self.churn.mlflow_version)

    @web.get("/metadata")
    def metadata(self) -> Metadata:
        snapshot, features_by_id = self.snapshots.current()
        return Metadata(
            model_name=self.churn.name,
            model_version=self.churn.mlflow_version,
            mlflow_run_id=self.churn.run_id,
            snapshot_as_of=snapshot.as_of.isoformat(),
            snapshot_members=len(features_by_id),
            data_fingerprint=snapshot.fingerprint,
            metrics=self.churn.metrics,
        )
