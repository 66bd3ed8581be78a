"""analyze: language, keywords, sentiment and reading time of a text, read from S3 line by
line so a text of any length is analysed in bounded memory.

- language: py3langid (langid.py's model, 97 languages) on the text's first
  LANGUAGE_SAMPLE_CHARS; null when there are fewer than MIN_WORDS_FOR_LANGUAGE words or the
  model is not sure.
- keywords: the most frequent words, leaving out the stopwords of the text's language and
  English's (stopwords-iso), numbers, words under MIN_KEYWORD_LENGTH letters, and markup: a
  TeX control word (\\def, \\expandafter) or an XML or HTML tag name.
- sentiment: VADER (a lexicon and rules tuned on English), the mean compound score of the
  sentences of the first MAX_SENTIMENT_WORDS words; null for any other language, which it has no
  lexicon for. A manual's sentences are mostly neutral, so the mean calls it neutral where
  counting its "false" and "error" would not.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cache
from itertools import chain
from typing import Any

from docflow.storage import ObjectStore

KEYWORDS = 10
MIN_KEYWORD_LENGTH = 3
WORDS_PER_MINUTE = 238  # adults reading non-fiction silently (Brysbaert, 2019)
LANGUAGE_SAMPLE_CHARS = 20_000
MIN_WORDS_FOR_LANGUAGE = 20
MIN_LANGUAGE_CONFIDENCE = 0.5
# VADER's thresholds for a compound score: at or beyond ±0.05 the text leans one way.
SENTIMENT_THRESHOLD = 0.05
# VADER takes about 10 µs a word: the first 100,000 words (some 200 pages) take a second.
MAX_SENTIMENT_WORDS = 100_000
MAX_SENTENCE_CHARS = 500
SENTIMENT_LANGUAGES = frozenset({"en"})

# A word: letters (any script), with inner apostrophes or hyphens ("don't", "well-made").
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
# Markup that is not the text's own words: a TeX control word, an XML or HTML tag's name.
_MARKUP = re.compile(r"\\[^\W\d_]+|</?[^\W\d_][\w:.-]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_ELISION = re.compile(
    r"^(?:c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu|all|dall|dell|nell|sull|un|quest|quell)'(?=[^\W\d_]{2})"
)


@dataclass(frozen=True)
class Analysis:
    language: str | None
    keywords: list[dict]
    sentiment: dict | None
    word_count: int
    unique_words: int
    reading_time_minutes: float

    def to_dict(self) -> dict:
        return asdict(self)


def words_of(line: str) -> list[str]:
    """The words of a line, lower case, markup left out, and French and Italian elided
    articles and prepositions taken off the word they lean on ("l'archive" -> "archive",
    "dell'arte" -> "arte"): a reader searches for the word."""
    text = _MARKUP.sub(" ", line)
    return [_ELISION.sub("", match.group().lower().replace("’", "'")) for match in _WORD.finditer(text)]


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(sample: str, words: int) -> str | None:
    """The sample's ISO 639-1 language, or None when it is too short or the model unsure."""
    if words < MIN_WORDS_FOR_LANGUAGE:
        return None
    language, confidence = _identifier().classify(sample)
    return str(language) if confidence >= MIN_LANGUAGE_CONFIDENCE else None


@cache
def stopwords(language: str | None) -> frozenset[str]:
    """Words that say nothing of a text's subject: its language's and English's, which
    texts in every language quote. Unknown language: those of every language docflow
    names in its documentation."""
    import stopwordsiso

    languages = {"en", language} if language else {"en", "de", "fr", "es", "it", "pt", "nl"}
    return frozenset(stopwordsiso.stopwords([code for code in languages if stopwordsiso.has_lang(code)]))


@dataclass
class _Sentiment:
    """VADER's mean compound score over sentences, fed a line at a time."""

    scores: list[float] = field(default_factory=list)
    words: int = 0
    pending: str = ""

    def feed(self, line: str) -> None:
        if self.words >= MAX_SENTIMENT_WORDS:
            return
        *complete, self.pending = _SENTENCE_END.split(f"{self.pending} {line.strip()}".strip())
        if len(self.pending) > MAX_SENTENCE_CHARS:  # text without punctuation: a table, a list
            complete.append(self.pending)
            self.pending = ""
        for sentence in complete:
            self._score(sentence)

    def result(self) -> dict:
        if self.pending:
            self._score(self.pending)
            self.pending = ""
        score = sum(self.scores) / len(self.scores) if self.scores else 0.0
        leaning = "positive" if score >= SENTIMENT_THRESHOLD else "negative"
        return {
            "label": leaning if abs(score) >= SENTIMENT_THRESHOLD else "neutral",
            "score": round(score, 3),
            "sentences": len(self.scores),
            "positive_sentences": sum(s >= SENTIMENT_THRESHOLD for s in self.scores),
            "negative_sentences": sum(s <= -SENTIMENT_THRESHOLD for s in self.scores),
        }

    def _score(self, sentence: str) -> None:
        if self.words < MAX_SENTIMENT_WORDS:
            self.scores.append(_vader().polarity_scores(sentence)["compound"])
            self.words += len(sentence.split())


@cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def analyze_text(lines: Iterable[str]) -> Analysis:
    remaining = iter(lines)
    # The language decides the stopwords and whether there is a sentiment model: it is told
    # from the first lines, and every line then goes through the same pass.
    sample = list(_first_chars(remaining, LANGUAGE_SAMPLE_CHARS))
    sample_words = [words_of(line) for line in sample]
    language = detect_language(" ".join(sample), sum(map(len, sample_words)))
    sentiment = _Sentiment() if language in SENTIMENT_LANGUAGES else None
    counts: Counter[str] = Counter()
    total = 0
    for line, words in chain(zip(sample, sample_words, strict=True), ((line, words_of(line)) for line in remaining)):
        total += len(words)
        counts.update(words)
        if sentiment:
            sentiment.feed(line)
    ignored = stopwords(language)
    keywords = sorted(
        ((word, count) for word, count in counts.items() if len(word) >= MIN_KEYWORD_LENGTH and word not in ignored),
        key=lambda item: (-item[1], item[0]),
    )[:KEYWORDS]
    return Analysis(
        language=language,
        keywords=[{"word": word, "count": count} for word, count in keywords],
        sentiment=sentiment.result() if sentiment else None,
        word_count=total,
        unique_words=len(counts),
        reading_time_minutes=round(total / WORDS_PER_MINUTE, 1),
    )


def _first_chars(lines: Iterator[str], chars: int) -> Iterator[str]:
    """Lines from `lines` until they hold `chars` characters; the rest stay in `lines`."""
    taken = 0
    for line in lines:
        yield line
        taken += len(line)
        if taken >= chars:
            return


def analyze_document(store: ObjectStore, text_key: str) -> Analysis:
    with io.TextIOWrapper(store.open(text_key), encoding="utf-8", errors="replace") as lines:
        return analyze_text(lines)
