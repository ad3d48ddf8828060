"""Ships the browser client (web/, kept at the top of the checkout) inside the wheel as mirp/web.

Everything else about the package is in pyproject.toml. An editable install copies nothing: the
server then finds web/ beside src/ (config.default_web_dir).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

WEB = Path(__file__).resolve().parent / "web"


class BuildWithWeb(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if not WEB.is_dir():
            raise SystemExit(f"web/ not found at {WEB}: the wheel would serve no browser client")
        self.copy_tree(str(WEB), str(Path(self.build_lib) / "mirp" / "web"))


setup(cmdclass={"build_py": BuildWithWeb})
