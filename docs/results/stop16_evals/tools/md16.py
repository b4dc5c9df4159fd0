import json,sys
d=json.load(open(sys.argv[1]))
K=[("voc_miou","VOC-like"),("miou","ADE-like"),("object_miou","object"),("stuff_miou","stuff"),("grouping_miou","grouping"),("naming_accuracy","naming"),("groups_in_use","groups")]
def f(m,s,key):
    sd = s[key] or 0
    return f"{m[key]:.2f} ± {sd:.2f}" if key in("naming_accuracy","groups_in_use") else f"{m[key]:.1f} ± {sd:.1f}"
def g(p,key,fmt): return f"{p[key]['mean']:{fmt}} [{p[key]['ci95'][0]:{fmt}}, {p[key]['ci95'][1]:{fmt}}]"
for part in ("ablation","models"):
    print(f"### {part}")
    print("| model | seeds | "+" | ".join(n for _,n in K)+" |"); print("|---|---|"+"---|"*len(K))
    for k,r in d[part]["runs"].items():
        print(f"| {k} | {len(r['seeds'])} | "+" | ".join(f(r['mean'],r['std'],key) for key,_ in K)+" |")
    print()
    print("| paired difference | seeds | ADE-like per seed | ADE-like [95 %] | VOC-like | object | naming | groups |"); print("|---|---|---|---|---|---|---|---|")
    for k,p in d[part]["paired"].items():
        ps=", ".join(f"{x:+.1f}" for x in p['miou']['per_seed'])
        print(f"| {k} | {len(p['seeds'])} | {ps} | {g(p,'miou','+.1f')} | {g(p,'voc_miou','+.1f')} | {g(p,'object_miou','+.1f')} | {g(p,'naming_accuracy','+.2f')} | {g(p,'groups_in_use','+.2f')} |")
    print()
