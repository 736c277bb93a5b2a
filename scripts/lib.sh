# shellcheck shell=bash
# Helpers shared by scripts/*.sh: install missing Debian packages and make sure a Rust toolchain
# (with rustfmt and clippy) is on PATH. Source it; it defines functions only.

# Run as root, or through sudo when there is one.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

APT_UPDATED=0

# ensure_packages COMMAND:PACKAGE ... — apt-get install (non-interactively) the packages whose
# command is missing; nothing at all when every command is present. apt-get update runs once.
ensure_packages() {
    local pair missing=()
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    apt_install "${missing[@]}"
}

# apt_install PACKAGE ... — apt-get install (non-interactively); apt-get update runs once.
apt_install() {
    [ $# -gt 0 ] || return 0
    echo "==> installing with apt-get: $*"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    as_root apt-get install -y -qq --no-install-recommends "$@"
}

# The interpreter that runs the Python servers of scripts/servers/ (Debian's, whose modules come
# from python3-* packages, whatever python3 a pyenv or venv puts first on PATH).
PYTHON=/usr/bin/python3

# ensure_python_modules MODULE:PACKAGE ... — apt-get install the packages whose module $PYTHON
# cannot import (a command of the same name on PATH, from pip or pyenv, does not count).
ensure_python_modules() {
    local pair missing=()
    [ -x "$PYTHON" ] || missing+=(python3)
    for pair in "$@"; do
        "$PYTHON" -c "import ${pair%%:*}" 2>/dev/null || missing+=("${pair#*:}")
    done
    apt_install "${missing[@]}"
}

# ensure_optional_packages COMMAND:PACKAGE ... — like ensure_packages, but a package that cannot
# be installed here is a loud warning, not a failure (tests that need it then say they skipped).
ensure_optional_packages() {
    local pair
    for pair in "$@"; do
        ensure_packages "$pair" ||
            echo "WARNING: could not install ${pair#*:}; the tests that need ${pair%%:*} will say SKIPPED" >&2
    done
}

# ensure_rust — cargo, rustfmt and clippy on PATH: ~/.cargo/env if present, else rustup (stable).
ensure_rust() {
    ensure_packages cc:build-essential
    if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        ensure_packages curl:curl update-ca-certificates:ca-certificates
        echo "==> installing Rust (stable) with rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
            sh -s -- -y --profile minimal --default-toolchain stable --component rustfmt,clippy
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
    if command -v rustup >/dev/null 2>&1; then
        cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
        cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
    fi
}
