"""The ``memberscore`` command line: the outermost layer, where files, MLflow and the service meet.

One module per thing a user does: ``data`` (validate, simulate, snapshot), ``train``, ``lists``
(score, targets) and ``serve`` (serve, keys, build); ``main`` puts them on one Typer app. Commands
import the heavy libraries inside their bodies, so ``memberscore --help`` starts quickly.
"""
