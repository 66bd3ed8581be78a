"""analyze: keywords, sentiment and reading time of a text, read from S3 line by line so a
text of any length is analysed in bounded memory."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources

from docflow.storage import ObjectStore

KEYWORDS = 10
MIN_KEYWORD_LENGTH = 3
WORDS_PER_MINUTE = 238  # adults reading non-fiction silently (Brysbaert, 2019)
SENTIMENT_THRESHOLD = 0.2
NEGATION_WINDOW = 3  # "not very good": a negation reaches this many words ahead

# A word: letters (any script), with inner apostrophes or hyphens ("don't", "well-made").
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "cannot", "neither", "nobody", "nothing", "none"})


@cache
def _word_list(name: str) -> frozenset[str]:
    text = resources.files("docflow").joinpath("data", name).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def stopwords() -> frozenset[str]:
    return _word_list("stopwords_en.txt")


@dataclass(frozen=True)
class Analysis:
    keywords: list[dict]
    sentiment: dict
    word_count: int
    unique_words: int
    reading_time_minutes: float

    def to_dict(self) -> dict:
        return asdict(self)


def words_of(line: str) -> list[str]:
    return [match.group().lower().replace("’", "'") for match in _WORD.finditer(line)]


def analyze_text(lines: Iterable[str]) -> Analysis:
    ignored = stopwords()
    positive, negative = _word_list("sentiment_positive.txt"), _word_list("sentiment_negative.txt")
    counts: Counter[str] = Counter()
    total = positives = negatives = 0
    negated_for = 0  # how many more words the last negation still reaches
    for line in lines:
        for word in words_of(line):
            total += 1
            counts[word] += 1
            if word in _NEGATIONS or word.endswith("n't"):
                negated_for = NEGATION_WINDOW
                continue
            polarity = (word in positive) - (word in negative)
            if negated_for:
                negated_for -= 1
                polarity = -polarity
            positives += polarity > 0
            negatives += polarity < 0
    keywords = sorted(
        (
            (word, count)
            for word, count in counts.items()
            if len(word) >= MIN_KEYWORD_LENGTH and word not in ignored and word not in _NEGATIONS
        ),
        key=lambda item: (-item[1], item[0]),
    )[:KEYWORDS]
    return Analysis(
        keywords=[{"word": word, "count": count} for word, count in keywords],
        sentiment=_sentiment(positives, negatives),
        word_count=total,
        unique_words=len(counts),
        reading_time_minutes=round(total / WORDS_PER_MINUTE, 1),
    )


def _sentiment(positives: int, negatives: int) -> dict:
    score = (positives - negatives) / (positives + negatives) if positives + negatives else 0.0
    label = "positive" if score >= SENTIMENT_THRESHOLD else "negative" if score <= -SENTIMENT_THRESHOLD else "neutral"
    return {"label": label, "score": round(score, 3), "positive_words": positives, "negative_words": negatives}


def analyze_document(store: ObjectStore, text_key: str) -> Analysis:
    with io.TextIOWrapper(store.open(text_key), encoding="utf-8", errors="replace") as lines:
        return analyze_text(lines)
