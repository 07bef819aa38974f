#!/usr/bin/env bash
# Build the demo's signed APK without the Android Gradle plugin or the SDK, from the sources Android Studio
# builds: javac against android-all (the real API 35 classes, org.json included), aapt2 against Debian's
# API 29 framework-res, D8, native libraries stored and page-aligned, zipalign, apksigner with a throw-away
# key made here (never committed), then `apksigner verify`.
#
#   android_demo/build.sh [ARTIFACT_DIR ...]   default: every artifact folder in models/ (as Gradle's copyArtifacts)
#
# Writes android_demo/build/mobiledeploy-demo.apk (set APK=path to write elsewhere). Needs: java 17, mvn,
# aapt2, zipalign, apksigner, zip (make system-deps). Maven Central artifacts are listed in tools/pom.xml.
# Each artifact becomes assets/models/<its folder's name>/, so two folders of one name are refused. Two builds
# at once take turns (an flock on android_demo/build/, which holds what both would write); the APK is
# written beside its path and renamed into place, and never replaces something that is not a regular file.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD="$HERE/build"
APK="${APK:-$BUILD/mobiledeploy-demo.apk}"
FRAMEWORK_RES=/usr/share/android-framework-res/framework-res.apk
PACKAGE=dev.mobiledeploy.demo
ABI=arm64-v8a

die() { echo "error: $*" >&2; exit 2; }
# Artifacts are read through their manifests by mobiledeploy's own code (confined names, sha256 checked):
# PYTHON if set, else the repository's .venv, else python3 (with mobiledeploy installed).
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  if [ -x "$HERE/../.venv/bin/python" ]; then PYTHON="$HERE/../.venv/bin/python"; else PYTHON=python3; fi
fi
for tool in java javac mvn aapt2 zipalign apksigner zip unzip keytool; do
  command -v "$tool" >/dev/null || die "$tool not found: run 'make system-deps' (as root) or install it"
done
[ -f "$FRAMEWORK_RES" ] || die "$FRAMEWORK_RES not found: install the Debian package android-framework-res"

# Version numbers come from app/build.gradle.kts, so both builds make the same app.
gradle_value() { sed -n "s/^ *$1 = \"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$HERE/app/build.gradle.kts" | head -1; }
MIN_SDK="$(gradle_value minSdk)"; TARGET_SDK="$(gradle_value targetSdk)"
VERSION_CODE="$(gradle_value versionCode)"; VERSION_NAME="$(gradle_value versionName)"
[ -n "$MIN_SDK" ] && [ -n "$TARGET_SDK" ] && [ -n "$VERSION_CODE" ] && [ -n "$VERSION_NAME" ] \
  || die "cannot read minSdk/targetSdk/versionCode/versionName from app/build.gradle.kts"

