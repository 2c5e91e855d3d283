"""The notifier (DESIGN.md §4): consumes notification requests, renders them, delivers them through the
channel adapters with retries, deadlines and fallbacks, and reports each outcome on `deliveries`.

Layout: `app.py` wires settings → faust app → topics → agent; `agents.py` decodes records and hands
them to the `runtime.Notifier` task pool; `delivery.py` runs one notification through its channels;
`plan.py`, `backoff.py`, `templates.py`, `smstext.py` are the pure core; `claims.py`, `ratelimit.py`
and `channels/` are the adapters (Redis Lua scripts in `lua/`).
"""

SCRIPTS = "services.notifier"
"""the package whose `lua/` folder holds the notifier's Redis scripts (`common.redis.load_script`)"""
