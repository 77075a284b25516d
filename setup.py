"""Packages are found, not listed: txkoji and kojibot, and plugins/ installed as kojibot.plugins."""

from setuptools import find_packages, setup

PLUGINS = "kojibot.plugins"

setup(
    packages=find_packages(include=["txkoji", "txkoji.*", "kojibot", "kojibot.*"])
    + [PLUGINS + name[len("plugins"):] for name in find_packages(include=["plugins", "plugins.*"])],
    package_dir={PLUGINS: "plugins"},
)