if [ $# -eq 0 ]; then
  set -- "$HERE"/../models/*/
fi
# What the APK may be written over: nothing, or a regular file (never a FIFO, a device node, a folder).
if [ -e "$APK" ] && [ ! -f "$APK" ]; then
  die "APK=$APK exists and is not a regular file: give another path"
fi
ARTIFACTS=()
said() { if [[ "$1" =~ [[:cntrl:]] ]]; then printf '%q' "$1"; else printf '%s' "$1"; fi; }  # one line, always
for given in "$@"; do
  [ "$given" = "$HERE/../models/*/" ] && continue  # models/ is empty: an APK that says "no model"
  a="$given"
  case "$a" in /*) ;; *) a="./$a" ;; esac  # a folder named `-`: `cd -` would go to $OLDPWD, `cd -x` read an option
  [ -f "$a/manifest.json" ] || die "$(said "$given") is not an artifact folder (no manifest.json): pass folders written by mobiledeploy export"
  [ -f "$a/labels.txt" ] || die "$(said "$given") has no labels.txt: re-export it with mobiledeploy export"
  compgen -G "$a/*.tflite" >/dev/null || die "$(said "$given") has no .tflite file (the app runs TFLite only): export with --formats tflite"
  "$PYTHON" -c "import mobiledeploy" 2>/dev/null || die "$PYTHON cannot import mobiledeploy: run make install, or set PYTHON"
  "$PYTHON" -m mobiledeploy.artifact.stage --check "$a" >/dev/null || exit 2  # its one error: line is printed
  folder="$(cd "$a" && pwd)"
  name="$(basename "$folder")"
  if [[ "$name" =~ [[:cntrl:]] ]] || ! printf '%s' "$name" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; then
    die "$(printf '%q' "$folder"): its name is not printable UTF-8 text, and it names the app's folder assets/models/NAME: rename it"
  fi
  twice=
  for other in ${ARTIFACTS[@]+"${ARTIFACTS[@]}"}; do
    [ "$(basename "$other")" = "$name" ] || continue
    [ "$(cd "$other" && pwd -P)" = "$(cd "$folder" && pwd -P)" ] && { twice=1; break; }  # one folder given twice: packed once
    die "$other and $folder are both named $name, and the APK holds one assets/models/$name: rename one folder (or pass only one)"
  done
  [ -n "$twice" ] || ARTIFACTS+=("$folder")
done

mkdir -p "$BUILD"
exec 9<"$BUILD"
if ! flock -n 9; then
  echo "== waiting for another build.sh, which is using $BUILD" >&2
  flock -w 3600 9 || die "another build.sh has been using $BUILD for an hour: wait for it or stop it, then retry"
fi
APK_DIR="$(dirname "$APK")"
APK_TMP="$APK_DIR/.$(basename "$APK").tmp-$$"  # beside the APK (one rename), named after this process
cleanup() { rm -f "$APK_TMP" "$APK_TMP.idsig" "$BUILD/debug.keystore.tmp-$$"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
rm -rf "$BUILD/stage" "$BUILD/gen" "$BUILD/classes" "$BUILD/dex"
mkdir -p "$BUILD/deps" "$BUILD/stage/lib/$ABI" "$BUILD/gen" "$BUILD/classes" "$BUILD/dex"

echo "== Maven Central: android-all, D8, TensorFlow Lite (cached in ~/.m2 after the first run)"
mvn -B -q -f "$HERE/tools/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:build-classpath \
  -Dmdep.outputFile="$BUILD/deps/classpath.txt" -Dmdep.includeScope=compile -DexcludeTransitive=true
{ tr ":" "\n" < "$BUILD/deps/classpath.txt"; echo; } | while read -r jar; do [ -n "$jar" ] || continue; ln -sf "$jar" "$BUILD/deps/$(basename "$jar")"; done
dep() { ls "$BUILD/deps/"$1 | head -1; }
ANDROID_ALL="$(dep 'android-all-[0-9]*.jar')"
R8="$(dep 'r8-*.jar')"
for aar in "$BUILD"/deps/*.aar; do  # what the Gradle plugin does with an AAR: its classes.jar on the class path
  unzip -p "$aar" classes.jar > "$BUILD/deps/$(basename "$aar" .aar)-classes.jar"
done
LIBS=()  # the app's own (the androidx.test AARs are for app/pom.xml's Robolectric run)
for aar in "$BUILD"/deps/tensorflow-lite*.aar; do
  LIBS+=("$BUILD/deps/$(basename "$aar" .aar)-classes.jar")
  unzip -q -o -j "$aar" "jni/$ABI/*.so" -d "$BUILD/stage/lib/$ABI" 2>/dev/null || true  # API-only AARs have none
done

echo "== manifest and resources (aapt2 against API 29 framework-res)"
# What the Gradle plugin's manifest merger adds: package, versions, uses-sdk, and native libraries used in place
# (stored uncompressed). Robolectric reads this merged manifest too.
sed -e "s|<manifest |<manifest package=\"$PACKAGE\" android:versionCode=\"$VERSION_CODE\" android:versionName=\"$VERSION_NAME\" |" \
    -e "s|^\( *\)<uses-feature|\1<uses-sdk android:minSdkVersion=\"$MIN_SDK\" android:targetSdkVersion=\"$TARGET_SDK\" />\n\1<uses-feature|" \
    -e "s|<application|<application android:extractNativeLibs=\"false\"|" \
    "$HERE/app/src/main/AndroidManifest.xml" > "$BUILD/AndroidManifest.xml"
grep -q '<uses-sdk' "$BUILD/AndroidManifest.xml" || die "app/src/main/AndroidManifest.xml changed shape: update build.sh's manifest merge"
aapt2 compile --dir "$HERE/app/src/main/res" -o "$BUILD/res.zip"
# --warn-manifest-validation: this aapt2 (Android 10) predates <uses-native-library> (API 31), kept as is
aapt2 link -o "$BUILD/stage/base.apk" -I "$FRAMEWORK_RES" --manifest "$BUILD/AndroidManifest.xml" \
  --warn-manifest-validation --java "$BUILD/gen" "$BUILD/res.zip"

echo "== javac against android-all, then D8"
find "$HERE/app/src/main/java" "$HERE/processing/src/main/java" "$BUILD/gen" -name '*.java' > "$BUILD/sources.txt"
CP="$ANDROID_ALL$(printf ':%s' "${LIBS[@]}")"
javac --release 11 -Xlint:-options -encoding UTF-8 -d "$BUILD/classes" -cp "$CP" @"$BUILD/sources.txt"
(cd "$BUILD/classes" && zip -q -r "$BUILD/classes.jar" . && mv "$BUILD/classes.jar" "$BUILD/dex/app.jar")
java -cp "$R8" com.android.tools.r8.D8 --release --min-api "$MIN_SDK" --lib "$ANDROID_ALL" \
  --output "$BUILD/dex" "$BUILD/dex/app.jar" "${LIBS[@]}"
rm "$BUILD/dex/app.jar"

echo "== package: dex, native libraries and artifacts stored uncompressed, zipalign, sign"
for a in ${ARTIFACTS[@]+"${ARTIFACTS[@]}"}; do
  dest="$BUILD/stage/assets/models/$(basename "$a")"
  # the manifest's files under the manifest's names, checked again now (what was checked above may have changed)
  "$PYTHON" -m mobiledeploy.artifact.stage "$a" "$dest" >/dev/null || exit 2
  echo "   assets/models/$(basename "$a"): $(cd "$dest" && ls | tr '\n' ' ')"
done
UNALIGNED="$BUILD/stage/unaligned.apk"
cp "$BUILD/stage/base.apk" "$UNALIGNED"
(cd "$BUILD/dex" && zip -q -9 "$UNALIGNED" classes*.dex)
# -0: stored, so the platform maps libraries and models straight from the APK
(cd "$BUILD/stage" && zip -q -0 -r "$UNALIGNED" lib && { [ ! -d assets ] || zip -q -0 -r "$UNALIGNED" assets; })
# -p: .so files start on a 4 KiB page boundary (16 KiB-page devices also need 16 KiB-aligned ELF segments,
# which TensorFlow Lite 2.16.1's library does not have: see README)
zipalign -f -p 4 "$UNALIGNED" "$BUILD/stage/aligned.apk"
KEYSTORE="$BUILD/debug.keystore"  # throw-away, made on first build, never committed (build/ is ignored)
if [ ! -f "$KEYSTORE" ]; then  # made whole, then renamed: a build stopped here leaves no half keystore
  keytool -genkeypair -keystore "$KEYSTORE.tmp-$$" -storetype PKCS12 -storepass android -keypass android \
    -alias debug -keyalg RSA -keysize 2048 -validity 10000 -dname "CN=mobiledeploy debug" >/dev/null 2>&1
  mv "$KEYSTORE.tmp-$$" "$KEYSTORE"
fi
mkdir -p "$APK_DIR"
for old in "$APK_DIR/.$(basename "$APK").tmp-"*; do  # left by a build that was killed (SIGKILL, power cut)
  pid="${old##*.tmp-}"
  case "$pid" in ''|*[!0-9]*) continue ;; esac
  [ -f "$old" ] && [ ! -L "$old" ] && [ -O "$old" ] && ! kill -0 "$pid" 2>/dev/null && rm -f "$old" || true
done
apksigner sign --ks "$KEYSTORE" --ks-pass pass:android --key-pass pass:android --ks-key-alias debug \
  --out "$APK_TMP" "$BUILD/stage/aligned.apk"
rm -f "$APK_TMP.idsig"
apksigner verify "$APK_TMP"
if [ -e "$APK" ] && [ ! -f "$APK" ]; then  # checked again: something may have appeared there meanwhile
  die "APK=$APK exists and is not a regular file: give another path"
fi
mv -T "$APK_TMP" "$APK"
echo "== $APK ($(stat -c %s "$APK") bytes), signed and verified"
