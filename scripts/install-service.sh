#!/usr/bin/env bash
# Cài loa thành dịch vụ systemd trên Raspberry Pi OS / Debian 12: loa (máy phát) và loa-web
# (trang quản lý đài, mở trên điện thoại).
#   sudo scripts/install-service.sh schedules/ba-vi.yaml
#   sudo scripts/install-service.sh --web local schedules/ba-vi.yaml   (sau Caddy/nginx)
#   scripts/install-service.sh --dry-run schedules/ba-vi.yaml   (chỉ in ra, không cài)
# --web lan    trang quản lý mở cho mọi máy trong mạng LAN (0.0.0.0), mặc định
# --web local  chỉ máy này (127.0.0.1), dùng khi có Caddy/nginx làm HTTPS phía trước
# --web off    không cài trang quản lý
# --port CỔNG  cổng của trang quản lý (mặc định 8080)
# Thư mục chứa tệp lịch (cùng tệp bản tin) được chép vào /etc/loa; dữ liệu ở /var/lib/loa.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  echo "Cách dùng: sudo scripts/install-service.sh [--web lan|local|off] [--port CỔNG] <tệp lịch phát .yaml>" >&2
  exit 2
}

dry=0 web=lan port=8080
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1; shift ;;
    --web) [ $# -ge 2 ] || usage; web=$2; shift 2 ;;
    --port) [ $# -ge 2 ] || usage; port=$2; shift 2 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
  esac
done
case "$web" in
  lan) host=0.0.0.0 ;;
  local) host=127.0.0.1 ;;
  off) host= ;;
  *) echo "--web phải là lan, local hoặc off (không phải \"$web\")." >&2; exit 2 ;;
esac
if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
  echo "--port phải là số cổng từ 1 đến 65535 (không phải \"$port\")." >&2
  exit 2
fi
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  usage
fi
src=$(cd "$(dirname "$1")" && pwd)
name=$(basename "$1")

groups=audio
getent group gpio >/dev/null 2>&1 && groups="audio gpio"
unit=$(sed -e "s|@REPO@|$repo|g" -e "s|@SCHEDULE@|/etc/loa/$name|g" -e "s|@GROUPS@|$groups|g" \
  "$repo/scripts/loa.service.in")
web_unit=
if [ -n "$host" ]; then
  web_unit=$(sed -e "s|@REPO@|$repo|g" -e "s|@SCHEDULE@|/etc/loa/$name|g" \
    -e "s|@SCHEDULE_DIR@|/etc/loa|g" -e "s|@HOST@|$host|g" -e "s|@PORT@|$port|g" \
    "$repo/scripts/loa-web.service.in")
fi

if [ "$dry" = 1 ]; then
  printf '# ==> /etc/systemd/system/loa.service <==\n%s\n' "$unit"
  if [ -n "$web_unit" ]; then
    printf '# ==> /etc/systemd/system/loa-web.service <==\n%s\n' "$web_unit"
  fi
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
if [ -e "/etc/loa/$name" ]; then
  # cài lại: giữ lịch và bản tin đã có (có thể đã sửa trên trang quản lý), chỉ thêm tệp mới
  cp -rn "$src"/. /etc/loa/
  echo "Giữ nguyên các tệp đã có trong /etc/loa (có thể đã sửa trên trang quản lý); chỉ chép thêm tệp mới."
else
  cp -r "$src"/. /etc/loa/
fi
if [ -n "$web_unit" ]; then
  # the console saves the schedules (atomically: new files beside the old) and keeps plans
  chown -R loa:loa /etc/loa
  chmod -R u+rwX,g+rX,o-rwx /etc/loa
else
  chown -R root:loa /etc/loa
  chmod -R g+rX,o-rwx /etc/loa
fi
chmod o+rx "$repo" "$repo/.venv" 2>/dev/null || true

install_unit() {  # install_unit NAME TEXT
  local tmp
  tmp=$(mktemp "/etc/systemd/system/.$1.XXXXXX")
  printf '%s\n' "$2" > "$tmp"
  chmod 0644 "$tmp"
  mv "$tmp" "/etc/systemd/system/$1"
}
install_unit loa.service "$unit"
if [ -n "$web_unit" ]; then
  install_unit loa-web.service "$web_unit"
  [ -e /etc/default/loa-web ] || printf '%s\n' \
    "# Môi trường của loa-web (trang quản lý). Khi đặt sau Caddy/nginx có HTTPS:" \
    "#LOA_HTTPS=1" "#LOA_CSRF_ORIGINS=https://loa.example.vn" \
    "#LOA_ALLOWED_HOSTS=loa.example.vn" > /etc/default/loa-web
elif [ -e /etc/systemd/system/loa-web.service ]; then
  systemctl disable --now loa-web.service || true
  rm -f /etc/systemd/system/loa-web.service
fi
systemctl daemon-reload
systemctl enable --now loa.service
if [ -n "$web_unit" ]; then
  systemctl enable loa-web.service
  systemctl restart loa-web.service
fi

cat <<MSG
Đã cài dịch vụ loa. Máy sẽ tự phát theo lịch /etc/loa/$name mỗi khi bật.
  Xem tình trạng:      systemctl status loa
  Xem nhật ký máy:     journalctl -u loa -n 50
  Sửa lịch xong:       sudo systemctl reload loa   (loa cũng tự thấy tệp đã sửa)
  Nhật ký phát:        sudo -u loa LOA_DATA_DIR=/var/lib/loa $repo/.venv/bin/loa log
MSG
if [ -n "$web_unit" ]; then
  where="http://<địa chỉ máy này trong mạng LAN>:$port/"
  [ "$host" = 127.0.0.1 ] && where="http://127.0.0.1:$port/ (đặt Caddy/nginx phía trước, xem README)"
  cat <<MSG
Trang quản lý đài (loa-web): $where
  Tạo người quản trị đầu tiên:
    sudo -u loa LOA_DATA_DIR=/var/lib/loa $repo/.venv/bin/loa users add TÊN --role admin --role editor --name "Họ tên"
  Xem tình trạng:      systemctl status loa-web
MSG
fi
