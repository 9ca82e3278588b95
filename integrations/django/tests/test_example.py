"""The example site's settings are a working project, as the docs say."""

import os
import subprocess
import sys
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parent.parent


class ExampleSiteTests(SimpleTestCase):
    def test_the_example_settings_pass_djangos_checks(self):
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="example.settings", PYTHONPATH=str(ROOT))
        result = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("no issues", result.stdout)
