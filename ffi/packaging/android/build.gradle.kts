// The Android library module ffi/packaging/aar.sh assembles (not run on the
// development machine: no Android SDK there).
plugins {
    id("com.android.library") version "8.7.0"
    kotlin("android") version "2.0.21"
}

android {
    namespace = "health.bedside"
    compileSdk = 35
    defaultConfig { minSdk = 26 }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin { jvmToolchain(17) }

dependencies {
    api("net.java.dev.jna:jna:5.13.0@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.1")
    implementation("androidx.annotation:annotation:1.9.1")
}
