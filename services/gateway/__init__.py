"""The HTTP edge (DESIGN.md §5): ops-room API, volunteer link pages, live board, BMKG pollers.

Stateless: every input is validated with the `schemas` models and produced to Kafka; reads come from
the Redis read models the dispatcher and notifier write (`services.common.readmodels`).
"""
