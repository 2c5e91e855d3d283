"""The dispatcher (DESIGN.md §3): a faust app that turns incidents and answers into offers.

Pure core: `runcards`, `ranking`, `incident` (the state machine), `notices`, `weather`, `views`.
Adapters: `roster` (Redis roster, geo index, reservations; Lua beside it), `matching`, `store`,
`expiry`, `outputs`. Wiring: `app` → `agents`, `web`, `cli`; `python -m services.dispatcher`.
"""
