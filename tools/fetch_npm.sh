#!/usr/bin/env bash
# Fetch one npm package at an exact version, check it against the registry's sha512 integrity, and
# unpack the named members of it (paths inside the package) into DEST, replacing what was there.
#
#   tools/fetch_npm.sh NAME VERSION SHA512-INTEGRITY DEST MEMBER...
#
# The Makefile uses it for axe-core (the website tests) and mathjax-full (the book build). To
# upgrade one: `npm view NAME@VERSION dist.integrity`, then edit the Makefile's two lines for it.
# Node.js and npm are installed with apt-get when missing and run as root (as CI is).
set -euo pipefail
if [ "$#" -lt 5 ]; then
  echo "usage: $0 NAME VERSION SHA512-INTEGRITY DEST MEMBER... (got $# arguments: $*)" >&2
  exit 2
fi
name=$1 version=$2 integrity=$3 dest=$4
shift 4

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "$name@$version comes from the npm registry: install Node.js and npm" \
         "(Debian: sudo apt-get install nodejs npm)" >&2
    exit 1
  fi
fi

download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
(cd "$download" && npm pack --silent "$name@$version" >/dev/null)
archive="$download/$name-$version.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$archive" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "$name-$version.tgz: integrity $got, expected $integrity" >&2
  exit 1
fi
rm -rf "$dest"
mkdir -p "$dest"
tar -xzf "$archive" -C "$dest" --strip-components=1 "${@/#/package/}"
