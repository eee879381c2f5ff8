// The Android library module ffi/packaging/aar.sh assembles (not run on the
// development machine: no Android SDK there).
plugins {
    id("com.android.library") version "8.7.0"
    kotlin("android") version "2.0.21"
}

repositories {
    google()
    mavenCentral()
    // rustls-platform-verifier's Kotlin component (the TLS verifier's
    // bridge to the Android trust store), as its README says.
    maven { url = uri("https://github.com/rustls/rustls-platform-verifier/raw/maven-archive/android-release-support/maven/") }
}

// Its version must be the one of the crate in Cargo.lock.
val rustlsPlatformVerifierVersion: String = file("../../../Cargo.lock").readLines().let { lines ->
    val at = lines.indexOfFirst { it.trim() == "name = \"rustls-platform-verifier-android\"" }
    check(at >= 0) { "rustls-platform-verifier-android not in Cargo.lock" }
    lines[at + 1].substringAfter('"').substringBefore('"')
}

android {
    namespace = "health.bedside"
    compileSdk = 35
    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    sourceSets["main"].kotlin.srcDirs("src/main/kotlin", "src/main/bedside")
}

kotlin { jvmToolchain(17) }

dependencies {
    api("net.java.dev.jna:jna:5.13.0@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.1")
    implementation("androidx.annotation:annotation:1.9.1")
    implementation("org.rustls:rustls-platform-verifier:$rustlsPlatformVerifierVersion")
}
