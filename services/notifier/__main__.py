"""`python -m services.notifier worker -l info`."""

from services.notifier.app import app

if __name__ == "__main__":
    app.conf.datadir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level itself
    app.main()
