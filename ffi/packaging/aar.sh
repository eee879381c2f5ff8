#!/bin/sh
# Builds bedside.aar for an Android app: the shared library for four ABIs
# (cargo-ndk), the generated Kotlin bindings (with UniFFI's Android
# settings), and the Gradle library module in ffi/packaging/android that
# packs them with JNA's Android AAR.
#
# NOT RUN on the machine this project is developed on (no Android NDK or
# SDK): it needs ANDROID_NDK_HOME, ANDROID_HOME and Gradle. docs/sdk.md
# says what was and was not run.
set -eu
cd "$(dirname "$0")/../.."
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the NDK (r26 or later)}"
command -v cargo-ndk >/dev/null || cargo install cargo-ndk --locked
module=ffi/packaging/android
for t in aarch64-linux-android armv7-linux-androideabi x86_64-linux-android i686-linux-android; do
    rustup target add "$t"
done
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -t x86 \
    -o "$module/src/main/jniLibs" build -p bedside-ffi --release
cargo build -p bedside-ffi-bindgen
cargo build -p bedside-ffi
target/debug/uniffi-bindgen generate --library target/debug/libbedside_ffi.so \
    --language kotlin --config ffi/packaging/android/uniffi-android.toml \
    --out-dir "$module/src/main/kotlin"
(cd "$module" && gradle --no-daemon assembleRelease)
echo "$module/build/outputs/aar/: add the AAR to the app (it depends on net.java.dev.jna:jna:5.13.0@aar and kotlinx-coroutines-android)"
