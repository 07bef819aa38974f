"""Copy an artifact into an app's assets through its manifest: what the Android build packs.

Only what the manifest names is copied (manifest.json, its labels file, its model files of the chosen
formats), each a plain name of a regular file inside the artifact folder with the manifest's sha256: a
labels.txt or model linked outside the artifact, a changed file or a stray file is refused or left out. Each
is copied under the name the manifest gives it (a name linked to another file of the artifact is not packed under
its target's name: the app opens the manifest's names).

    python -m mobiledeploy.artifact.stage [--check] ARTIFACT [DEST]
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ..errors import MobiledeployError
from .bundle import Artifact, member_path


def checked_files(folder, formats=("tflite",)) -> list[tuple[str, Path]]:
    """(name, verified path) of manifest.json, the labels and the model files of `formats`: the name is the
    manifest's, the path the regular file it resolves to inside the artifact."""
    art = Artifact.load(folder)
    if len(art.labels) != art.manifest.model.outputs:  # reads labels.txt confined, capped, UTF-8
        raise MobiledeployError(f"{folder}: labels do not match the model's outputs: re-export it")
    models = [(e.name, art.path(e)) for e in art.manifest.files if e.format in formats]
    if not models:
        raise MobiledeployError(f"{folder} has no {'/'.join(formats)} file (the app runs TFLite only): export with "
                                "--formats tflite")
    return [("manifest.json", member_path(art.folder, "manifest.json", "manifest")),
            (art.manifest.labels.file, member_path(art.folder, art.manifest.labels.file, "labels file")), *models]


def stage(folder, dest, formats=("tflite",)) -> list[str]:
    """Copy the checked files into `dest` (created); returns their names."""
    files = checked_files(folder, formats)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, path in files:
        shutil.copyfile(path, dest / name)  # the bytes that were checked, never a link, under the manifest's name
    return [name for name, _ in files]


def main(argv=None) -> int:
    from .. import outcome

    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    if len(args) != (1 if check else 2):
        print("usage: python -m mobiledeploy.artifact.stage [--check] ARTIFACT [DEST]", file=sys.stderr)
        return outcome.USER_ERROR

    def body():
        names = [name for name, _ in checked_files(args[0])] if check else stage(args[0], args[1])
        print(" ".join(names))

    return outcome.run(body)


if __name__ == "__main__":
    sys.exit(main())
