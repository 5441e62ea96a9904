import pandas as pd, sys
rows=[]
for name in sys.argv[1:]:
    try: r=pd.read_csv(f"/tmp/exp/batch/{name}/report/runs.csv")
    except FileNotFoundError: continue
    g=r.groupby(["dataset","loss"]).agg(w1=("w1_raw","mean"),modes=("modes_covered","mean"),hq=("high_quality_pct","mean"),hq_min=("high_quality_pct","min"))
    g["run"]=name; rows.append(g.reset_index())
print(pd.concat(rows).sort_values(["dataset","loss","run"]).round(3).to_string(index=False))
