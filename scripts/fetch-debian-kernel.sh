#!/bin/sh
# Fetches Debian's TDX guest kernel (bookworm-security linux-image-6.12.107+deb12-cloud-amd64-unsigned), caches it,
# and prints the path of its bzImage (boot/vmlinuz-*) on stdout. Used by the Linux-guest test and
# perf/linux-boot-figures.sh; works on a clean machine.
#
# Cache: $TDXSIM_KERNEL_CACHE if set; else /var/cache/tdxsim if it already holds the package or is writable;
# else ${XDG_CACHE_HOME:-$HOME/.cache}/tdxsim. Download: `apt-get download` (after `apt-get update` if apt does
# not know the package), and where apt cannot (not Debian, no bookworm-security source) the .deb straight
# from Debian's security mirror, checked against its SHA-256. Extraction: dpkg -x, or ar + tar without dpkg.
set -eu

PKG=linux-image-6.12.107+deb12-cloud-amd64-unsigned
DEB=linux-image-6.12.107+deb12-cloud-amd64-unsigned_6.12.107-1~deb12u1_amd64.deb
URL='http://deb.debian.org/debian-security/pool/updates/main/l/linux-6.12/linux-image-6.12.107%2bdeb12-cloud-amd64-unsigned_6.12.107-1%7edeb12u1_amd64.deb'
SHA256=752d15dbe0817b35ec227f352e226122ec6567bd47e7240c90e01e61a179baad
VMLINUZ=boot/vmlinuz-6.12.107+deb12-cloud-amd64

log() { echo "fetch-debian-kernel: $*" >&2; }

if [ -n "${TDXSIM_KERNEL_CACHE:-}" ]; then
    CACHE=$TDXSIM_KERNEL_CACHE
elif [ -f "/var/cache/tdxsim/x/$VMLINUZ" ] || { mkdir -p /var/cache/tdxsim 2>/dev/null && [ -w /var/cache/tdxsim ]; }; then
    CACHE=/var/cache/tdxsim
else
    CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tdxsim
fi
mkdir -p "$CACHE"

if [ -f "$CACHE/x/$VMLINUZ" ]; then
    echo "$CACHE/x/$VMLINUZ"
    exit 0
fi

SUDO=
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
fi

if [ ! -s "$CACHE/$DEB" ]; then
    if command -v apt-get >/dev/null 2>&1; then
        log "apt-get download $PKG into $CACHE"
        if ! (cd "$CACHE" && apt-get download "$PKG" >&2 2>/dev/null); then
            log "apt-get does not know $PKG yet: apt-get update, then again"
            $SUDO apt-get update -qq >&2 || true
            (cd "$CACHE" && apt-get download "$PKG" >&2) || true
        fi
    fi

    if [ ! -s "$CACHE/$DEB" ]; then
        log "downloading $URL"
        if command -v curl >/dev/null 2>&1; then
            curl -fsSL -o "$CACHE/$DEB.part" "$URL"
        else
            wget -q -O "$CACHE/$DEB.part" "$URL"
        fi
        mv "$CACHE/$DEB.part" "$CACHE/$DEB"
    fi
fi

echo "$SHA256  $CACHE/$DEB" | sha256sum -c --status || { log "$CACHE/$DEB: SHA-256 mismatch"; rm -f "$CACHE/$DEB"; exit 1; }

rm -rf "$CACHE/x.part"
mkdir -p "$CACHE/x.part"
if command -v dpkg >/dev/null 2>&1; then
    dpkg -x "$CACHE/$DEB" "$CACHE/x.part"
else
    (cd "$CACHE/x.part" && ar x "$CACHE/$DEB" && tar -xf data.tar.* ./boot && rm -f data.tar.* control.tar.* debian-binary)
fi
rm -rf "$CACHE/x"
mv "$CACHE/x.part" "$CACHE/x"
echo "$CACHE/x/$VMLINUZ"
