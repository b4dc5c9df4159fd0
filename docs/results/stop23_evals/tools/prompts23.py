"""python prompts23.py OUT.json (in stop 21's scratch folder): what the K extra prompts of a training step name, per
prompt source, against the synthetic world's true classes: precision, prompts and distinct concepts per image, recall
of the objects, of the objects the caption omitted, and of the stuff. Three seeded draws per training image, K = 3 and
5; curated sources read the CoCu curation (vision, t2v, N = 8) with the training samplers (⑤ plain, ⑥ cluster);
``archives``: the archives' size, the share clustered (≥ 2 clusters), of those the share with two, the score range."""
import json, sys
import numpy as np
from cocu.curation.report import load_truth
from cocu.data.concept_sampling import SAMPLERS
from cocu.data.sidecar import load_curation
from cocu.data.synth_classes import STUFF_CLASSES
from cocu.data.vocab import Vocabulary

vocab = Vocabulary.from_file("final/world/vocab.txt")
truth = load_truth("final/world/train", vocab)
cur = load_curation("final/curation/vision-t2v-n8")
stuff = {vocab.index(c.name) for c in STUFF_CLASSES}
rng = np.random.default_rng(0)


def curated(sampling):
    return lambda key, true, named, k: [vocab.index(n) for n in SAMPLERS[sampling](cur[key], k, rng)]


SOURCES = {"caption": lambda key, true, named, k: list(rng.permutation(sorted(named))[:k]),
           "oracle": lambda key, true, named, k: list(rng.permutation(sorted(true))[:k]),
           "curated, plain (⑤)": curated("plain"), "curated, cluster (⑥)": curated("cluster")}
out = {}
for k in (3, 5):
    for name, draw in SOURCES.items():
        c = dict.fromkeys(("tp", "n", "distinct", "obj", "n_obj", "om", "n_om", "st", "n_st"), 0)
        for key, (true, named) in truth.items():
            objects, stuffs = true - stuff, true & stuff
            for _ in range(3):
                ids = draw(key, true, named, k)
                s = set(ids)
                c["tp"] += len(s & true); c["n"] += len(ids); c["distinct"] += len(s)
                c["obj"] += len(s & objects); c["n_obj"] += len(objects)
                c["om"] += len(s & (objects - named)); c["n_om"] += len(objects - named)
                c["st"] += len(s & stuffs); c["n_st"] += len(stuffs)
        draws = 3 * len(truth)
        out[f"K = {k}, {name}"] = {
            "precision": round(c["tp"] / c["distinct"], 3), "prompts_per_image": round(c["n"] / draws, 2),
            "distinct_per_image": round(c["distinct"] / draws, 2), "object_recall": round(c["obj"] / c["n_obj"], 3),
            "omitted_object_recall": round(c["om"] / c["n_om"], 3), "stuff_recall": round(c["st"] / c["n_st"], 3)}
        print(f"K = {k}, {name}", out[f"K = {k}, {name}"], flush=True)
# the archives themselves: size, how many are clustered (two clusters or more) and into how many, the score range
clusters = np.array([len(set(a.cluster.tolist())) if len(a) and (a.cluster >= 0).all() else 0 for a in cur.values()])
scores = np.concatenate([a.score for a in cur.values()])
out["archives"] = {"concepts_mean": round(float(np.mean([len(a) for a in cur.values()])), 2),
                   "clustered": round(float((clusters >= 2).mean()), 3),
                   "two_clusters_of_clustered": round(float((clusters == 2).sum() / (clusters >= 2).sum()), 3),
                   "score_min": round(float(scores.min()), 1), "score_max": round(float(scores.max()), 1)}
print(out["archives"])
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
