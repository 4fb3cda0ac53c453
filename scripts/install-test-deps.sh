#!/usr/bin/env bash
# Installs what synthtel's tests need on a fresh Debian machine. Safe to run again.
set -euo pipefail

need_apt=()
command -v make >/dev/null 2>&1 || need_apt+=(make)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# Python and pip for rotel (PyPI), the OTLP collector of the otlp end-to-end tests.
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
# A real Prometheus for the metrics end-to-end tests (started by the tests, never by systemd).
[ -x /usr/bin/prometheus ] || need_apt+=(prometheus)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing ${need_apt[*]} from Debian packages." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if ! rustup component list --installed 2>/dev/null | grep -q '^clippy'; then
  rustup component add clippy rustfmt
fi

# rotel: a real OTLP collector (HTTP and gRPC) that prints what it decodes; pre-release only.
if ! python3 -c "import rotel" >/dev/null 2>&1; then
  echo "Installing rotel from PyPI." >&2
  python3 -m pip install --quiet --pre rotel \
    || python3 -m pip install --quiet --pre --break-system-packages rotel
fi
