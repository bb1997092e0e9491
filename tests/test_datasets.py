"""estimators.datasets: the tutorial's numbers and the generators with known truth."""

import numpy as np
import pandas as pd
import pytest

from estimators import datasets


def test_seed_sample_is_the_tutorials_ten_numbers():
    df = datasets.seed_sample()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["x"]
    assert df["x"].tolist() == [
        0.2898,
        4.0190,
        2.5984,
        3.6664,
        0.5830,
        7.0064,
        0.5180,
        4.6814,
        6.7381,
        3.3146,
    ]
    assert df["x"].mean() == pytest.approx(3.34151, abs=1e-12)


@pytest.mark.parametrize(
    "generator", [datasets.uniform_sample, datasets.normal_sample, datasets.contaminated_sample]
)
def test_generators_are_seeded_and_carry_their_truth(generator):
    a, b, c = generator(500, seed=3), generator(500, seed=3), generator(500, seed=4)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert not np.array_equal(a.data["x"], c.data["x"])
    assert len(a.data) == 500 and "mean" in a.truth and a.description


def test_generated_samples_are_near_their_truth():
    sim = datasets.normal_sample(20_000, mean=2.0, sd=3.0, seed=0)
    assert abs(sim.data["x"].mean() - sim.truth["mean"]) < 4 * 3.0 / np.sqrt(20_000)
    sim = datasets.uniform_sample(20_000, low=0, high=8, seed=0)
    assert abs(sim.data["x"].std() - sim.truth["sd"]) < 0.05
    sim = datasets.contaminated_sample(20_000, fraction=0.1, seed=0)
    assert 0.08 < sim.data["outlier"].mean() < 0.12


def test_bad_generator_arguments():
    with pytest.raises(ValueError, match="positive"):
        datasets.normal_sample(0)
    with pytest.raises(ValueError, match="fraction"):
        datasets.contaminated_sample(10, fraction=1.5)


def test_every_shipped_data_set_loads_and_has_a_provenance_note():
    table = datasets.list_datasets()
    assert {"stackloss", "longley", "anes96", "randhie", "engel", "strikes", "michelson"} <= set(
        table["name"]
    )
    for name in table["name"]:
        frame = datasets.load_dataset(name)
        assert len(frame) > 0 and frame.notna().all().all()
        note = datasets.describe_dataset(name)
        for word in ("Source", "Licence", "Rows"):
            assert word in note, (name, word)


def test_known_shapes_of_the_classics():
    assert datasets.load_dataset("stackloss").shape == (21, 4)
    assert datasets.load_dataset("longley").shape == (16, 7)
    assert datasets.load_dataset("michelson")["speed"].mean() == pytest.approx(299.8524, abs=1e-10)


def test_unknown_data_set_lists_the_available_ones():
    with pytest.raises(KeyError, match="stackloss"):
        datasets.load_dataset("iris")
