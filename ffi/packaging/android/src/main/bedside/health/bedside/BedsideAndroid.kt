package health.bedside

import android.content.Context

/**
 * Call once, before the first [BedsideClient.connect]: hands the app's
 * Context to the TLS verifier, which checks the hub's certificate against
 * the Android trust store. (Not run on the development machine: no
 * Android SDK there; docs/sdk.md.)
 */
object BedsideAndroid {
    init {
        System.loadLibrary("bedside_ffi")
    }

    @JvmStatic
    external fun init(context: Context)
}
