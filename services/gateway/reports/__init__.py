"""Reports the office runs on (issue 20), computed from the event log.

- `events`: a record of `incidents`, `responses`, `dispatch-log`, `volunteers` as a `ReportEvent`
  (lenient: it reads only the fields reports need, and accepts `incident.assessed` of issue 19).
- `ledger`: the pure fold of those events into rows — incidents, offers (one row per offer with the
  time of each step), volunteers, kaji cepat assessments. The fold is idempotent and commutative
  (first time wins, last profile wins), so events of different topics may arrive in any order and
  a redelivered record changes nothing.
- `duty`, `response_times`, `daily`: the three reports, pure functions of rows, a period and `now`.
- `csvout`: their CSV. `policy`: the allowance rule, targets and WIB periods.
- `store` (SQLite under `SIGAP_DATA_DIR`), `projection` (an aiokafka consumer folding the topics
  into the store), `service` (what the gateway starts): the adapters.

The store is a view: delete its file and the projection rebuilds it from the topics (README,
"Reports").
"""
