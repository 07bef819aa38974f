"""`devices add` / `devices remove` edit devices.toml in place: a user's comments and untouched entries keep
their text (the real console script, a real file)."""
import tomllib

from conftest import mobiledeploy

HAND_WRITTEN = """\
# lab boards -- ask Ana before rebooting rpi4
[devices.rpi4]
kind = "ssh"
host = "rpi4.local"   # DHCP reservation on the lab router
user = "pi"
port = 22

[devices.phone]
kind = "adb"
serial = "1A2B3C4D"
"""


def test_add_and_remove_keep_comments_and_other_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILEDEPLOY_HOME", str(tmp_path))
    path = tmp_path / "devices.toml"
    path.write_text(HAND_WRITTEN)
    mobiledeploy("devices", "add", "jetson", "--ssh", "nv@jetson.local:2222", check=True)
    text = path.read_text()
    assert text.startswith(HAND_WRITTEN.rstrip("\n"))  # every byte the user wrote is still there
    doc = tomllib.loads(text)["devices"]
    assert doc["jetson"]["host"] == "jetson.local" and doc["jetson"]["port"] == 2222
    mobiledeploy("devices", "remove", "phone", check=True)
    text = path.read_text()
    assert "# lab boards -- ask Ana" in text and "# DHCP reservation on the lab router" in text
    assert set(tomllib.loads(text)["devices"]) == {"rpi4", "jetson"}
    # replacing an entry rewrites that entry only
    mobiledeploy("devices", "add", "jetson", "--ssh", "nv@jetson.local", check=True)
    doc = tomllib.loads(path.read_text())["devices"]
    assert doc["jetson"]["port"] == 22 and "# DHCP reservation" in path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_first_add_creates_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILEDEPLOY_HOME", str(tmp_path / "new"))
    mobiledeploy("devices", "add", "rpi", "--ssh", "pi@10.0.0.7", check=True)
    doc = tomllib.loads((tmp_path / "new" / "devices.toml").read_text())
    assert doc["devices"]["rpi"]["host"] == "10.0.0.7"
