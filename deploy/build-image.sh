#!/usr/bin/env bash
# npm run image: the DaemonSet's image (deploy/Containerfile) built with buildah, as an OCI
# archive: dist/plexus-image.oci.tar, tagged with the image name deploy/kustomization.yaml
# rewrites and package.json's version. Root (buildah's vfs storage driver and chroot isolation
# need no daemon and no kernel overlay, but write root-owned files). Installs what it needs.
#
# Everything buildah stores lives under dist/image/ and is removed at the end; the machine's
# /var/lib/containers is never used. Prints the archive's size and the image's.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "npm run image: run as root (buildah writes root-owned files)" >&2; exit 1; }
command -v buildah >/dev/null 2>&1 || bash .ci/e2e-prereqs.sh >/dev/null
[ -d node_modules ] || npm ci --no-audit --no-fund

IMAGE="${PLEXUS_IMAGE:-ghcr.io/plexus-cni/plexus}"
VERSION="$(node -p 'require("./package.json").version')"
ARCHIVE="dist/plexus-image.oci.tar"
WORK="dist/image"
CONTEXT="$WORK/context"

step() { printf '==> %s\n' "$*" >&2; }
started=$SECONDS

step "npm run build"
npm run --silent build

step "staging $CONTEXT"
rm -rf "$WORK"
mkdir -p "$CONTEXT/usr/local/bin" "$CONTEXT/lib/x86_64-linux-gnu" "$CONTEXT/lib64"
cp dist/plexus dist/plexus-shim dist/plexus-hostexec "$CONTEXT/usr/local/bin/"
# Every library the dynamic loader resolves for plexus, under the name it looks for (the file
# a symlink points to, copied as the link's name), plus the loader itself.
for lib in $(ldd dist/plexus | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
  case "$lib" in
    /lib/x86_64-linux-gnu/* | /usr/lib/x86_64-linux-gnu/*) cp -L "$lib" "$CONTEXT/lib/x86_64-linux-gnu/$(basename "$lib")" ;;
    *) echo "npm run image: unexpected library path $lib" >&2; exit 1 ;;
  esac
done
loader="$(ldd dist/plexus | awk '$1 ~ /^\/lib64\/ld-linux/ { print $1 }')"
[ -n "$loader" ] || { echo "npm run image: no dynamic loader in ldd dist/plexus" >&2; exit 1; }
cp -L "$loader" "$CONTEXT/lib64/$(basename "$loader")"

buildah_() {
  buildah --root "$PWD/$WORK/storage" --runroot "$PWD/$WORK/run" --storage-driver vfs "$@"
}
trap 'buildah_ rm --all >/dev/null 2>&1 || true; rm -rf "$WORK/storage" "$WORK/run"' EXIT

step "buildah bud -f deploy/Containerfile"
# The commit's time as every file's and the image's timestamp: the same sources give the same image.
timestamp="$(git log -1 --format=%ct 2>/dev/null || echo 0)"
buildah_ bud --quiet --isolation chroot --timestamp "$timestamp" \
  --label "org.opencontainers.image.version=$VERSION" \
  --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --label "org.opencontainers.image.source=https://github.com/plexus-cni/plexus" \
  -f deploy/Containerfile -t "$IMAGE:$VERSION" "$CONTEXT" >/dev/null

step "buildah push oci-archive:$ARCHIVE"
rm -f "$ARCHIVE"
buildah_ push --quiet "$IMAGE:$VERSION" "oci-archive:$ARCHIVE:$IMAGE:$VERSION"

size() { numfmt --to=iec-i --suffix=B "$1"; }
archive_bytes=$(stat -c %s "$ARCHIVE")
content_bytes=$(du -sb "$CONTEXT" | cut -f1)
echo "image $IMAGE:$VERSION: $ARCHIVE $(size "$archive_bytes") ($archive_bytes bytes), content $(size "$content_bytes"), built in $((SECONDS - started)) s"
