#!/usr/bin/env bash
# Builds the release binaries: static (CGO_ENABLED=0) bias for linux/amd64
# and linux/arm64 (IoT gateways), stamped with the version and commit
# (bias version, GET /v1/version), and their SHA-256 checksums.
#
#   scripts/release.sh                 # into dist/, version from git describe
#   VERSION=v1.2.0 OUT=/tmp/rel scripts/release.sh
#
# Output: $OUT/bias-$VERSION-linux-amd64, $OUT/bias-$VERSION-linux-arm64 and
# $OUT/SHA256SUMS (check with: cd $OUT && sha256sum -c SHA256SUMS).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}
OUT=${OUT:-dist}
PLATFORMS=${PLATFORMS:-"linux/amd64 linux/arm64"}
case "$VERSION" in
*[!A-Za-z0-9._+-]*) echo "release.sh: VERSION $VERSION: letters, digits and ._+- only" >&2; exit 2 ;;
esac
mkdir -p "$OUT"
pkg=github.com/bias-iot/bias/internal/version
names=()
for p in $PLATFORMS; do
	os=${p%/*} arch=${p#*/}
	name=bias-$VERSION-$os-$arch
	echo "building $OUT/$name" >&2
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=false \
		-ldflags "-s -w -X $pkg.version=$VERSION -X $pkg.commit=$COMMIT" \
		-o "$OUT/$name" ./cmd/bias
	names+=("$name")
done
(cd "$OUT" && sha256sum "${names[@]}" > SHA256SUMS)
echo "$OUT/SHA256SUMS" >&2
