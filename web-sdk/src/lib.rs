//! The wasm-bindgen facade of the Bedside browser SDK. The JS/TypeScript
//! package (`js/index.js`, `js/index.d.ts`) wraps it in a `Room` class;
//! apps use that, not these exports. On other targets this crate is empty.

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // the glue `#[wasm_bindgen]` generates
mod room;
