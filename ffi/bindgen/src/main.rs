//! UniFFI's bindings generator, built from the version bedside-ffi pins:
//! `cargo run -p bedside-ffi-bindgen -- generate --library
//! target/debug/libbedside_ffi.so --language kotlin --out-dir …`
//! (`cargo xtask bindings` runs it for Kotlin, Swift and Python).

fn main() {
    uniffi::uniffi_bindgen_main()
}
