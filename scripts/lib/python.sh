# Sourced by the scripts that run Python tools. Needs a `run` function (print, then run) defined by
# the sourcing script.

# Makes sure Python 3 with venv is there (Debian splits venv into python3-venv): installed from
# Debian's packages when missing and this runs as root, as on a fresh CI machine; otherwise says
# what `$1` (the tool that needs it) requires and exits.
require_python_venv() {
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        return
    fi
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        run apt-get update -qq
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    else
        echo "$1 needs Python 3.10 or newer with venv (Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
}
