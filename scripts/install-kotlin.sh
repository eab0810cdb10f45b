#!/usr/bin/env bash
# Kotlin/JVM toolchain for the uniffi Kotlin test, from npm and Debian only.
# Prints KOTLIN_HOME. kotlinx-coroutines ships in $KOTLIN_HOME/lib; JNA from Debian.
set -euo pipefail
KOTLIN_VERSION=2.4.20
KOTLIN_HOME="${KOTLIN_HOME:-$HOME/.cache/kotlinc-$KOTLIN_VERSION}"
if [ ! -x "$KOTLIN_HOME/bin/kotlinc" ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null)
  mkdir -p "$KOTLIN_HOME"
  tar xzf "$tmp/kotlin-compiler-$KOTLIN_VERSION.tgz" -C "$KOTLIN_HOME" --strip-components=1
  rm -rf "$tmp"
fi
if [ ! -f /usr/share/java/jna.jar ]; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjna-java >&2
fi
command -v java >/dev/null || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless >&2; }
echo "$KOTLIN_HOME"
