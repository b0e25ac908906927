#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authproject.settings")
    if sys.argv[1:2] == ["generate_secrets"]:
        # Printing the first secrets must not need secrets: settings get
        # throwaway ones for this one command.
        os.environ["AUTHPROJECT_THROWAWAY_SECRETS"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
