"""Official CoCu extraction (every n-gram) and substring membership, against hand-worked
captions and the per-image official loop; the gallery JSON as a vocabulary."""

import json

import faiss
import numpy as np
import pytest

from cocu.curation.core import ConceptLists, curate_block, reference_similarities
from cocu.data.vocab import vocab_hash
from cocu.curation.reference import reference_curate
from cocu.data.vocab import Vocabulary
from cocu.errors import CocuError

NAMES = ["card", "greeting card", "car", "man", "woman", "dog", "hot dog", "person"]


@pytest.fixture(scope="module")
def vocabs():
    groups = [[n] for n in NAMES[:-1]] + [["person", "people"]]
    return Vocabulary(groups), Vocabulary(groups, extraction="official")


@pytest.mark.parametrize("caption, longest, official", [
    ("A greeting card with a dog", ["greeting card", "dog"], ["greeting card", "card", "dog"]),
    ("Two women and a man", ["woman", "man"], ["woman", "man"]),
    ("hot dogs on cards", ["hot dog", "card"], ["hot dog", "dog", "card"]),
    ("people by a car, a card and a greeting-card", ["person", "car", "card", "greeting card"],
     ["person", "car", "card", "greeting card"]),
    ("a scarf on a category", [], []),  # n-grams are whole words in both semantics
])
def test_hand_worked_captions(vocabs, caption, longest, official):
    ours, off = vocabs
    assert ours.extract_names(caption) == longest
    assert off.extract_names(caption) == official


def test_substring_closure_by_hand(vocabs):
    _, off = vocabs
    got = {NAMES[a]: sorted(NAMES[b] for b in c) for a, c in enumerate(off.substring_closure())}
    assert got["greeting card"] == ["car", "card", "greeting card"]
    assert got["card"] == ["car", "card"] and got["car"] == ["car"]
    assert got["woman"] == ["man", "woman"] and got["hot dog"] == ["dog", "hot dog"]
    assert got["person"] == ["person"]


def test_expand_marks_only_named_concepts(vocabs):
    _, off = vocabs
    cl = ConceptLists.from_lists([[1], [4, 3], [], [2]])  # greeting card | woman, man | - | car
    members, own = cl.expand(off.substring_closure())
    rows = [[(NAMES[c], bool(o)) for c, o in zip(members.row(i), own[members.indptr[i]:members.indptr[i + 1]])]
            for i in range(4)]
    assert rows == [[("card", False), ("greeting card", True), ("car", False)],
                    [("man", True), ("woman", True)], [], [("car", True)]]


def test_substring_membership_by_hand(vocabs):
    """Anchor with hits A (greeting card) and B (car): the archive is {greeting card, car};
    car has both hits as references, because "car" is in "greeting card"."""
    _, off = vocabs
    v = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], dtype=np.float32)  # anchor, A, B
    t = np.zeros((len(NAMES), 2), dtype=np.float32)
    t[:, 0] = 1.0
    t[2] = [0.0, 1.0]  # car
    cl, own = ConceptLists.from_lists([[], [1], [2]]).expand(off.substring_closure())
    ref = reference_similarities(cl, v, t)
    block = curate_block(v[:1], np.array([[1, 2]]), cl, ref, t, explicit=own)
    a = block.anchor(0)
    got = {NAMES[c]: (int(n), float(sa), float(sb)) for c, n, sa, sb in
           zip(a["concept_ids"], a["n_refs"], a["s_a"], a["s_b"])}
    # car: s_a = 0, v_c = [t·A, t·B, t·anchor] = [0.8, 1.0, 0] → s_b = 0
    # greeting card: s_a = 1, v_c = [0.6, 1] → s_b = 1 / 0.8
    assert got == {"greeting card": (1, 1.0, pytest.approx(1.25)), "car": (2, 0.0, 0.0)}


def test_official_curation_equals_the_official_loop(vocabs):
    _, off = vocabs
    rng = np.random.default_rng(0)
    caps = ["a greeting card", "a car and a card", "women", "a man with a hot dog", "dogs",
            "a person and a card", "cars", "a greeting card for a woman"]
    lists = [off.extract(caps[i % len(caps)]) for i in range(60)]
    v = rng.standard_normal((60, 6)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    t = rng.standard_normal((len(NAMES), 6)).astype(np.float32)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(6)
    index.add(v)
    cl, own = ConceptLists.from_lists(lists).expand(off.substring_closure())
    hits = index.search(v, 8)[1]
    block = curate_block(v, hits, cl, reference_similarities(cl, v, t), t, explicit=own)
    ref = reference_curate(v, index, v, lists, off.concepts, t, 8, substring=True)
    plain = reference_curate(v, index, v, lists, off.concepts, t, 8)
    differs = 0
    for i, expected in enumerate(ref):
        a = block.anchor(i)
        assert [off.concepts[c] for c in a["concept_ids"]] == list(expected)
        np.testing.assert_allclose(a["score"], list(expected.values()), rtol=1e-5, atol=1e-5)
        differs += plain[i] != expected
    assert differs > 0  # substring membership changes some archives' scores


def test_gallery_json_is_a_vocabulary(tmp_path):
    p = tmp_path / "gallery.json"
    p.write_text(json.dumps({"concept": ["person", "greeting card", "card", "glasses", "glass", "card"]}))
    v = Vocabulary.from_file(p, extraction="official")
    assert v.concepts == ["person", "greeting card", "card", "glasses", "glass"]
    assert v.extract_names("two greeting cards and glasses") == ["greeting card", "card", "glasses"]
    assert v.extract_names("persons") == ["person"]  # plurals matched as for any vocabulary
    assert vocab_hash(v) != vocab_hash(v.with_extraction("longest"))
    (tmp_path / "bad.json").write_text(json.dumps({"concepts": ["x"]}))
    with pytest.raises(CocuError, match="a gallery is"):
        Vocabulary.from_file(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(CocuError, match="cannot read gallery"):
        Vocabulary.from_file(tmp_path / "broken.json")
    with pytest.raises(CocuError, match="extraction must be"):
        Vocabulary([["a"]], extraction="fuzzy")
