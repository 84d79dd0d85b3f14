#!/usr/bin/env bash
# Re-vendor Apache ECharts for the reports page (bot/static/desk/vendor/). The built bundle is
# committed so the page works offline; run this only to change the version:
#   scripts/vendor-echarts.sh [VERSION]
# The "common" build (line, bar, pie; tooltips, legends, zoom) with its Chinese locale built in.
# Apache-2.0: LICENSE and NOTICE travel with it, and LICENSE-d3 for the parts taken from d3.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-6.1.0}"
target=bot/static/desk/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# npm pack fetches the published tarball (with its integrity check) without running any scripts.
(cd "$work" && npm pack --silent "echarts@$version" >/dev/null)
tar -xzf "$work"/echarts-*.tgz -C "$work"
mkdir -p "$target"
cp "$work/package/dist/echarts.common.min.js" "$target/echarts.common.min.js"
cp "$work/package/LICENSE" "$target/echarts.LICENSE"
cp "$work/package/NOTICE" "$target/echarts.NOTICE"
cp "$work/package/licenses/LICENSE-d3" "$target/echarts.LICENSE-d3"
printf 'echarts %s (dist/echarts.common.min.js, LICENSE, NOTICE and licenses/LICENSE-d3 from the npm package)\n' \
  "$version" > "$target/echarts.VERSION"
echo "vendored echarts $version into $target"
