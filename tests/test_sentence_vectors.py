"""Sentence vectors kept at ingest, so a quote's key sentence is chosen without running the
encoder (or the sentence splitter) while a member waits for an answer."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from stewardtest import SpanHashEncoder, make_steward

from corpus.chunk import chunk_document
from corpus.store import Store, vector_id
from corpus.types import Document
from embeddings.sentence_store import SentenceStore, sentence_store
from embeddings.spans import pool_spans

STRIKE = (
    "Strike Vote\n\n"
    "The nurses at Mercy voted 94 percent to authorise a strike. Safe staffing ratios were the "
    "main issue. The employer refused enforceable limits for eighteen months.\n\n"
    "Picket captains meet on Tuesday at the hall. Bring water and comfortable shoes."
)
PENSION = (
    "Pension Plan\n\n"
    "The pension fund is jointly trusteed. Members vest after five years of service. "
    "The trustees publish an annual report every March."
)


def write_docs(folder: Path) -> list[str]:
    folder.mkdir()
    paths = []
    for name, text in (("strike.txt", STRIKE), ("pension.txt", PENSION)):
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(str(folder / name))
    return paths


@pytest.fixture
def span_steward(tmp_path: Path):
    encoder = SpanHashEncoder()
    steward = make_steward(tmp_path / "data", encoder, samples__auto_ingest=False)
    report = steward.ingest(write_docs(tmp_path / "docs"))
    assert not report.failed
    yield steward, encoder
    steward.close()


def kept_rows(steward) -> int:
    return sentence_store(steward.generations.root, steward.index_settings, 384).count()


def test_passages_carry_the_chunkers_sentences() -> None:
    document = Document(source="x.txt", title="Strike Vote", text=STRIKE, doc_id="d")
    for passage in chunk_document(document):
        texts = [STRIKE[a:b] for a, b in passage.sentences]
        assert passage.sentences[0][0] == passage.start and passage.sentences[-1][1] == passage.end
        assert all(t and t in passage.text for t in texts)
    assert "Safe staffing ratios were the main issue." in texts


def test_the_store_keeps_sentences_and_upgrades_an_older_file(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    Store(path).close()
    # A store written by Steward 0.1 before the sentences column: schema 1, no migrations.
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE passages DROP COLUMN sentences")
    conn.execute("DROP TABLE migrations")
    conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    document = Document(source="x.txt", title="Strike Vote", text=STRIKE, doc_id="d")
    passages = chunk_document(document)
    store = Store(path)  # adds the column back
    store.upsert(document, passages)
    got = store.passages_of("d")
    assert [p.sentences for p in got] == [p.sentences for p in passages]
    vid = vector_id(passages[0].passage_id)
    assert store.sentences_for([vid])[vid][0] == (0, passages[0].sentences[0][1] - passages[0].start)
    store.execute("UPDATE passages SET sentences=NULL")  # as rows written before the column
    assert store.sentences_for([vid]) == {} and store.passages_of("d")[0].sentences == ()
    store.close()


def test_pool_spans_averages_the_tokens_of_each_span_and_marks_unseen_ones() -> None:
    states = np.array([[9, 9], [1, 0], [3, 0], [0, 2], [9, 9]], dtype=np.float32)
    offsets = [(0, 0), (0, 3), (4, 7), (8, 12), (0, 0)]  # [CLS] abc def ghij [SEP]
    special = [1, 0, 0, 0, 1]
    got = pool_spans(states, offsets, special, [(0, 7), (8, 12), (8, 20)])
    assert np.allclose(got[0], [1, 0]) and np.allclose(got[1], [0, 1])
    assert np.isnan(got[2]).all()  # the text was cut before this span ended


def test_sentence_store_round_trip_removal_and_damage(tmp_path: Path, caplog) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(3, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = SentenceStore(tmp_path / "s.sqlite", 384)
    store.put([(7, [(0, 5), (6, 9), (10, 30)], vectors), (8, [(0, 4)], vectors[:1])])
    spans, got = store.get([7, 99])[7]
    assert spans == [(0, 5), (6, 9), (10, 30)]
    assert np.min(np.sum(got * vectors, axis=1)) > 0.999  # int8 storage keeps cosines
    store.remove([8])
    assert set(store.get([7, 8])) == {7}
    store.retain(np.array([8]))
    assert store.count() == 0
    store.close()

    (tmp_path / "s.sqlite").write_bytes(b"not a database" * 100)
    reader = SentenceStore(tmp_path / "s.sqlite", 384)
    with caplog.at_level(logging.WARNING):
        assert reader.get([7]) == {}  # answers go on without them
    assert "cannot read sentence vectors" in caplog.text
    writer = SentenceStore(tmp_path / "s.sqlite", 384)
    writer.put([(7, [(0, 5)], vectors[:1])])  # a damaged file is set aside, not fatal
    assert set(writer.get([7])) == {7} and (tmp_path / "s.damaged").exists()
    assert set(reader.get([7])) == {7}  # the serving side picks up the fresh file


def test_answers_use_the_kept_vectors_and_encode_only_the_question(span_steward) -> None:
    steward, encoder = span_steward
    passages = steward.store.counts()[1]
    assert kept_rows(steward) == passages
    assert steward.stats()["passages_with_sentence_vectors"] == passages
    before = encoder.encoded
    answer = steward.ask("were safe staffing ratios the issue?")
    assert encoder.encoded == before + 1  # the question; no sentence encoded while asking
    assert answer.quotes and answer.quotes[0].key_sentence == "Safe staffing ratios were the main issue."
    document = steward.store.document(answer.quotes[0].doc_id)
    assert document.text[answer.quotes[0].start : answer.quotes[0].end] == answer.quotes[0].text


def test_sentences_past_the_encoders_reach_are_encoded_when_a_question_needs_them(tmp_path: Path) -> None:
    encoder = SpanHashEncoder(seen_chars=60)  # sees the title and little more
    steward = make_steward(tmp_path / "data", encoder, samples__auto_ingest=False)
    steward.ingest(write_docs(tmp_path / "docs"))
    assert encoder.encoded == steward.store.counts()[1]  # ingest encoded each passage once, nothing more
    store = sentence_store(steward.generations.root, steward.index_settings, 384)
    doc_id = next(d.doc_id for d in steward.store.documents() if d.title == "Strike Vote")
    passage = steward.store.passages_of(doc_id)[0]
    _spans, vectors = store.get([vector_id(passage.passage_id)])[vector_id(passage.passage_id)]
    unseen = np.isnan(vectors[:, 0])
    assert unseen.any() and not unseen.all()  # kept as "not seen", not as a wrong vector
    all_rows = store.get([vector_id(p.passage_id) for d in steward.store.documents()
                          for p in steward.store.passages_of(d.doc_id)])
    all_unseen = sum(int(np.isnan(v[:, 0]).sum()) for _spans, v in all_rows.values())
    before = encoder.encoded
    answer = steward.ask("Bring water and comfortable shoes to the picket?")
    # The question, and some unseen sentences of the quoted passages; never a seen one.
    assert before + 1 + int(unseen.sum()) <= encoder.encoded <= before + 1 + all_unseen
    assert answer.quotes[0].key_sentence == "Bring water and comfortable shoes."
    steward.close()


def test_removing_and_reindexing_drop_rows_of_passages_that_are_gone(span_steward) -> None:
    steward, _encoder = span_steward
    pension = next(d.doc_id for d in steward.store.documents() if d.title == "Pension Plan")
    steward.remove(pension)
    assert kept_rows(steward) == steward.store.counts()[1]
    store = sentence_store(steward.generations.root, steward.index_settings, 384)
    store.put([(12345, [(0, 3)], np.ones((1, 384), np.float32))])  # a leftover of a killed ingest
    stale = steward.generations.root / "sentences-0123456789ab.sqlite"  # from an earlier model
    stale.write_bytes(b"old")
    steward.reindex()
    assert kept_rows(steward) == steward.store.counts()[1]
    assert not stale.exists()


def test_answers_still_work_without_kept_vectors(span_steward) -> None:
    steward, encoder = span_steward
    for path in steward.generations.root.glob("sentences-*"):
        path.unlink()
    assert steward.stats()["passages_with_sentence_vectors"] == 0  # what tells an admin to reindex
    before = encoder.encoded
    answer = steward.ask("were safe staffing ratios the issue?")
    assert encoder.encoded > before + 1  # the sentences were encoded now, the slow way
    assert answer.quotes[0].key_sentence == "Safe staffing ratios were the main issue."


def test_the_real_encoders_sentence_vectors_match_encoding_each_sentence(real_encoder) -> None:
    title = "Strike Vote"
    body = STRIKE.split("\n\n", 1)[1]
    text = f"{title}\n{body}"
    document = Document(source="x.txt", title=title, text=body, doc_id="d")
    spans = [(a + len(title) + 1, b + len(title) + 1) for a, b in chunk_document(document)[0].sentences]
    vectors, pooled = real_encoder.encode_with_spans([text], [spans])
    assert float(vectors[0] @ real_encoder.encode([text])[0]) > 0.99
    alone = real_encoder.encode([text[a:b] for a, b in spans])
    cosines = np.sum(pooled[0] * alone, axis=1)
    # In context a sentence's vector leans toward the passage's theme, but of all the kept
    # vectors, the one nearest each sentence (encoded alone, as a question quoting it would
    # be) is that sentence's own.
    assert (np.argmax(pooled[0] @ alone.T, axis=0) == np.arange(len(spans))).all()
    assert cosines.min() > 0.4


def test_a_refused_sentence_write_is_logged_and_the_ingest_goes_on(tmp_path: Path, caplog) -> None:
    path = tmp_path / "s.sqlite"
    store = SentenceStore(path, 384)
    store.put([(1, [(0, 3)], np.ones((1, 384), np.float32))])
    store.close()
    # The disk refusing writes (full, read-only) looks like this to SQLite.
    store._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
    with caplog.at_level(logging.WARNING):
        store.put([(2, [(0, 3)], np.ones((1, 384), np.float32))])
    assert "sentence vectors not updated" in caplog.text
    assert set(SentenceStore(path, 384).get([1, 2])) == {1}  # what was there is intact


CONFIDENCE_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from stewardtest import SpanHashEncoder, make_steward
steward = make_steward(Path({data!r}), SpanHashEncoder(), samples__auto_ingest=False)
print(repr(steward.ask("Did the Mercy nurses vote to strike over staffing ratios?").confidence))
steward.close()
"""


def test_confidence_is_the_same_whatever_the_hash_seed(span_steward) -> None:
    # Each question word's rarity weighs its share of the confidence; once, words were paired
    # with other words' rarities in set order, so the same question scored differently from
    # one process to the next (PYTHONHASHSEED) and answers near the threshold flipped.
    steward, _ = span_steward
    script = CONFIDENCE_SCRIPT.format(tests=str(Path(__file__).parent), data=str(steward.data_dir))
    steward.close()
    seen = set()
    for seed in ("1", "2", "3", "4", "5"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        seen.add(run.stdout.strip().splitlines()[-1])
    assert len(seen) == 1, seen
