"""MkDocs hooks (mkdocs.yml `hooks:`): the documentation site also shows files that live outside
docs/ (the README as the home page, the benchmarks' description and results, RELIABILITY.md),
read where they are, so each fact is written once.

Every Markdown file, inside docs/ or not, links to the others by their path in the repository
(what GitHub shows). On the site, docs/<page> is served as <page> and the files below keep their
repository path, so each relative link is rewritten from one layout to the other here. A link
to a file that is in neither stays as written, and `mkdocs build --strict` fails on it."""

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

REPO = Path(__file__).resolve().parent.parent

# Files outside docs/, shown on the site under their repository path (README.md is the home page).
FROM_THE_REPOSITORY = [
    "README.md",
    "RELIABILITY.md",
    "bench/README.md",
    "bench/RESULTS.md",
    "bench/results/full.json",
    "bench/results/full-latency.png",
]

LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")


def on_files(files, config):
    for path in FROM_THE_REPOSITORY:
        files.append(File.generated(config, path, abs_src_path=str(REPO / path)))
    return files


def repository_path(src_uri):
    return src_uri if src_uri in FROM_THE_REPOSITORY else f"docs/{src_uri}"


def site_path(path):
    if path.startswith("docs/"):
        return path[len("docs/"):]
    if path in FROM_THE_REPOSITORY:
        return path
    return None


def on_page_markdown(markdown, page, config, files):
    src_uri = page.file.src_uri
    here = posixpath.dirname(repository_path(src_uri))

    def rewrite(match):
        target = match.group(2)
        if target.startswith("#") or re.match(r"[a-z][a-z0-9+.-]*:", target):
            return match.group(0)
        path, hash_, anchor = target.partition("#")
        on_site = site_path(posixpath.normpath(posixpath.join(here, path)))
        if on_site is None:
            return match.group(0)
        relative = posixpath.relpath(on_site, posixpath.dirname(src_uri) or ".")
        return f"{match.group(1)}{relative}{hash_}{anchor}{match.group(3)}"

    return LINK.sub(rewrite, markdown)
