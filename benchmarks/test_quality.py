"""What documents yield, on manuals nobody here wrote (benchmarks/quality.py): word recall of
scans, mixed PDFs and photos, no words invented on pictures, previews, language, keywords
free of stopwords, and no ligature or loose accent. A miss prints MISS and fails nothing."""

from __future__ import annotations

import pytest

from benchmarks import quality


@pytest.mark.skipif(not quality.available(), reason="needs groff, manpages-de and manpages-fr")
def test_quality_on_unseen_manuals(benchmark):
    rows = benchmark.pedantic(quality.run, rounds=1, iterations=1)
    print("\n" + quality.format_rows(rows))
    recalls: dict[str, list[float]] = {}
    for row in rows:
        if row.recall is not None:
            recalls.setdefault(row.kind, []).append(row.recall)
    benchmark.extra_info.update(
        documents=len(rows),
        missed=[row.file for row in rows if row.problems],
        min_recall={kind: round(min(values), 3) for kind, values in recalls.items()},
    )
    assert rows, "no documents were checked"
