#!/bin/sh
# Run by scripts/env/images.sh on the freshly debootstrapped tree ($1) before it is imported.
# Makes it a container base like debian:*-slim: apt sources ($2, a sources.list that images.sh
# writes from the places apt on this machine uses: the release, its -updates and -security), the
# files under rootfs/ (dpkg/apt settings for small layers) and no documentation or translations.
set -eu
root="$1"
sources="$2"
here="$(cd "$(dirname "$0")" && pwd)"
cp -r "$here/rootfs/." "$root/"
{
  echo "# Written by scripts/env/images.sh from this machine's apt sources."
  cat "$sources"
} >"$root/etc/apt/sources.list"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/info/*
find "$root/usr/share/doc" -type f ! -name copyright -delete
find "$root/usr/share/man" -type f -delete
# What dpkg's path-exclude rules (rootfs/etc/dpkg/dpkg.cfg.d/cc-ci-slim) keep out of later
# installs, removed from the bootstrapped packages as well (about 30 MB of translations).
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
rm -rf "$root"/usr/share/groff/* "$root"/usr/share/lintian/*
# Keep the man directories: postinst scripts (openjdk's update-alternatives) link their man
# pages there and fail when the directory is gone.
for s in 1 2 3 4 5 6 7 8; do mkdir -p "$root/usr/share/man/man$s"; done
