"""Sigap's services: dispatcher, notifier and gateway, and what they share."""
