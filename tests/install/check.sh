#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds a consumer against it twice: with
# find_package(mrt) and with pkg-config. Both must print the user id of key 1.
#   tests/install/check.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
want="@0x7e5f4552091a69125d5dfcb7b8c2659029395bdf:localhost"

cmake --install "$build" --prefix "$work/prefix" >/dev/null
mkdir "$work/src"
cp "$here/consumer.cpp" "$work/src/"
cp "$here/CMakeLists.txt.in" "$work/src/CMakeLists.txt"
cmake -S "$work/src" -B "$work/b" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/b" >/dev/null
got=$("$work/b/consumer_cmake")
[ "$got" = "$want" ] || { echo "find_package consumer printed '$got', want '$want'"; exit 1; }

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
c++ "$here/consumer.cpp" -o "$work/consumer_pc" $(pkg-config --cflags --libs --static mrt)
got=$("$work/consumer_pc")
[ "$got" = "$want" ] || { echo "pkg-config consumer printed '$got', want '$want'"; exit 1; }
echo "installed mrt works with find_package and pkg-config"
