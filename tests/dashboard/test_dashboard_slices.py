"""AppTest of the model page's "Weak slices" tab on the seeded demo home: the listed
slices are the catalog's ``slices.worst`` rows of the window, by rank, as text."""

from __future__ import annotations

from raigov.home import Home
from raigov.monitors.store import read_metric_rows


def test_the_weak_slices_tab_lists_the_windows_slices_by_rank(signed_in,
                                                               dashboard_home: Home) -> None:
    at = signed_in("vera")
    at.query_params["model"] = "income-classifier"
    at.switch_page("app_pages/model.py").run()
    window = at.selectbox(key="window_income-classifier_1").value
    at.session_state["model_tab"] = "Weak slices"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    rows = read_metric_rows(dashboard_home, model="income-classifier", metric_prefix="slices.")
    rows = rows[rows["window_start"] == window]
    worst = rows[rows["metric"] == "slices.worst"]
    count = rows[rows["metric"] == "slices.count_significant"]
    assert len(count) == 1
    if worst.empty:
        assert any("No slice is significantly worse" in s.value for s in at.success) or \
            any("No weak-slice search" in i.value for i in at.info)
    else:
        by_rank = worst.assign(rank=worst["details"].map(lambda d: d["rank"])).sort_values("rank")
        table = at.dataframe[0].value
        assert table["slice"].tolist() == by_rank["segment"].tolist()
        assert any(f"{int(count['value'].iloc[0])} weak slice(s)" in w.value for w in at.warning)
