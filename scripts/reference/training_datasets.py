"""Copies two real public datasets that scikit-learn ships into tests/data/training/.

Run: python scripts/reference/training_datasets.py   (checked with scikit-learn 1.9.1)

- iris.csv: sklearn/datasets/data/iris.csv (Fisher's Iris, 150 rows, 4 features,
  3 species), with a plain header and the species names as labels.
- diabetes.csv: sklearn/datasets/data/diabetes_data_raw.csv.gz and
  diabetes_target.csv.gz (Efron et al., 442 patients, 10 raw features, disease
  progression after one year as the target).

Both files list their rows sorted by class or in the original order; the training
loop holds out the most recent rows, so the rows are shuffled once with a fixed
seed (data only, no code is copied).
"""
import csv
import gzip
import os
import random

import sklearn

SRC = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data")
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "training")


def iris():
    with open(os.path.join(SRC, "iris.csv")) as f:
        rows = list(csv.reader(f))
    names = rows[0][2:]
    body = [r[:4] + [names[int(r[4])]] for r in rows[1:]]
    random.Random(12).shuffle(body)
    with open(os.path.join(OUT, "iris.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"])
        w.writerows(body)
    return len(body)


def diabetes():
    with gzip.open(os.path.join(SRC, "diabetes_data_raw.csv.gz"), "rt") as f:
        x = [line.split() for line in f if line.strip()]
    with gzip.open(os.path.join(SRC, "diabetes_target.csv.gz"), "rt") as f:
        y = [line.split()[0] for line in f if line.strip()]
    assert len(x) == len(y)
    body = [xi + [yi] for xi, yi in zip(x, y)]
    random.Random(12).shuffle(body)
    with open(os.path.join(OUT, "diabetes.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "target"])
        w.writerows(body)
    return len(body)


print("scikit-learn", sklearn.__version__, "iris", iris(), "diabetes", diabetes())
