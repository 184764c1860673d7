from pathlib import Path

import pytest

from sandbox.backends.keycloak.java import (
    JavaNotFound,
    Jdk,
    candidate_homes,
    choose_jdk,
    find_jdk,
    java_major,
    parse_java_major,
)


@pytest.mark.parametrize(
    ("version", "major"),
    [("17.0.15", 17), ("21", 21), ("25-ea", 25), ("1.8.0_292", 8), ("11.0.2+9", 11), ("banana", None)],
)
def test_parse_java_major(version: str, major: int | None) -> None:
    assert parse_java_major(version) == major


def test_java_major_reads_the_release_file(make_jdk) -> None:
    assert java_major(make_jdk("21.0.4")) == 21


def test_java_major_falls_back_to_java_version_output(make_jdk) -> None:
    home = make_jdk("17.0.9")
    (home / "release").unlink()
    assert java_major(home) == 17


def test_candidate_homes_resolves_path_java_and_drops_duplicates(tmp_path: Path, make_jdk) -> None:
    jvm = tmp_path / "jvm"
    jdk17 = make_jdk("17.0.15", parent=jvm)
    jdk25 = make_jdk("25", parent=jvm)
    (jvm / "not-a-jdk").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(jdk17 / "bin" / "java")

    homes = candidate_homes(str(jdk25), str(bin_dir), jvm_dirs=(jvm,))

    assert homes == [jdk25.resolve(), jdk17.resolve()]


def test_choose_prefers_the_newest_tested_major() -> None:
    jdks = [Jdk(Path("/j17"), 17), Jdk(Path("/j25"), 25), Jdk(Path("/j21"), 21), Jdk(Path("/j11"), 11)]
    assert choose_jdk(jdks).major == 25


def test_choose_prefers_tested_over_newer_untested() -> None:
    jdks = [Jdk(Path("/j17"), 17), Jdk(Path("/j29"), 29), Jdk(Path("/j27"), 27)]
    assert choose_jdk(jdks).major == 17
    assert choose_jdk(jdks[1:]).major == 27  # untested only: the closest to what is tested


def test_explicit_java_home_wins_when_new_enough() -> None:
    jdks = [Jdk(Path("/j17"), 17), Jdk(Path("/j25"), 25)]
    assert choose_jdk(jdks, explicit=jdks[0]).major == 17
    assert choose_jdk(jdks, explicit=Jdk(Path("/j11"), 11)).major == 25


def test_choose_names_what_it_found_when_all_are_too_old() -> None:
    with pytest.raises(JavaNotFound, match=r"no JDK 17\+ found .*/j11 \(Java 11\)"):
        choose_jdk([Jdk(Path("/j11"), 11)])


def test_find_jdk_with_no_java_anywhere(tmp_path: Path) -> None:
    with pytest.raises(JavaNotFound, match="found: none"):
        find_jdk({"PATH": str(tmp_path)}, jvm_dirs=(tmp_path / "nothing",))


def test_find_jdk_honours_java_home(tmp_path: Path, make_jdk) -> None:
    jvm = tmp_path / "jvm"
    make_jdk("25", parent=jvm)
    own = make_jdk("21.0.1", parent=tmp_path / "opt")
    jdk = find_jdk({"JAVA_HOME": str(own), "PATH": ""}, jvm_dirs=(jvm,))
    assert jdk == Jdk(own.resolve(), 21)
