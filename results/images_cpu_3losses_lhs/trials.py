"""Print every tuning trial of a ganbench run's Optuna store: python trials.py <out>/optuna.db"""
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
storage = optuna.storages.RDBStorage(f"sqlite:///{sys.argv[1]}")
for summary in optuna.get_all_study_summaries(storage):
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    print(summary.study_name)
    for t in study.trials:
        params = {k: round(v, 5) if isinstance(v, float) else v for k, v in t.params.items()}
        value = None if t.value is None else round(t.value, 2)
        last = max(t.intermediate_values) if t.intermediate_values else None
        print(f"  trial {t.number} {t.state.name} value {value} last step {last} {params}")
