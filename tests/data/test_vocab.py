"""Vocabulary parsing and concept extraction (hand cases), and the shipped default vocabulary."""

from __future__ import annotations

import pytest

from cocu.data.synth_classes import OBJECT_CLASSES, STUFF_CLASSES
from cocu.data.vocab import Vocabulary, normalize, substring_concepts, vocab_hash
from cocu.errors import CocuError

TEXT = """
# a comment line
dog, puppy, kuvasz
man          # trailing comment
woman
car, automobile
race car
traffic light
light
bus
eyeglasses, glasses
glass
person, people
chest of drawers, dresser
T-Shirt
cat
"""


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.from_text(TEXT)


def ids(vocab: Vocabulary, caption: str) -> list[str]:
    return vocab.extract_names(caption)


def test_file_format(vocab, tmp_path):
    assert len(vocab) == 14
    assert vocab.concepts[:3] == ["dog", "man", "woman"]
    assert vocab.synonyms(0) == ["dog", "puppy", "kuvasz"]
    assert vocab.concepts[-2] == "t shirt"  # punctuation normalised in names too
    path = tmp_path / "v.txt"
    vocab.write(path)
    again = Vocabulary.from_file(path)
    assert again.concepts == vocab.concepts and vocab_hash(again) == vocab_hash(vocab)
    with pytest.raises(CocuError, match="already belongs"):
        Vocabulary.from_text("dog, puppy\ncat, puppy\n")
    with pytest.raises(CocuError, match="no concepts"):
        Vocabulary.from_text("# nothing\n")
    with pytest.raises(CocuError, match="does not exist"):
        Vocabulary.from_file(tmp_path / "missing.txt")


def test_word_boundaries_unlike_official_substring_test(vocab):
    # the official CoCu code tests `concept in caption`: "man" is found in "woman"
    assert ids(vocab, "a woman walking") == ["woman"]
    assert "man" in [vocab.concepts[c] for c in substring_concepts("a woman walking", vocab)]
    assert ids(vocab, "a category of scarfs") == []
    assert {vocab.concepts[c] for c in substring_concepts("a category of scarfs", vocab)} == {"cat", "car"}
    assert ids(vocab, "a man and a woman") == ["man", "woman"]


def test_synonyms_case_punctuation_order_dedup(vocab):
    assert ids(vocab, "A PUPPY, a Kuvasz and a dog!") == ["dog"]
    assert ids(vocab, "an automobile... next to a puppy") == ["car", "dog"]
    assert ids(vocab, "the dog's t-shirt") == ["dog", "t shirt"]
    assert ids(vocab, "the dog’s T shirt") == ["dog", "t shirt"]
    assert ids(vocab, "") == [] and ids(vocab, "!!!") == []


def test_longest_match_first(vocab):
    assert ids(vocab, "a race car at the traffic light") == ["race car", "traffic light"]
    assert ids(vocab, "a car under a light") == ["car", "light"]
    assert ids(vocab, "an old chest of drawers") == ["chest of drawers"]
    assert ids(vocab, "a chest") == []


def test_plurals(vocab):
    assert ids(vocab, "three dogs and two puppies") == ["dog"]
    assert ids(vocab, "race cars at traffic lights") == ["race car", "traffic light"]
    assert ids(vocab, "women and men") == ["woman", "man"]
    assert ids(vocab, "people") == ["person"] and ids(vocab, "persons") == ["person"]
    assert ids(vocab, "chests of drawers") == ["chest of drawers"]
    # words inflect mangles keep their meaning: bus -> "bu", glasses -> "glass"
    assert ids(vocab, "a bus and two buses") == ["bus"]
    assert ids(vocab, "reading glasses") == ["eyeglasses"]
    assert ids(vocab, "a glass of water and two glasses") == ["glass", "eyeglasses"]
    assert ids(vocab, "this is") == []  # inflect: this -> "thi", is -> "i": not vocabulary words


def test_index(vocab):
    assert vocab.index("Puppies") == 0 and vocab.index("kuvasz") == 0
    assert "puppy" in vocab and "cow" not in vocab
    with pytest.raises(CocuError, match="not in vocabulary"):
        vocab.index("cow")


def test_ngrams_longer_than_four_words_are_rejected():
    with pytest.raises(CocuError, match="more than 4 words"):
        Vocabulary.from_text("one two three four five\n")


def test_normalize():
    assert normalize("Hello, World! It's a T-shirt.") == ("hello", "world", "it", "a", "t", "shirt")


# --- the shipped default vocabulary ------------------------------------------------

VOC = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
       "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]
CONTEXT59 = ["aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book", "bottle",
             "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer", "cow", "cup",
             "curtain", "dog", "door", "fence", "floor", "flower", "food", "grass", "ground", "horse", "keyboard",
             "light", "motorbike", "mountain", "mouse", "person", "plate", "platform", "pottedplant", "road",
             "rock", "sheep", "shelves", "sidewalk", "sign", "sky", "snow", "sofa", "table", "track", "train",
             "tree", "truck", "tvmonitor", "wall", "water", "window", "wood"]
