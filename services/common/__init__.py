"""What every service shares: settings, topic names, Kafka and Redis helpers."""
