#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'fraudsite.settings')
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    try:
        execute_from_command_line(sys.argv)
    except Exception as error:
        # A service the command needs is missing (PostgreSQL, Redis, Kafka, or the database's
        # tables): one line that says what to start, not a traceback. Anything else is a bug.
        from fraudsite.missing_services import explain

        message = explain(error)
        if message is None:
            raise
        sys.stderr.write(f"{message}\n")
        sys.exit(1)


if __name__ == '__main__':
    main()
