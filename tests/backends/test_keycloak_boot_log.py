from pathlib import Path

from sandbox.backends.keycloak.boot_log import BootLog

BOOT = """\
2026-11-23 11:08:30,913 INFO  [io.quarkus.deployment.QuarkusAugmentor] (main) Quarkus augmentation completed in 18819ms
2026-11-23 11:08:41,232 INFO  [org.keycloak.exportimport.dir.DirImportProvider] (main) Importing from directory /x/data/import
2026-11-23 11:08:43,463 INFO  [org.keycloak.exportimport.singlefile.SingleFileImportProvider] (main) Full importing from file /x/data/import/sandbox.json
2026-11-23 11:08:44,580 INFO  [org.keycloak.exportimport.util.ImportUtils] (main) Realm 'sandbox' imported
2026-11-23 11:08:44,961 INFO  [io.quarkus] (main) Keycloak 26.7.3 on JVM (powered by Quarkus 3.33.3.1) started in 13.914s.
"""


def test_phases_are_reported_once_each(tmp_path: Path) -> None:
    log = tmp_path / "keycloak.log"
    messages: list[str] = []
    boot_log = BootLog(log, messages.append)
    boot_log.poll()  # before Keycloak wrote anything
    log.write_text(BOOT[:150])  # half a line: nothing yet
    boot_log.poll()
    log.write_text(BOOT)
    boot_log.poll()
    boot_log.poll()

    assert [m.split(" in ")[0] for m in messages] == [
        "boot: re-augmented the server",
        "boot: done",
        "realm import: 'sandbox' imported",
    ]
    assert boot_log.booted_at is not None


def test_kept_state_reports_a_skipped_import(tmp_path: Path) -> None:
    log = tmp_path / "keycloak.log"
    log.write_text("... INFO [ImportUtils] (main) Realm 'sandbox' already exists. Import skipped\n")
    messages: list[str] = []
    BootLog(log, messages.append).poll()
    assert messages == ["realm import: 'sandbox' kept from the previous run, import skipped"]


def test_cause_is_the_last_error_line(tmp_path: Path) -> None:
    log = tmp_path / "keycloak.log"
    log.write_text(
        "INFO starting\n"
        "ERROR: Port already bound: 8080: Address already in use\n"
        "ERROR: For more details run the same command passing the '--verbose' option.\n"
        "\n"
    )
    boot_log = BootLog(log, lambda message: None)
    assert boot_log.cause() == "ERROR: For more details run the same command passing the '--verbose' option."
    assert boot_log.tail(2)[0] == "ERROR: Port already bound: 8080: Address already in use"


def test_cause_without_a_log(tmp_path: Path) -> None:
    assert BootLog(tmp_path / "missing.log", lambda message: None).cause() == "(log is empty)"
