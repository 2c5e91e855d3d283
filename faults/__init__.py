"""The fault suite (`make faults`): the real stack under load while its parts die."""
