#!/usr/bin/env bash
# Install the pinned browser packages (package-lock.json) and copy what the pages load, with
# each package's license, into web/vendor/. Run after changing a version; commit web/vendor/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
web="$here/../../web/vendor"
cd "$here"
npm ci --ignore-scripts --no-audit --no-fund
version="$(node -p "require('./node_modules/hls.js/package.json').version")"
mkdir -p "$web/hls"
cp node_modules/hls.js/dist/hls.min.js "$web/hls/hls.min.js"
cp node_modules/hls.js/LICENSE "$web/hls/LICENSE"
printf 'hls.js %s (Apache-2.0), dist/hls.min.js, from tools/vendor/package-lock.json\n' \
  "$version" > "$web/hls/VERSION"
echo "web/vendor/hls: hls.js $version"
