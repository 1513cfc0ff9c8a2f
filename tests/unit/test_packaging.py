"""What `pip install .` (the README's first command) installs: the package, the `forkq`
command and the man pages. Built from a copy of the tree, as a fresh machine would build it."""
import configparser
import os
import shutil
import subprocess
import sys
import zipfile

from harness import ROOT

SKIP = shutil.ignore_patterns(".git", ".venv*", "node_modules", "build", "dist", "*.egg-info",
                              "__pycache__", ".pytest_cache", ".hypothesis")


def test_the_wheel_carries_the_package_the_command_and_the_man_pages(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = (tmp_path / "dist").glob("forkq-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    pages = sorted(p for p in os.listdir(os.path.join(ROOT, "man")) if p.endswith(".1"))
    assert sorted(n.rsplit("/", 1)[1] for n in names if "/data/share/man/man1/" in n) == pages
    modules = sorted(os.path.relpath(os.path.join(d, f), ROOT)
                     for d, _dirs, files in os.walk(os.path.join(ROOT, "forkq"))
                     for f in files if f.endswith((".py", ".lua", ".html", ".css", ".js")))
    assert sorted(n for n in names if n.startswith("forkq/")) == modules
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    scripts = configparser.ConfigParser()
    scripts.read_string(zipfile.ZipFile(wheel).read(entry_points).decode())
    assert scripts["console_scripts"]["forkq"] == "forkq.cli:main"


def test_bin_forkq_and_python_m_forkq_run_the_cli():
    for cmd in ([sys.executable, os.path.join(ROOT, "bin", "forkq"), "--version"],
                [sys.executable, "-m", "forkq", "--version"]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "0.1.0" in done.stdout, (cmd, done.stderr)
