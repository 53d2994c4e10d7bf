#!/bin/sh
# Install trestle's build and test dependencies from Debian 12's own archive.
# Idempotent: packages already present are left alone. Must run as root (or via sudo).
# chromium: tests/cli/test_report.sh loads the HTML report in headless Chromium.
set -eu

PACKAGES="build-essential cmake pkg-config
libzmq3-dev liblmdb-dev lmdb-utils libsodium-dev libmsgpack-dev libjansson-dev
clang libclang-rt-14-dev python3
chromium"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
		echo "install-deps: need root to install:$missing" >&2
		exit 1
	fi
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
