#!/bin/sh
# Builds BedsideFFI.xcframework (device and simulator static libraries with
# the generated header and module map) for an iOS app, next to the Swift
# sources in ffi/bindings/swift.
#
# NOT RUN on the machine this project is developed on (Linux, no Xcode):
# it needs macOS with Xcode's command line tools. docs/sdk.md says what
# was and was not run.
set -eu
cd "$(dirname "$0")/../.."
targets="aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios"
for t in $targets; do
    rustup target add "$t"
    cargo build -p bedside-ffi --release --target "$t"
done
out=target/apple
rm -rf "$out" && mkdir -p "$out/headers" "$out/ios-sim"
cp ffi/bindings/swift/BedsideFFI.h "$out/headers/"
cp ffi/bindings/swift/BedsideFFI.modulemap "$out/headers/module.modulemap"
lipo -create \
    target/aarch64-apple-ios-sim/release/libbedside_ffi.a \
    target/x86_64-apple-ios/release/libbedside_ffi.a \
    -output "$out/ios-sim/libbedside_ffi.a"
xcodebuild -create-xcframework \
    -library target/aarch64-apple-ios/release/libbedside_ffi.a -headers "$out/headers" \
    -library "$out/ios-sim/libbedside_ffi.a" -headers "$out/headers" \
    -output "$out/BedsideFFI.xcframework"
echo "$out/BedsideFFI.xcframework: add it and ffi/bindings/swift/Bedside.swift to the app's target"
