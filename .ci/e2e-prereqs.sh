#!/bin/sh
# Installs what the root tiers (test/netns, test/fault, test/e2e) need, when it is missing:
# containerd with its runc shim, runc, the reference CNI plugins in /usr/lib/cni, iproute2,
# iptables, ping, strace (a test counts a command's file-system calls), buildah (npm run image),
# and gcc with a static libc (the harness compiles its pause image and its node init with
# `gcc -static`). test/run.sh and npm run bench run it.
#
# Idempotent and non-interactive; runs as root (re-executes itself through `sudo -n` if it can).
# Checks for the tools, not for package names: a CI image may already carry containerd from
# another source (e.g. containerd.io), and installing Debian's `containerd` over it would
# remove it. apt is told never to remove a package (--no-remove).
# Prints one line per check and what it installed. Exit status is non-zero if anything is
# still missing afterwards.
set -eu

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    exec sudo -n "$0" "$@"
  fi
  echo "e2e-prereqs: must run as root (and sudo -n is not available)" >&2
  exit 1
fi

missing_packages=""

need() { # need <package> <description> <check command...>
  pkg=$1
  what=$2
  shift 2
  if "$@" >/dev/null 2>&1; then
    echo "e2e-prereqs: ok       $what"
  else
    echo "e2e-prereqs: missing  $what (package $pkg)"
    case " $missing_packages " in
      *" $pkg "*) ;;
      *) missing_packages="$missing_packages $pkg" ;;
    esac
  fi
}

static_libc() {
  command -v gcc && [ "$(gcc -print-file-name=libc.a)" != "libc.a" ]
}

check_all() {
  missing_packages=""
  need containerd "containerd" command -v containerd
  need containerd "ctr" command -v ctr
  need containerd "containerd-shim-runc-v2" command -v containerd-shim-runc-v2
  need runc "runc" command -v runc
  need containernetworking-plugins "CNI plugins in /usr/lib/cni" test -x /usr/lib/cni/bridge -a -x /usr/lib/cni/host-local -a -x /usr/lib/cni/loopback
  need gcc "gcc" command -v gcc
  need libc6-dev "static libc (libc.a)" static_libc
  need iproute2 "ip" command -v ip
  need util-linux "unshare, nsenter, setpriv" sh -c 'command -v unshare && command -v nsenter && command -v setpriv'
  # The netns tier: portmap writes iptables rules, pods ping each other.
  need iptables "iptables" command -v iptables
  need iputils-ping "ping" command -v ping
  # Daemon mode: the tests talk to the daemon's socket and metrics as an operator would.
  need curl "curl" command -v curl
  need strace "strace" command -v strace
  # npm run image (the e2e tier runs the image it builds); vfs storage, chroot isolation: no daemon.
  need buildah "buildah" command -v buildah
}

check_all
if [ -z "$missing_packages" ]; then
  echo "e2e-prereqs: nothing to install"
  exit 0
fi

echo "e2e-prereqs: installing:$missing_packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends --no-remove -o Dpkg::Options::=--force-confold $missing_packages </dev/null
echo "e2e-prereqs: installed:$missing_packages"

check_all
if [ -n "$missing_packages" ]; then
  echo "e2e-prereqs: still missing after install:$missing_packages" >&2
  exit 1
fi
echo "e2e-prereqs: done"
