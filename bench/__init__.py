"""Sigap's benchmark (DESIGN.md §8): `python -m bench.run` (`make bench`), `--smoke` for CI.

Timing claims live here, never in a timed test. The modules:
- `run`      — orchestrates one run and writes `bench/report.json` and `bench/report.md` (not
  committed; the reference run is `bench/baseline/`);
- `plan`     — what a full and a smoke run measure (rates, stage lengths, rosters);
- `stack`    — starts the dispatcher, notifier and gateway as subprocesses on a bench-only prefix;
- `roster`   — generates volunteers over Kota Kediri and loads them through the `volunteers` topic;
- `load`     — open-loop load generators (HTTP through the gateway, and straight onto `incidents`);
- `offers`   — watches the outbox for each incident's first offer and closes incidents as it goes;
- `matching` — the dispatcher's matching step alone, in a loop against Redis;
- `ceiling`  — a bare aiokafka relay through the same number of topic hops, with real envelopes;
- `stats`, `machine`, `report` — percentiles, machine facts, the JSON and Markdown report.
"""
