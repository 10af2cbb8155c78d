"""Where the data comes from, and the fixed split every step shares.

The reference uses a data set that ships with scikit-learn (no download). Point the loop at
your own data with ``MLOPS_DATASET=package.module:function``: a function with no arguments
returning ``(X, y)``, X a pandas DataFrame of numeric features, y a Series of targets.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sklearn import datasets
from sklearn.model_selection import train_test_split

BUILTIN: dict[str, Callable[..., object]] = {
    "breast_cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "diabetes": datasets.load_diabetes,
}
HOLDOUT_FRACTION = 0.25
DEFAULT_SEED = 42

_IMPORT_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Split:
    """Training rows and the held-out rows the quality gate scores every version on."""

    x_train: pd.DataFrame
    y_train: pd.Series
    x_holdout: pd.DataFrame
    y_holdout: pd.Series

    @property
    def features(self) -> list[str]:
        return list(self.x_train.columns)


def feature_name(raw: str) -> str:
    """A column name usable as a JSON key and a Prometheus label value: `mean radius` → `mean_radius`."""
    return re.sub(r"[^0-9A-Za-z_]+", "_", raw.strip()).strip("_").lower()


def load(source: str) -> tuple[pd.DataFrame, pd.Series]:
    """The whole data set: a built-in name or `package.module:function`."""
    if source in BUILTIN:
        bunch = BUILTIN[source](as_frame=True)
        x, y = bunch.data, bunch.target  # type: ignore[attr-defined]
    elif _IMPORT_PATH.fullmatch(source):
        module, _, function = source.partition(":")
        x, y = getattr(importlib.import_module(module), function)()
    else:
        raise ValueError(
            f"unknown data set {source!r}: use one of {sorted(BUILTIN)} or package.module:function"
        )
    if not isinstance(x, pd.DataFrame) or not isinstance(y, pd.Series):
        raise TypeError(f"data set {source!r} must give (pandas.DataFrame, pandas.Series)")
    x = x.rename(columns=feature_name).astype("float64")
    return x, y


def split(source: str, seed: int = DEFAULT_SEED) -> Split:
    """The same split for the same source and seed, so candidate and champion meet on the same
    held-out rows. Classes keep their proportions when the target is a class label."""
    x, y = load(source)
    classification = not pd.api.types.is_float_dtype(y)
    x_train, x_holdout, y_train, y_holdout = train_test_split(
        x,
        y,
        test_size=HOLDOUT_FRACTION,
        random_state=seed,
        stratify=y if classification else None,
    )
    return Split(x_train, y_train, x_holdout, y_holdout)
