"""analyze: keywords without stopwords, sentiment with negation, reading time; in bounded memory."""

from __future__ import annotations

from docflow.analysis import analyze_document, analyze_text, stopwords
from fakes import MemoryObjectStore


def test_keywords_are_ranked_by_frequency_without_stopwords():
    text = ["The the the the cat sat on the mat. The cat, the dog and the mat; cat!"]
    analysis = analyze_text(text)
    assert analysis.keywords[:3] == [{"word": "cat", "count": 3}, {"word": "mat", "count": 2}, {"word": "dog", "count": 1}]
    assert all(keyword["word"] not in stopwords() for keyword in analysis.keywords)


def test_ties_are_alphabetical_and_short_words_and_numbers_are_left_out():
    analysis = analyze_text(["zebra apple mango 2025 2025 2025 ox ox ox"])
    assert [keyword["word"] for keyword in analysis.keywords] == ["apple", "mango", "zebra"]


def test_the_stopword_list_is_a_real_one():
    words = stopwords()
    assert len(words) > 300
    assert {"the", "and", "which", "however", "themselves", "wouldn't"} <= words


def test_sentiment_labels():
    assert analyze_text(["An excellent, reliable and wonderful product. Great support!"]).sentiment["label"] == "positive"
    assert analyze_text(["A terrible, broken and painful failure. Awful support."]).sentiment["label"] == "negative"
    assert analyze_text(["The meeting is on Tuesday in room four."]).sentiment == {
        "label": "neutral", "score": 0.0, "positive_words": 0, "negative_words": 0,
    }


def test_negation_turns_the_polarity():
    assert analyze_text(["This is not good and never reliable."]).sentiment["label"] == "negative"
    assert analyze_text(["The result wasn't bad at all."]).sentiment["label"] == "positive"


def test_counts_and_reading_time():
    analysis = analyze_text(["word " * 476])
    assert (analysis.word_count, analysis.unique_words, analysis.reading_time_minutes) == (476, 1, 2.0)
    assert analyze_text([]).reading_time_minutes == 0.0


def test_a_large_text_is_read_line_by_line_from_the_store():
    line = "documents flow through the pipeline quickly and reliably\n"
    store = MemoryObjectStore({"documents/d/text.txt": (line * 200_000).encode()})  # about 11 MB
    analysis = analyze_document(store, "documents/d/text.txt")
    assert analysis.word_count == 8 * 200_000
    assert analysis.keywords[0]["count"] == 200_000
