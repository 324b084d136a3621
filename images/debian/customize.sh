#!/bin/sh
# Run by scripts/env/images.sh on the freshly debootstrapped tree ($1) before it is imported.
# Makes it a container base like debian:*-slim: the files under rootfs/ (apt sources with
# updates and security, dpkg/apt settings for small layers) and no documentation.
set -eu
root="$1"
here="$(cd "$(dirname "$0")" && pwd)"
suite="$2"
cp -r "$here/rootfs/." "$root/"
sed -i "s/@SUITE@/$suite/g" "$root/etc/apt/sources.list"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/info/*
find "$root/usr/share/doc" -type f ! -name copyright -delete
find "$root/usr/share/man" -type f -delete
# Keep the man directories: postinst scripts (openjdk's update-alternatives) link their man
# pages there and fail when the directory is gone.
for s in 1 2 3 4 5 6 7 8; do mkdir -p "$root/usr/share/man/man$s"; done
