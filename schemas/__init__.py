"""Sigap's shared vocabulary: every event and HTTP body, validated with pydantic v2."""
