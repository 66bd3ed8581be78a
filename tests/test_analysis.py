"""analyze: the language, keywords without its stopwords or markup, VADER's sentiment for
English, reading time; in bounded memory."""

from __future__ import annotations

from docflow.analysis import analyze_document, analyze_text, stopwords, words_of
from fakes import MemoryObjectStore

ENGLISH = (
    "The committee reviewed the budget for the new library building on Tuesday. Members asked "
    "how the library would store its collection of maps, and the architect explained that the "
    "maps would be kept in drawers on the second floor, away from the light of the windows."
)
GERMAN = (
    "Die Gemeinde hat am Dienstag den Haushalt für das neue Bibliotheksgebäude beraten. Die "
    "Mitglieder fragten, wie die Bibliothek ihre Sammlung von Landkarten aufbewahren werde, und "
    "die Architektin erklärte, dass die Landkarten im zweiten Stock in Schubladen liegen würden."
)
FRENCH = (
    "Le conseil municipal a examiné mardi le budget de la nouvelle bibliothèque. Les membres ont "
    "demandé comment la bibliothèque conserverait sa collection de cartes, et l'architecte a "
    "expliqué que les cartes seraient rangées dans des tiroirs au deuxième étage, loin des fenêtres."
)
DUTCH = (
    "De gemeenteraad heeft dinsdag de begroting voor het nieuwe gebouw van de bibliotheek besproken. "
    "De leden vroegen hoe de bibliotheek haar verzameling kaarten zou bewaren, en de architect legde "
    "uit dat de kaarten op de tweede verdieping in laden van een kast zouden liggen, ver van het licht."
)


def top(analysis, n: int = 5) -> list[str]:
    return [keyword["word"] for keyword in analysis.keywords[:n]]


def test_the_language_is_told_from_the_text():
    assert [analyze_text([text]).language for text in (ENGLISH, GERMAN, FRENCH, DUTCH)] == ["en", "de", "fr", "nl"]


def test_too_little_text_has_no_language_and_no_sentiment():
    analysis = analyze_text(["Invoice 2041, total due"])
    assert analysis.language is None and analysis.sentiment is None


def test_keywords_leave_out_the_texts_own_stopwords():
    for text, expected in ((ENGLISH, "library"), (GERMAN, "landkarten"), (FRENCH, "bibliothèque"), (DUTCH, "kaarten")):
        analysis = analyze_text([text])
        assert expected in top(analysis), (analysis.language, analysis.keywords)
        assert not set(top(analysis)) & stopwords(analysis.language), analysis.keywords
    assert not {"het", "van", "een", "voor", "zijn", "de"} & set(top(analyze_text([DUTCH]), 10))


def test_ties_are_alphabetical_and_short_words_and_numbers_are_left_out():
    analysis = analyze_text(["zebra apple mango 2025 2025 2025 ox ox ox"])
    assert [keyword["word"] for keyword in analysis.keywords] == ["apple", "mango", "zebra"]


def test_an_elided_article_is_taken_off_its_word_and_english_contractions_are_kept():
    assert words_of("L'archive d’origine, qu'elle dell'arte") == ["archive", "origine", "elle", "arte"]
    assert words_of("don't, O'Brien, l'a") == ["don't", "o'brien", "l'a"]  # "a" is too short to be a word
    keywords = top(analyze_text([FRENCH + " L'archive, l'archive et l'archive."]), 10)
    assert "archive" in keywords and "l'archive" not in keywords


def test_markup_is_not_a_keyword():
    tex = ["\\def\\macro{\\expandafter\\let\\end} <section><title>Typesetting fonts</title></section>"] * 5
    assert top(analyze_text(tex)) == ["fonts", "typesetting"]


def test_the_stopword_lists_are_real_ones():
    for language, words in {"en": {"the", "which", "however"}, "de": {"und", "der", "nicht"}, "nl": {"het", "een"}}.items():
        assert words <= stopwords(language)
    assert {"the", "und", "les", "het", "della", "los", "uma"} <= stopwords(None)


def test_sentiment_is_vaders_for_english():
    praise = "An excellent, reliable and wonderful product. I love it, and the support team was great and kind to all of us."
    blame = "A terrible, broken and painful failure. I hate it, and the support team was awful and rude to all of us too."
    assert analyze_text([praise]).sentiment["label"] == "positive"
    assert analyze_text([blame]).sentiment["label"] == "negative"
    neutral = analyze_text([ENGLISH]).sentiment
    assert neutral["label"] == "neutral" and neutral["sentences"] == 2
    negated = "This is not good, and the service was never reliable, so I would not buy anything from them again."
    assert analyze_text([negated, negated]).sentiment["label"] == "negative"


def test_a_manual_that_says_false_and_error_is_neutral():
    manual = [
        "The function returns false if the file is missing.",
        "Set the flag to true to enable logging of each request.",
        "An error code is written to the log when the disk is full.",
        "Each option is described in the table below, with its default value.",
        "The parser reads the configuration file once, at start.",
    ] * 20
    assert analyze_text(manual).sentiment["label"] == "neutral"


def test_there_is_no_sentiment_without_a_model_for_the_language():
    assert analyze_text([GERMAN]).sentiment is None


def test_counts_and_reading_time():
    analysis = analyze_text(["word " * 476])
    assert (analysis.word_count, analysis.unique_words, analysis.reading_time_minutes) == (476, 1, 2.0)
    assert analyze_text([]).reading_time_minutes == 0.0


def test_a_large_text_is_read_line_by_line_from_the_store():
    line = "documents flow through the pipeline quickly and reliably\n"
    store = MemoryObjectStore({"documents/d/text.txt": (line * 100_000).encode()})  # about 6 MB
    analysis = analyze_document(store, "documents/d/text.txt")
    assert analysis.word_count == 8 * 100_000
    assert analysis.keywords[0]["count"] == 100_000
    assert analysis.language == "en" and analysis.sentiment["sentences"] > 0
