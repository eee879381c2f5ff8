//! UniFFI's bindings generator, built from the version the scaffolding
//! uses: `cargo run -p bedside-ffi --features cli --bin uniffi-bindgen --
//! generate --library <libbedside_ffi.so> --language kotlin --out-dir …`
//! (`cargo xtask bindings` runs it for Kotlin, Swift and Python).

fn main() {
    uniffi::uniffi_bindgen_main()
}
