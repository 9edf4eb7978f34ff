"""The BentoML service: wiring only. Logic lives in scoring.py and reasons.py."""

from __future__ import annotations

import bentoml
from fastapi import FastAPI

from features.store import default_snapshot_dir
from serving import artefacts
from serving.schemas import Metadata, ScoreRequest, ScoreResponse
from serving.scoring import index_by_member, score_members

web = FastAPI()


@bentoml.service(traffic={"timeout": 30})
@bentoml.asgi_app(web, path="/")
class MemberScoring:
    """Churn scores with exact SHAP reasons for the members of the newest feature snapshot."""

    def __init__(self) -> None:
        self.churn = artefacts.load_model("churn")
        self.snapshot = artefacts.load_latest_snapshot(default_snapshot_dir())
        self.features_by_id = index_by_member(self.snapshot.frame)

    @bentoml.api(route="/score", input_spec=ScoreRequest)
    def score(self, member_ids: list[str], explain: int = 3) -> ScoreResponse:
        results = score_members(self.churn.booster, self.features_by_id, member_ids, explain)
        return ScoreResponse(results=results, snapshot_as_of=self.snapshot.as_of.isoformat(),
                             model_version=self.churn.mlflow_version)

    @web.get("/metadata")
    def metadata(self) -> Metadata:
        return Metadata(
            model_name=self.churn.name,
            model_version=self.churn.mlflow_version,
            mlflow_run_id=self.churn.run_id,
            snapshot_as_of=self.snapshot.as_of.isoformat(),
            snapshot_members=len(self.features_by_id),
            data_fingerprint=self.snapshot.fingerprint,
            metrics=self.churn.metrics,
        )
