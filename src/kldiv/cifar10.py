"""CIFAR-10 for the GPU lab: Keras' download for users, an image folder for machines offline.

:func:`load_cifar10` returns the same arrays either way: ``(x_train, y_train), (x_test, y_test)``
with images as ``uint8`` of shape ``(n, 32, 32, 3)`` and labels as ``int64`` class indices of shape
``(n,)`` in CIFAR-10's order (:data:`CLASSES`).

Where the data comes from is always explicit:

* ``source=None`` and no :data:`ENV_VAR` in the environment: ``keras.datasets.cifar10.load_data()``,
  which downloads (about 170 MB) on first use. A failed download says how to use an offline copy.
* ``source="path"`` (or the environment variable :data:`ENV_VAR` set to a path): an image folder,
  ``train/<class>/*.jpg`` and ``test/<class>/*.jpg`` (any image format Pillow reads), either as a
  folder or as a ``.tar.gz``/``.tgz``/``.tar`` archive of one. One extra top-level folder (as in
  ``CIFAR-10-images/train/...``) is accepted.

Nothing here looks in a default location: a course that silently found data on its author's machine
would fail for everyone else.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np

__all__ = ["CLASSES", "ENV_VAR", "load_cifar10", "load_image_folder"]

#: Class names in CIFAR-10's label order (label ``i`` is ``CLASSES[i]``).
CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)

#: Environment variable naming an offline copy (folder or archive) when ``source`` is not given.
ENV_VAR = "KLDIV_CIFAR10"

SPLITS = ("train", "test")
IMAGE_SHAPE = (32, 32, 3)
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
# The image folder is stored class by class; Keras' arrays come shuffled. A fixed permutation makes
# the two alike, so that `validation_split`, which takes the *last* rows, holds every class.
ORDER_SEED = 10

Split = tuple[np.ndarray, np.ndarray]


def load_cifar10(
    source: str | os.PathLike[str] | None = None,
    *,
    per_class_train: int | None = None,
    per_class_test: int | None = None,
) -> tuple[Split, Split]:
    """Load CIFAR-10 as ``(x_train, y_train), (x_test, y_test)``.

    Parameters
    ----------
    source : path, optional
        An image folder or an archive of one (see the module docstring). If omitted, the
        environment variable ``KLDIV_CIFAR10`` is used; if that is unset or empty, Keras downloads
        the dataset.
    per_class_train, per_class_test : int, optional
        Keep only the first ``n`` images of each class (by file name in a folder, by position in
        Keras' arrays), for quick runs.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``uint8`` images ``(n, 32, 32, 3)`` and ``int64`` labels ``(n,)``.

    Raises
    ------
    RuntimeError
        If the download fails; the message says how to use an offline copy.
    """
    if source is None:
        source = os.environ.get(ENV_VAR) or None
    if source is not None:
        return load_image_folder(
            source, per_class_train=per_class_train, per_class_test=per_class_test
        )
    limits = (
        _check_limit("per_class_train", per_class_train),
        _check_limit("per_class_test", per_class_test),
    )
    return tuple(_first_per_class(x, y, n) for (x, y), n in zip(_download(), limits))


def _first_per_class(x: np.ndarray, y: np.ndarray, limit: int | None) -> Split:
    if limit is None:
        return x, y
    keep = np.zeros(len(y), dtype=bool)
    for label in range(len(CLASSES)):
        where = np.flatnonzero(y == label)
        if limit > len(where):
            raise ValueError(f"asked for {limit} images per class but class {label} has {len(where)}")
        keep[where[:limit]] = True
    return x[keep], y[keep]


def _download() -> tuple[Split, Split]:
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:  # urllib, SSL and archive errors all mean the same to a student
        raise RuntimeError(
            f"Downloading CIFAR-10 with keras.datasets.cifar10.load_data() failed: {exc!r}. "
            "Without internet access, use a local copy laid out as train/<class>/*.jpg and "
            "test/<class>/*.jpg (a folder or a .tar.gz of one): pass "
            f"load_cifar10(source='/path/to/it') or set the environment variable {ENV_VAR}."
        ) from exc
    return (x_train, y_train.reshape(-1).astype(np.int64)), (
        x_test,
        y_test.reshape(-1).astype(np.int64),
    )


def load_image_folder(
    path: str | os.PathLike[str],
    *,
    per_class_train: int | None = None,
    per_class_test: int | None = None,
) -> tuple[Split, Split]:
    """Load an image-folder copy of CIFAR-10 from a folder or a ``.tar.gz``/``.tgz``/``.tar``.

    Images of a split are returned in a fixed pseudo-random order (the same on every call), like
    Keras' arrays; see :func:`load_cifar10` for the parameters and the result.

    Examples
    --------
    >>> load_image_folder("no/such/folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: CIFAR-10 source 'no/such/folder' does not exist; give a folder or a ...
    """
    limits = {
        "train": _check_limit("per_class_train", per_class_train),
        "test": _check_limit("per_class_test", per_class_test),
    }
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"CIFAR-10 source {str(path)!r} does not exist; give a folder or a .tar.gz holding "
            "train/<class>/*.jpg and test/<class>/*.jpg"
        )
    if path.is_dir():
        members = _folder_members(path)
        read = _read_files
    elif path.name.endswith(ARCHIVE_SUFFIXES):
        members, blobs = _archive_members(path)
        read = lambda names: (blobs[name] for name in names)  # noqa: E731
    else:
        raise ValueError(
            f"CIFAR-10 source {str(path)!r} is neither a folder nor an archive "
            f"({', '.join(ARCHIVE_SUFFIXES)})"
        )
    selected = {split: _select(path, split, members, limits[split]) for split in SPLITS}
    result = []
    for split in SPLITS:
        names, labels = selected[split]
        images = _decode_all(read(names), names)
        order = np.random.default_rng(ORDER_SEED).permutation(len(labels))
        result.append((images[order], labels[order]))
    return result[0], result[1]


def _check_limit(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None; got {value!r}")
    return int(value)


def _split_class(parts: tuple[str, ...]) -> tuple[str, str] | None:
    """(split, class) for a path ``[top/]split/class/file``, or None for anything else."""
    if len(parts) == 3:
        split, cls, _ = parts
    elif len(parts) == 4:
        _, split, cls, _ = parts
    else:
        return None
    return (split, cls) if split in SPLITS else None


def _folder_members(root: Path) -> dict[tuple[str, str], list[str]]:
    members: dict[tuple[str, str], list[str]] = {}
    for file in root.rglob("*"):
        if file.is_file() and not file.name.startswith("."):
            key = _split_class(file.relative_to(root).parts)
            if key is not None:
                members.setdefault(key, []).append(str(file))
    return members


def _archive_members(archive: Path) -> tuple[dict[tuple[str, str], list[str]], dict[str, bytes]]:
    # One pass over the stream, keeping every image's bytes (about 20 MB for CIFAR-10): listing
    # first and reading later would decompress and parse the archive twice.
    members: dict[tuple[str, str], list[str]] = {}
    blobs: dict[str, bytes] = {}
    with tarfile.open(archive) as tar:
        for info in tar:
            name = PurePosixPath(info.name)
            if info.isfile() and not name.name.startswith("."):
                key = _split_class(name.parts)
                if key is not None:
                    members.setdefault(key, []).append(info.name)
                    handle = tar.extractfile(info)
                    assert handle is not None  # a regular file always has a handle
                    blobs[info.name] = handle.read()
    return members, blobs


def _select(
    source: Path, split: str, members: dict[tuple[str, str], list[str]], limit: int | None
) -> tuple[list[str], np.ndarray]:
    found = {cls for s, cls in members if s == split}
    if not found:
        raise ValueError(
            f"CIFAR-10 source {str(source)!r} has no {split}/<class>/ images; expected "
            "train/<class>/*.jpg and test/<class>/*.jpg"
        )
    unknown = sorted(found - set(CLASSES))
    if unknown:
        raise ValueError(
            f"CIFAR-10 source {str(source)!r} has unknown class folder(s) {unknown} under "
            f"{split}/; expected {list(CLASSES)}"
        )
    missing = [cls for cls in CLASSES if cls not in found]
    if missing:
        raise ValueError(f"CIFAR-10 source {str(source)!r} has no {split}/ images of {missing}")
    names: list[str] = []
    labels: list[int] = []
    for label, cls in enumerate(CLASSES):
        files = sorted(members[(split, cls)])
        if limit is not None:
            if limit > len(files):
                raise ValueError(
                    f"per_class_{split}={limit} but {split}/{cls} holds only {len(files)} images"
                )
            files = files[:limit]
        names += files
        labels += [label] * len(files)
    return names, np.asarray(labels, dtype=np.int64)


def _read_files(names: list[str]) -> Iterator[bytes]:
    for name in names:
        yield Path(name).read_bytes()


def _decode(blob: bytes, name: str) -> np.ndarray:
    from PIL import Image  # Pillow comes with Matplotlib; imported here to keep `import kldiv` light

    try:
        with Image.open(io.BytesIO(blob)) as image:
            array = np.asarray(image.convert("RGB"))
    except Exception as exc:
        raise ValueError(f"cannot decode image {name!r}: {exc}") from exc
    if array.shape != IMAGE_SHAPE:
        raise ValueError(f"image {name!r} has shape {array.shape}; CIFAR-10 images are {IMAGE_SHAPE}")
    return array


def _decode_all(blobs: Iterable[bytes], names: list[str]) -> np.ndarray:
    images = np.empty((len(names), *IMAGE_SHAPE), dtype=np.uint8)
    # Pillow releases the GIL while decoding, so threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for i, array in enumerate(pool.map(_decode, blobs, names)):
            images[i] = array
    return images
