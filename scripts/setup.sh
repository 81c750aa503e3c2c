#!/usr/bin/env bash
# Set up loa on Debian 12 / Raspberry Pi OS (bookworm). Safe to run again.
#   scripts/setup.sh         runtime: espeak-ng, ffmpeg, PortAudio, .venv with loa
#   scripts/setup.sh --dev   also what the tests need: PulseAudio, LibreOffice, Chromium,
#                            PostgreSQL, Mosquitto, pytest
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "Không hiểu tham số: $arg (dùng --dev)" >&2; exit 2 ;;
  esac
done

# tesseract (Vietnamese) and poppler read scanned plans; hunspell-vi is the syllable list
packages=(espeak-ng ffmpeg libportaudio2 python3-venv python3-pip
          tesseract-ocr tesseract-ocr-vie poppler-utils hunspell-vi)
if [ "$dev" = 1 ]; then
  packages+=(pulseaudio pulseaudio-utils libasound2-plugins libreoffice-calc-nogui libreoffice-writer-nogui
             chromium postgresql mosquitto mosquitto-clients)
  # the server-tier tests start their own PostgreSQL and Mosquitto on loopback; the
  # system services the packages enable are not needed (a test machine may have no systemd)
  # not fonts-liberation (Chromium only recommends it): its old Liberation Serif has no
  # precomposed Vietnamese, and LibreOffice's PDF reports then split the accents off
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Cài gói hệ thống: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
extras=""
[ "$dev" = 1 ] && extras="dev"
# On a Raspberry Pi, also what switches the village relays (GPIO).
if grep -qs "Raspberry Pi" /proc/device-tree/model; then extras="${extras:+$extras,}pi"; fi
.venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
echo "Đã cài xong loa: .venv/bin/loa --help"
