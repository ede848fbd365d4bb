"""MkDocs hook: the site carries examples/*.py, so the docs' links to them work there as on GitHub.

The pages link to ``../examples/NAME.py`` (right in the repository, where docs/ sits
beside examples/). The site has no folder above its pages, so this hook adds the
examples to the site's files and points the links at them: every link still
resolves, and ``mkdocs build --strict`` still fails on one that does not.
"""

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]


def on_files(files, config):
    for path in sorted((ROOT / "examples").glob("*.py")):
        files.append(
            File(
                f"examples/{path.name}",
                src_dir=str(ROOT),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files


def on_page_markdown(markdown, page, config, files):
    depth = page.file.src_uri.count("/")
    return markdown.replace("](" + "../" * (depth + 1) + "examples/", "](" + "../" * depth + "examples/")
