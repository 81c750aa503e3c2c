#!/usr/bin/env bash
# Cài loa thành dịch vụ systemd trên Raspberry Pi OS / Debian 12.
#   sudo scripts/install-service.sh schedules/ba-vi.yaml
#   scripts/install-service.sh --dry-run schedules/ba-vi.yaml   (chỉ in ra, không cài)
# Thư mục chứa tệp lịch (cùng tệp bản tin) được chép vào /etc/loa; dữ liệu ở /var/lib/loa.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  echo "Cách dùng: sudo scripts/install-service.sh <tệp lịch phát .yaml>" >&2
  exit 2
fi
src=$(cd "$(dirname "$1")" && pwd)
name=$(basename "$1")

groups=audio
getent group gpio >/dev/null 2>&1 && groups="audio gpio"
unit=$(sed -e "s|@REPO@|$repo|g" -e "s|@SCHEDULE@|/etc/loa/$name|g" -e "s|@GROUPS@|$groups|g" \
  "$repo/scripts/loa.service.in")

if [ "$dry" = 1 ]; then
  printf '%s\n' "$unit"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Cần quyền quản trị: chạy lại với sudo." >&2
  exit 2
fi

"$repo/scripts/setup.sh"
"$repo/.venv/bin/loa" validate "$1"

id loa >/dev/null 2>&1 || useradd --system --home-dir /var/lib/loa --shell /usr/sbin/nologin loa
for g in $groups; do usermod -a -G "$g" loa; done
install -d -o loa -g loa -m 0750 /var/lib/loa
install -d -o root -g loa -m 0750 /etc/loa
cp -r "$src"/. /etc/loa/
chown -R root:loa /etc/loa
chmod -R g+rX,o-rwx /etc/loa
chmod o+rx "$repo" "$repo/.venv" 2>/dev/null || true

tmp=$(mktemp /etc/systemd/system/.loa.service.XXXXXX)
printf '%s\n' "$unit" > "$tmp"
chmod 0644 "$tmp"
mv "$tmp" /etc/systemd/system/loa.service
systemctl daemon-reload
systemctl enable --now loa.service

cat <<MSG
Đã cài dịch vụ loa. Máy sẽ tự phát theo lịch /etc/loa/$name mỗi khi bật.
  Xem tình trạng:      systemctl status loa
  Xem nhật ký máy:     journalctl -u loa -n 50
  Sửa lịch xong:       sudo systemctl reload loa   (loa cũng tự thấy tệp đã sửa)
  Nhật ký phát:        sudo -u loa LOA_DATA_DIR=/var/lib/loa $repo/.venv/bin/loa log
MSG
