"""kldiv.cifar10: the offline image-folder path (folder or archive), the environment variable, and
the errors a student meets when the data are missing or malformed. No test downloads."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kldiv import cifar10
from kldiv.cifar10 import CLASSES, ENV_VAR, load_cifar10, load_image_folder

PER_CLASS = {"train": 3, "test": 2}


def pixel(split: str, label: int, index: int) -> np.ndarray:
    """A distinct, exactly recoverable image (PNG is lossless) for every (split, class, index)."""
    value = (label * 20 + index * 3 + (split == "test") * 100) % 256
    image = np.full((32, 32, 3), value, dtype=np.uint8)
    image[0, 0] = (label, index, split == "test")
    return image


def make_folder(root: Path, classes=CLASSES, per_class=PER_CLASS) -> Path:
    for split, n in per_class.items():
        for label, cls in enumerate(classes):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(pixel(split, label, i)).save(folder / f"{i:04d}.png")
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "CIFAR-10-images")


def archive(folder: Path, target: Path, top_level: bool) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        if top_level:
            tar.add(folder, arcname=folder.name)
        else:
            for split in ("train", "test"):
                tar.add(folder / split, arcname=split)
    return target


def check(result, per_class=PER_CLASS) -> None:
    for split, (x, y) in zip(("train", "test"), result):
        n = per_class[split]
        assert x.shape == (10 * n, 32, 32, 3) and x.dtype == np.uint8
        assert y.shape == (10 * n,) and y.dtype == np.int64
        np.testing.assert_array_equal(np.bincount(y, minlength=10), [n] * 10)
        for image, label in zip(x, y):
            index = int(image[0, 0, 1])
            np.testing.assert_array_equal(image, pixel(split, int(label), index))


def test_folder_loads_every_image_with_its_label(folder: Path) -> None:
    check(load_image_folder(folder))
    check(load_image_folder(folder.parent))  # one enclosing folder is accepted


@pytest.mark.parametrize("top_level", [True, False])
@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz", ".tar"])
def test_archive_loads_the_same_arrays_as_the_folder(folder, tmp_path, top_level, suffix) -> None:
    path = archive(folder, tmp_path / f"data{suffix}", top_level)
    from_archive, from_folder = load_image_folder(path), load_image_folder(folder)
    check(from_archive)
    for (xa, ya), (xf, yf) in zip(from_archive, from_folder):
        np.testing.assert_array_equal(xa, xf)
        np.testing.assert_array_equal(ya, yf)


def test_order_is_shuffled_but_fixed(folder: Path) -> None:
    (_, y1), _ = load_image_folder(folder)
    (_, y2), _ = load_image_folder(folder)
    np.testing.assert_array_equal(y1, y2)
    assert not np.all(np.diff(y1) >= 0), "labels must not come sorted by class"


def test_validation_tail_holds_many_classes(tmp_path: Path) -> None:
    # Keras' validation_split takes the last rows; sorted data would validate on two classes only.
    root = make_folder(tmp_path / "d", per_class={"train": 20, "test": 1})
    (_, y), _ = load_image_folder(root)
    assert len(np.unique(y[-40:])) >= 8


def test_per_class_keeps_the_first_files_of_each_class(folder: Path) -> None:
    (x, y), (xt, yt) = load_image_folder(folder, per_class_train=2, per_class_test=1)
    check(((x, y), (xt, yt)), per_class={"train": 2, "test": 1})
    assert set(x[:, 0, 0, 1]) == {0, 1} and set(xt[:, 0, 0, 1]) == {0}


def test_environment_variable_is_used_when_no_source_is_given(folder, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(folder))
    check(load_cifar10())


def test_explicit_source_wins_over_the_environment(folder, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "/no/such/place")
    check(load_cifar10(folder))


def test_failed_download_says_how_to_work_offline(monkeypatch) -> None:
    import keras

    def offline():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(RuntimeError, match=f"name resolution.*{ENV_VAR}") as info:
        load_cifar10()
    assert "train/<class>/*.jpg" in str(info.value)


def test_download_is_used_and_reshaped_without_a_source(monkeypatch) -> None:
    import keras

    x = np.zeros((4, 32, 32, 3), np.uint8)
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(
        keras.datasets.cifar10, "load_data", lambda: ((x, np.array([[1], [2], [3], [4]])), (x, np.ones((4, 1))))
    )
    (_, y), (_, yt) = load_cifar10()
    np.testing.assert_array_equal(y, [1, 2, 3, 4])
    assert y.dtype == yt.dtype == np.int64 and yt.shape == (4,)


def test_subset_of_a_download_keeps_the_first_images_of_each_class(monkeypatch) -> None:
    import keras

    y = np.arange(50).reshape(-1, 1) % 10
    x = np.arange(50, dtype=np.uint8)[:, None, None, None] * np.ones((1, 32, 32, 3), np.uint8)
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: ((x, y), (x, y)))
    (xs, ys), (xt, yt) = load_cifar10(per_class_train=2, per_class_test=1)
    np.testing.assert_array_equal(xs[:, 0, 0, 0], np.arange(20))
    np.testing.assert_array_equal(ys, np.arange(20) % 10)
    np.testing.assert_array_equal(yt, np.arange(10))
    with pytest.raises(ValueError, match="asked for 6 images per class but class 0 has 5"):
        load_cifar10(per_class_train=6)
    with pytest.raises(ValueError, match="per_class_test must be a positive integer or None; got 0"):
        load_cifar10(per_class_test=0)


def test_missing_source_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="'.*nowhere' does not exist"):
        load_image_folder(tmp_path / "nowhere")


def test_a_file_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    path.write_bytes(b"PK")
    with pytest.raises(ValueError, match="data.zip' is neither a folder nor an archive"):
        load_image_folder(path)


@pytest.mark.parametrize("name, value", [("per_class_train", 0), ("per_class_test", -1),
                                         ("per_class_train", 2.5), ("per_class_test", True)])
def test_bad_per_class_is_refused(folder, name, value) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a positive integer or None; got {value!r}"):
        load_image_folder(folder, **{name: value})


def test_per_class_beyond_the_data_is_refused(folder) -> None:
    with pytest.raises(ValueError, match="per_class_train=4 but train/airplane holds only 3 images"):
        load_image_folder(folder, per_class_train=4)


def test_missing_split_is_refused(folder) -> None:
    import shutil

    shutil.rmtree(folder / "test")
    with pytest.raises(ValueError, match="has no test/<class>/ images"):
        load_image_folder(folder)


def test_unknown_and_missing_classes_are_named(tmp_path: Path) -> None:
    classes = (*CLASSES[:9], "lorry")
    root = make_folder(tmp_path / "d", classes=classes)
    with pytest.raises(ValueError, match=r"unknown class folder\(s\) \['lorry'\] under train/"):
        load_image_folder(root)
    root = make_folder(tmp_path / "e", classes=CLASSES[:9])
    with pytest.raises(ValueError, match=r"has no train/ images of \['truck'\]"):
        load_image_folder(root)


def test_wrong_image_size_names_the_file(folder) -> None:
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(folder / "train" / "cat" / "0001.png")
    with pytest.raises(ValueError, match=r"cat/0001.png' has shape \(28, 28, 3\)"):
        load_image_folder(folder)


def test_undecodable_image_names_the_file(folder) -> None:
    (folder / "test" / "dog" / "0000.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot decode image '.*dog/0000.png'"):
        load_image_folder(folder)


def test_grayscale_images_become_rgb(folder) -> None:
    Image.fromarray(np.full((32, 32), 7, np.uint8)).save(folder / "train" / "cat" / "0002.png")
    (x, y), _ = load_image_folder(folder)
    gray = [img for img, label in zip(x, y) if label == 3 and img[0, 0, 0] == 7]
    assert len(gray) == 1 and np.all(gray[0] == 7)


def test_hidden_files_are_ignored(folder) -> None:
    (folder / "train" / "cat" / ".DS_Store").write_bytes(b"junk")
    check(load_image_folder(folder))


def test_module_has_no_default_location() -> None:
    source = Path(cifar10.__file__).read_text()
    assert "shared" not in source and "/work" not in source
