"""The package as a user installs it: wheel and sdist built with `python3 -m build`,
the wheel pip-installed into a fresh virtual environment, the tutorial's
`group_send` run there against the chat service (`npm run test:django`).

Needs Debian's python3-build and python3-venv (CI installs them).
"""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
import zipfile
from pathlib import Path

from django.test import SimpleTestCase

import edge_chat

from .test_edge_room import connect, is_chat

PROJECT = Path(__file__).resolve().parent.parent
CHECKOUT_PACKAGE = PROJECT / "edge_chat"

#: What the sdist may hold besides edge_chat: the metadata setuptools writes.
SDIST_METADATA = {"PKG-INFO", "README.md", "pyproject.toml", "MANIFEST.in", "setup.cfg"}

#: Run by the venv's Python from an empty directory, so `import edge_chat`
#: can only find the installed copy. Settings as docs/django.md writes them.
TUTORIAL = """
import json, sys
import django
from django.conf import settings
settings.configure(CHANNEL_LAYERS={"default": {"BACKEND": "edge_chat.layers.EdgeChannelLayer"}})
django.setup()
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
import edge_chat
channel_layer = get_channel_layer()
async_to_sync(channel_layer.group_send)(
    "chat_%s" % sys.argv[1], {"type": "chat.message", "message": sys.argv[2]}
)
print(json.dumps({"file": edge_chat.__file__, "layer": type(channel_layer).__module__}))
"""


def package_files() -> set[str]:
    """edge_chat's files in the checkout, relative to the project: edge_chat/layers.py, ..."""
    return {
        path.relative_to(PROJECT).as_posix()
        for path in CHECKOUT_PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    if done.returncode != 0:
        raise AssertionError(
            "%s exited with %d\n%s\n%s"
            % (" ".join(args), done.returncode, done.stdout, done.stderr)
        )
    return done


class BuiltPackageTests(SimpleTestCase):
    """One build for all tests: building and installing takes a few seconds."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for module in ("build", "venv"):
            try:
                __import__(module)
            except ImportError as err:
                raise AssertionError(
                    "%s cannot import %s: apt install python3-build python3-venv"
                    % (sys.executable, module)
                ) from err
        cls.tmp = Path(tempfile.mkdtemp(prefix="edge-chat-package-"))
        # A copy, so the build's egg-info and build/ never land in the checkout.
        source = cls.tmp / "source"
        shutil.copytree(
            PROJECT,
            source,
            ignore=shutil.ignore_patterns(
                "__pycache__", "build", "dist", "*.egg-info", "*.sqlite3"
            ),
        )
        dist = cls.tmp / "dist"
        # The docs' command: sdist first, then the wheel built from the sdist.
        run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)])
        [cls.wheel] = dist.glob("*.whl")
        [cls.sdist] = dist.glob("*.tar.gz")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def test_the_wheel_holds_every_file_of_edge_chat_and_nothing_else(self):
        with zipfile.ZipFile(self.wheel) as whl:
            names = set(whl.namelist())
        dist_info = {n for n in names if n.split("/")[0].endswith(".dist-info")}
        self.assertEqual(names - dist_info, package_files())
        self.assertEqual(self.wheel.name, "edge_chat_django-0.1.0-py3-none-any.whl")

    def test_the_wheel_metadata_names_the_package_its_dependencies_and_readme(self):
        with zipfile.ZipFile(self.wheel) as whl:
            [metadata_name] = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
            metadata = email.message_from_string(whl.read(metadata_name).decode())
        self.assertEqual(metadata["Name"], "edge-chat-django")
        self.assertEqual(metadata["Version"], "0.1.0")
        self.assertEqual(metadata["Version"], edge_chat.__version__)
        self.assertTrue(
            metadata["Summary"].startswith("Django integration for the edge chat rooms")
        )
        self.assertEqual(metadata["License"], "MIT")
        self.assertEqual(
            sorted(metadata.get_all("Requires-Dist")),
            ["Django (>=3.2)", "PyJWT (>=2.6)", "channels (>=4.0)"],
        )
        self.assertEqual(metadata["Description-Content-Type"], "text/markdown")
        readme = (PROJECT / "README.md").read_text()
        self.assertEqual(metadata.get_payload().strip(), readme.strip())

    def test_the_sdist_holds_edge_chat_and_the_metadata_but_not_the_example_or_tests(self):
        with tarfile.open(self.sdist) as tar:
            members = [m.name for m in tar.getmembers() if m.isfile()]
        top = "edge-chat-django-0.1.0/"
        self.assertTrue(all(m.startswith(top) for m in members), members)
        names = {m[len(top):] for m in members}
        self.assertLessEqual(package_files(), names)
        rest = {
            n
            for n in names - package_files()
            if not n.startswith("edge_chat_django.egg-info/")
        }
        self.assertEqual(rest - SDIST_METADATA, set(), "unexpected files in the sdist")
        self.assertLessEqual({"PKG-INFO", "README.md", "pyproject.toml"}, rest)
        self.assertFalse(
            [n for n in names if n.startswith(("example/", "tests/")) or n == "manage.py"]
        )

    def test_group_send_through_the_installed_wheel_reaches_a_socket_in_the_room(self):
        venv = self.tmp / "venv"
        # Debian's Django, Channels and PyJWT come from the system site packages;
        # --no-index: pip must find every dependency there, nothing is downloaded.
        run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
        python = venv / "bin" / "python"
        pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
        run(pip + ["install", "--no-index", str(self.wheel)])

        room = "wheel-%s" % uuid.uuid4().hex[:12]
        ws = connect(room)
        self.addCleanup(ws.close)
        ws.wait_for(lambda f: f.get("type") == "welcome", "welcome frame")

        cwd = self.tmp / "site"
        cwd.mkdir()
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")
        }
        done = run([str(python), "-c", TUTORIAL, room, "from the wheel"], cwd=cwd, env=env)
        answer = json.loads(done.stdout.strip().splitlines()[-1])

        site_packages = run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=cwd,
            env=env,
        ).stdout.strip()
        self.assertEqual(
            Path(answer["file"]).resolve(),
            (Path(site_packages) / "edge_chat" / "__init__.py").resolve(),
        )
        self.assertEqual(answer["layer"], "edge_chat.layers")
        frame = ws.wait_for(is_chat("from the wheel"), "the message sent through the wheel")
        self.assertEqual(frame["user"], "api")
