"""The dispatcher (DESIGN.md §3): a faust app that turns incidents and answers into offers.

Pure core: `runcards`, `ranking`, `incident` (the state machine, its state in `incident_state`, the offers'
answers in `incident_offers`; `commands` are what it asks for),
`notices`, `weather`, `projection` (the incident read model).
Adapters: `roster` (Redis roster, geo index, reservations, offer deadlines; Lua beside it),
`volunteers` (the roster feed), `matching`, `store`, `outputs`, `alerts`; `dispatch` carries the
state machine out with them, `batching` forms the batches it handles.
Wiring: `app` → `agents`, `web`, `cli`; `python -m services.dispatcher`.
"""
