#!/usr/bin/env bash
# Install the mobiledeploy live classifier on a Raspberry Pi (Raspberry Pi OS Bookworm, 64-bit).
#   bash raspberrypi/install.sh [--artifact models/mobilenet_v1_0.5_128] [--port 8080] [--host 127.0.0.1] [--no-service]
#   (--host 0.0.0.0 shares the web view with your network, without authentication)
# Camera and OpenCV come from apt (picamera2 is only packaged there); a virtual environment with
# --system-site-packages sees them, and gets mobiledeploy's light runtime (no TensorFlow) from pip.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
venv="${MOBILEDEPLOY_VENV:-$HOME/.local/share/mobiledeploy/venv}"
artifact="$repo/models/mobilenet_v1_0.5_128"
port=8080
host=127.0.0.1
service=1
while [ $# -gt 0 ]; do
  case "$1" in
    --artifact) artifact="$(realpath "$2")"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --host) host="$2"; shift 2 ;;
    --no-service) service=0; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

echo "[1/4] system packages (picamera2, OpenCV, numpy)"
sudo apt-get update -qq
sudo apt-get install -y -qq python3-venv python3-picamera2 python3-opencv python3-numpy >/dev/null

echo "[2/4] virtual environment $venv (with system site packages, so picamera2 is visible)"
python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install -q --upgrade pip
# ai-edge-litert: the maintained TFLite runtime (tflite-runtime has no Python 3.11 aarch64 wheel)
"$venv/bin/pip" install -q "$repo[runtime]"

echo "[3/4] check: the runtime loads and the artifact verifies"
if [ -f "$artifact/manifest.json" ]; then
  "$venv/bin/python" - "$artifact" <<'PY'
import sys
from mobiledeploy.runtime.classifier import Classifier
c = Classifier(sys.argv[1])
print(f"  {c.artifact.manifest.name} / {c.entry.name}: ok")
PY
else
  echo "  no artifact at $artifact yet: export one on your computer (mobiledeploy export --alpha 0.5 --res 128 --int8)"
  echo "  and copy its folder here, then re-run with --artifact PATH"
fi

if [ "$service" = 1 ]; then
  echo "[4/4] systemd service mobiledeploy-classifier (headless, web view on port $port)"
  unit=/etc/systemd/system/mobiledeploy-classifier.service
  sed -e "s|@USER@|$USER|g" -e "s|@PYTHON@|$venv/bin/python|g" -e "s|@CLASSIFY@|$here/classify.py|g" \
      -e "s|@ARTIFACT@|$artifact|g" -e "s|@PORT@|$port|g" -e "s|@HOST@|$host|g" "$here/mobiledeploy-classifier.service" | sudo tee "$unit" >/dev/null
  sudo systemctl daemon-reload
  sudo systemctl enable --now mobiledeploy-classifier.service
  shown="$host"; [ "$host" = 0.0.0.0 ] && shown="$(hostname).local"
  echo "  open http://$shown:$port/ ; logs: journalctl -u mobiledeploy-classifier -f"
else
  echo "[4/4] service skipped; run: $venv/bin/python $here/classify.py --artifact $artifact --web"
fi
