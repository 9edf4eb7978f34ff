"""The BentoML service: wiring only. Logic lives in scoring.py and reasons.py."""

from __future__ import annotations

import os

import bentoml
from fastapi import FastAPI

from features.store import default_snapshot_dir
from serving import artefacts
from serving.schemas import Metadata, ModelInfo, ScoreRequest, ScoreResponse
from serving.scoring import score_members

web = FastAPI()


@bentoml.service(traffic={"timeout": 30})
@bentoml.asgi_app(web, path="/")
class MemberScoring:
    """Every champion model's scores, with exact SHAP reasons, for the members of the newest snapshot."""

    def __init__(self) -> None:
        self.models = artefacts.load_models()
        self.boosters = {task: model.booster for task, model in self.models.items()}
        poll_seconds = float(os.environ.get("MEMBERSCORE_SNAPSHOT_POLL_SECONDS", "5"))
        self.snapshots = artefacts.LiveSnapshot(default_snapshot_dir(), poll_seconds, self.boosters)

    @bentoml.api(route="/score", input_spec=ScoreRequest)
    def score(self, member_ids: list[str], explain: int = 3) -> ScoreResponse:
        loaded = self.snapshots.current()
        results = score_members(self.boosters, loaded.scores_by_id, loaded.features_by_id, member_ids, explain)
        return ScoreResponse(results=results, snapshot_as_of=loaded.snapshot.as_of.isoformat(),
                             model_version=self.models["churn"].mlflow_version,
                             model_versions={task: m.mlflow_version for task, m in self.models.items()})

    @web.get("/metadata")
    def metadata(self) -> Metadata:
        loaded = self.snapshots.current()
        churn = self.models["churn"]
        return Metadata(
            model_name=churn.name,
            model_version=churn.mlflow_version,
            mlflow_run_id=churn.run_id,
            models={task: ModelInfo(model_name=m.name, model_version=m.mlflow_version, mlflow_run_id=m.run_id,
                                    metrics=m.metrics) for task, m in self.models.items()},
            snapshot_as_of=loaded.snapshot.as_of.isoformat(),
            snapshot_members=len(loaded.features_by_id),
            data_fingerprint=loaded.snapshot.fingerprint,
            metrics=churn.metrics,
        )
