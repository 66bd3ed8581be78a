#!/usr/bin/env bash
# The few things docflow needs from the operating system rather than PyPI:
#   libmagic1      python-magic's engine (detect)
#   poppler-utils  pdfinfo and pdftotext, the references the corpus tests measure against
#   tesseract-ocr-*  Tesseract's data for OCR's seven languages (tessdata_fast): read here,
#                  and copied into the ocr and thumbnail bundles by infra/bundles.py
#   groff manpages-de manpages-fr  the German, French and English manuals
#                  benchmarks/quality.py typesets, scans and photographs
#   chromium       the browser tests/test_console_serve.py drives through Playwright
# Installs what is missing when it can (root with apt-get); otherwise says what to install.
set -euo pipefail
needed=(libmagic1 poppler-utils tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa
        tesseract-ocr-ita tesseract-ocr-por tesseract-ocr-nld groff manpages-de manpages-fr chromium)
missing=()
for package in "${needed[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
elif command -v dpkg >/dev/null 2>&1; then
  echo "docflow needs: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
