//! Android: rustls-platform-verifier checks `wss://` certificates against
//! the Android trust store (user and managed CAs included) through the
//! JVM, so it needs the app's `Context` once, before the first connection:
//! `BedsideAndroid.init(context)` (ffi/packaging/android), which calls
//! this. The one hand-written JNI entry point of the crate, and the only
//! `unsafe` attribute (`no_mangle`: the JVM finds the function by name).
//! Type-checked on the development machine with `cargo check --target
//! aarch64-linux-android` in a crate of its own with the same two
//! dependencies (the whole crate needs the NDK, for ring's C, which is not
//! there): never linked or run there (docs/sdk.md).

/// `health.bedside.BedsideAndroid.init(context: Context)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_health_bedside_BedsideAndroid_init<'caller>(
    mut unowned_env: jni::EnvUnowned<'caller>,
    _class: jni::objects::JClass<'caller>,
    context: jni::objects::JObject<'caller>,
) {
    unowned_env
        .with_env(|env| -> jni::errors::Result<()> {
            rustls_platform_verifier::android::init_with_env(env, context)
        })
        .resolve::<jni::errors::ThrowRuntimeExAndDefault>()
}
