"""Copy an artifact into an app's assets through its manifest: what the Android build packs.

Only what the manifest names is copied (manifest.json, its labels file, its model files of the chosen
formats), each a plain name of a regular file inside the artifact folder with the manifest's sha256: a
labels.txt or model linked outside the artifact, a changed file or a stray file is refused or left out.

    python -m mobiledeploy.artifact.stage [--check] ARTIFACT [DEST]
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ..errors import MobiledeployError
from .bundle import Artifact, member_path


def checked_files(folder, formats=("tflite",)) -> list[Path]:
    """The verified paths of manifest.json, the labels and the model files of `formats`."""
    art = Artifact.load(folder)
    if len(art.labels) != art.manifest.model.outputs:  # reads labels.txt confined, capped, UTF-8
        raise MobiledeployError(f"{folder}: labels do not match the model's outputs: re-export it")
    models = [art.path(e) for e in art.manifest.files if e.format in formats]
    if not models:
        raise MobiledeployError(f"{folder} has no {'/'.join(formats)} file (the app runs TFLite only): export with "
                                "--formats tflite")
    return [member_path(art.folder, "manifest.json", "manifest"),
            member_path(art.folder, art.manifest.labels.file, "labels file"), *models]


def stage(folder, dest, formats=("tflite",)) -> list[str]:
    """Copy the checked files into `dest` (created); returns their names."""
    files = checked_files(folder, formats)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copyfile(path, dest / path.name)  # the bytes that were checked, never a link
    return [p.name for p in files]


def main(argv=None) -> int:
    from .. import outcome

    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    if len(args) != (1 if check else 2):
        print("usage: python -m mobiledeploy.artifact.stage [--check] ARTIFACT [DEST]", file=sys.stderr)
        return outcome.USER_ERROR

    def body():
        names = [p.name for p in checked_files(args[0])] if check else stage(args[0], args[1])
        print(" ".join(names))

    return outcome.run(body)


if __name__ == "__main__":
    sys.exit(main())
