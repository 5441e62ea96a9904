"""The report's diagrams: the critical-difference diagram agrees with the pairwise decisions."""

from __future__ import annotations

import ganbench.report.diagrams as diagrams
import ganbench.report.ranking as ranking
from ganbench.report.ranking import overall_ranking
from tests.report.test_ranking import NAME, PRIMARY, _decisions, _runs, _table


def test_cd_figure_draws_the_groups_with_their_members_marked(tmp_path) -> None:
    runs = _runs(_table())
    r = overall_ranking(runs, PRIMARY, NAME, _decisions(runs))
    fig = diagrams.cd_figure(r.mean_ranks, ranking.joined_matrix(r), "test")
    fig.savefig(tmp_path / "cd.png")
    crossbars = [tuple(line.get_xdata()) for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert crossbars == [(2.5, 2.5)]  # one group, joining same1 and same2 (both at mean rank 2.5)
