#!/usr/bin/env python3
"""Runs the example site (example/settings.py) or the tests (--settings tests.settings)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
