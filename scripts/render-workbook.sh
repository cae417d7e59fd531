#!/usr/bin/env bash
# Renders the newest discrepancy workbook to PDF with LibreOffice, proving it
# opens in a real spreadsheet program (installed from Debian when missing).
# `make demo` runs it after the demo day; it is too slow for `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${RECON_EXPORT_DIR:-.run/exports}"
wb=$(ls -t "$dir"/*.xlsx 2>/dev/null | head -n1 || true)
[ -n "$wb" ] || { echo "render-workbook: no workbook in $dir" >&2; exit 1; }
if ! command -v soffice >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "render-workbook: installing LibreOffice Calc (once)" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui >/dev/null
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
timeout 180 soffice -env:UserInstallation=file://"$profile" --headless --convert-to pdf --outdir "$dir" "$wb" >/dev/null 2>&1
pdf="${wb%.xlsx}.pdf"
[ -s "$pdf" ] || { echo "render-workbook: LibreOffice did not render $wb" >&2; exit 1; }
echo "Workbook rendered by LibreOffice: $pdf"