COCO80 = ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
          "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
          "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
          "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
          "surfboard", "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana",
          "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
          "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
          "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock",
          "vase", "scissors", "teddy bear", "hair drier", "toothbrush"]
COCO_STUFF91 = ["banner", "blanket", "branch", "bridge", "building-other", "bush", "cabinet", "cage", "cardboard",
                "carpet", "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds", "counter", "cupboard",
                "curtain", "desk-stuff", "dirt", "door-stuff", "fence", "floor-marble", "floor-other",
                "floor-stone", "floor-tile", "floor-wood", "flower", "fog", "food-other", "fruit",
                "furniture-other", "grass", "gravel", "ground-other", "hill", "house", "leaves", "light", "mat",
                "metal", "mirror-stuff", "moss", "mountain", "mud", "napkin", "net", "paper", "pavement", "pillow",
                "plant-other", "plastic", "platform", "playingfield", "railing", "railroad", "river", "road",
                "rock", "roof", "rug", "salad", "sand", "sea", "shelf", "sky-other", "skyscraper", "snow",
                "solid-other", "stairs", "stone", "straw", "structural-other", "table", "tent", "textile-other",
                "towel", "tree", "vegetable", "wall-brick", "wall-concrete", "wall-other", "wall-panel",
                "wall-stone", "wall-tile", "wall-wood", "water-other", "waterdrops", "window-blind",
                "window-other", "wood"]
ADE150 = ["wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
          "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
          "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence",
          "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column",
          "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator",
          "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway",
          "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench",
          "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar",
          "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier", "awning",
          "streetlight", "booth", "television receiver", "airplane", "dirt track", "apparel", "pole", "land",
          "bannister", "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship", "fountain",
          "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
          "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank", "trade name",
          "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood",
          "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
          "bulletin board", "shower", "radiator", "glass", "clock", "flag"]
CITYSCAPES = ["road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
              "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
              "bicycle"]


def test_default_vocabulary_size_and_benchmark_coverage():
    v = Vocabulary.default()
    assert 300 <= len(v) <= 1000
    assert len(ADE150) == 150 and len(CONTEXT59) == 59 and len(COCO80) == 80 and len(COCO_STUFF91) == 91
    missing = []
    for name in VOC + CONTEXT59 + COCO80 + COCO_STUFF91 + ADE150 + CITYSCAPES:
        try:
            v.index(name)
        except CocuError:
            missing.append(name)
    # ADE20K's "case" and "bar" are too ambiguous as caption words to list (display case, bar counter)
    assert sorted(missing) == ["bar", "case"]
    # benchmark spellings land on one concept
    assert v.index("aeroplane") == v.index("airplane") == v.index("plane")
    assert v.index("tvmonitor") == v.index("tv") == v.index("television receiver")
    assert v.index("motorbike") == v.index("motorcycle") == v.index("minibike")
    assert v.index("couch") == v.index("sofa")


def test_default_vocabulary_contains_the_synthetic_world():
    v = Vocabulary.default()
    for cls in OBJECT_CLASSES + STUFF_CLASSES:
        cid = v.index(cls.name)
        assert v.concepts[cid] == cls.name
        for syn in cls.synonyms:
            assert v.extract(f"a photo of two {syn}s") == [cid] or v.extract(f"a {syn}") == [cid], syn


def test_default_vocabulary_on_real_captions():
    v = Vocabulary.default()
    assert v.extract_names("Two women riding bikes down the street past buses.") == [
        "person", "bicycle", "road", "bus"]
    assert v.extract_names("A man wearing glasses holds a wine glass") == ["person", "eyeglasses", "wine glass"]
    assert v.extract_names("a picture of a photo of an image") == []


def test_resolve_vocabulary_order(tmp_path):
    from cocu.data.vocab import resolve_vocabulary

    world = tmp_path / "world"
    (world / "train").mkdir(parents=True)
    (world / "vocab.txt").write_text("dog, puppy\nsky\n")
    own = tmp_path / "own.txt"
    own.write_text("cat\n")
    assert resolve_vocabulary(own, data=world / "train").concepts == ["cat"]  # --vocab wins
    for data in (world / "train", world):  # in the folder holding it, or in it
        assert resolve_vocabulary(data=data).concepts == ["dog", "sky"]
    (world / "train" / "vocab.txt").write_text("road\n")
    assert resolve_vocabulary(data=world / "train").concepts == ["road"]  # in the folder first
    assert resolve_vocabulary(data=world / "train" / "{00000..00002}.tar").concepts == ["road"]
    assert resolve_vocabulary(data=tmp_path / "elsewhere").concepts == Vocabulary.default().concepts
    assert resolve_vocabulary().concepts == Vocabulary.default().concepts
    assert resolve_vocabulary(data=world, extraction="official").extraction == "official"
    from cocu.data.vocab import find_vocabulary

    assert find_vocabulary(data=world) == world / "vocab.txt" and find_vocabulary(own, data=world) == own
    assert find_vocabulary(data=tmp_path / "elsewhere") is None
