import json
from pathlib import Path

from sandbox.backends.keycloak.run_home import place_realm, prepare_run_home, save_seed, seed_path


def test_run_home_copies_small_parts_and_links_the_jars(tmp_path: Path, make_distribution) -> None:
    dist = make_distribution("exit 0\n")
    run = tmp_path / "runs" / "1-8080"

    prepare_run_home(dist, run, seed=None)

    assert (run / "lib" / "lib").is_symlink() and (run / "lib" / "lib").resolve() == (dist / "lib" / "lib").resolve()
    assert (run / "bin" / "client").is_symlink()
    assert not (run / "bin" / "kc.sh").is_symlink()  # kc.sh finds its home from its own real path
    assert not (run / "lib" / "quarkus").is_symlink()
    (run / "lib" / "quarkus" / "build-system.properties").write_text("augmented\n")
    assert (dist / "lib" / "quarkus" / "build-system.properties").read_text() == "pristine\n"
    assert not run.with_name("1-8080.partial").exists()


def test_a_saved_seed_is_used_by_the_next_run(tmp_path: Path, make_distribution) -> None:
    dist = make_distribution("exit 0\n")
    seed = seed_path(tmp_path / "augmented", dist, ["--db=dev-mem"])
    assert seed != seed_path(tmp_path / "augmented", dist, ["--db=dev-file"])

    first = tmp_path / "runs" / "first"
    prepare_run_home(dist, first, seed)
    (first / "lib" / "quarkus" / "build-system.properties").write_text("augmented\n")
    save_seed(first, seed)

    second = tmp_path / "runs" / "second"
    prepare_run_home(dist, second, seed)
    assert (second / "lib" / "quarkus" / "build-system.properties").read_text() == "augmented\n"


def test_a_kept_home_is_reused_as_is(tmp_path: Path, make_distribution) -> None:
    dist = make_distribution("exit 0\n")
    run = tmp_path / "state"
    prepare_run_home(dist, run, seed=None)
    (run / "data" / "h2").mkdir(parents=True)
    prepare_run_home(dist, run, seed=None)
    assert (run / "data" / "h2").is_dir()


def test_place_realm_replaces_earlier_imports(tmp_path: Path, minimal_realm: Path) -> None:
    (tmp_path / "data" / "import").mkdir(parents=True)
    (tmp_path / "data" / "import" / "old.json").write_text("{}")
    target = place_realm(tmp_path, minimal_realm, "sandbox")
    assert [p.name for p in (tmp_path / "data" / "import").iterdir()] == ["sandbox.json"]
    assert json.loads(target.read_text())["realm"] == "sandbox"
