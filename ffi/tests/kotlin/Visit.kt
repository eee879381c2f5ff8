// A patient's Kotlin client on the generated bindings (desktop JVM, JNA):
// joins the visit, waits to be admitted, chats end to end with the Rust
// provider, refreshes its token through a suspending token source, gets
// typed errors, and hands its stand-in media factory only SDPs that passed
// the fingerprint check: the hub in front of it (a stand-in for a
// compromised one) rewrites the fingerprint of dr-b's offers, and those
// never reach the factory.
//
// Run by ffi/tests/foreign.rs (through `cargo xtask test`), which starts
// the hub, the stand-in and the providers and reads what this prints.
// Environment: BEDSIDE_URL, BEDSIDE_TOKEN (short-lived: a refresh is due
// at once), BEDSIDE_REFRESH_TOKEN, BEDSIDE_TAMPERED (the fingerprint the
// stand-in writes).

import health.bedside.*
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicInteger
import kotlin.system.exitProcess
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull

class Tokens : TokenSource {
    val refreshes = AtomicInteger(0)

    override suspend fun token(purpose: TokenPurpose): String {
        if (purpose == TokenPurpose.REFRESH) refreshes.incrementAndGet()
        delay(20) // as an app would: ask the clinic first
        return System.getenv("BEDSIDE_REFRESH_TOKEN")
    }
}

class Listener(private val events: Channel<ClientEvent>) : EventListener {
    override fun onEvent(event: ClientEvent) {
        events.trySend(event)
    }
}

/** What the factory's connections were handed, by peer. */
class StandInFactory : MediaFactory {
    val peers = CopyOnWriteArrayList<String>()
    val remoteSdps = CopyOnWriteArrayList<Pair<String, String>>()
    val certificateChecks = CopyOnWriteArrayList<String>()
    val midLookups = CopyOnWriteArrayList<String>()

    override fun createPeer(config: PeerConfig, events: PeerEventSink): PeerConnectionAdapter {
        peers.add(config.peer)
        val cert = config.certificate
        // The SDK's certificate, as PEM, and a config that prints no key.
        certificateChecks.add(
            listOf(
                cert.fingerprint().startsWith("sha-256 "),
                cert.privateKeyPem().startsWith("-----BEGIN PRIVATE KEY-----"),
                cert.certificatePem().startsWith("-----BEGIN CERTIFICATE-----"),
                !config.toString().contains("PRIVATE KEY"),
            ).joinToString(","),
        )
        return StandInPeer(config.peer, this, events)
    }
}

/** A peer connection with no media stack behind it: it records. */
class StandInPeer(
    private val peer: String,
    private val factory: StandInFactory,
    private val events: PeerEventSink,
) : PeerConnectionAdapter {
    private fun none(): Nothing = throw AdapterException.Failed("stand-in: no WebRTC stack on the desktop JVM")

    override suspend fun createOffer(iceRestart: Boolean): String = none()
    override suspend fun createAnswer(): String = none()
    override suspend fun setLocalDescription(sdpType: SdpType, sdp: String): String = none()
    override suspend fun rollback() {}
    override suspend fun setRemoteDescription(sdpType: SdpType, sdp: String) {
        factory.remoteSdps.add(peer to sdp)
        // As onTrack would, inside the call: the data-only offer's section
        // names no track.
        factory.midLookups.add(events.trackIdForMid("0") ?: "none")
    }
    override suspend fun addIceCandidate(candidate: IceCandidateInit) {}
    override suspend fun addLocalTrack(trackId: String, source: TrackSource) {}
    override suspend fun removeLocalTrack(trackId: String) {}
    override suspend fun stopRemoteTrack(trackId: String) {}
    override suspend fun createDataChannel(label: String) = none()
    override suspend fun sendData(label: String, data: ByteArray) = none()
    override suspend fun closeConnection() {}
}

/**
 * The SDK's events in arrival order. [until] takes the first that
 * matches, earlier ones included: events from independent paths (a chat, a
 * refused offer) may come in either order, and none is lost by waiting for
 * another.
 */
class Events(private val channel: Channel<ClientEvent>) {
    private val unmatched = ArrayDeque<ClientEvent>()

    suspend fun <T> until(what: String, match: (ClientEvent) -> T?): T {
        for (i in unmatched.indices) {
            val found = match(unmatched[i])
            if (found != null) {
                unmatched.removeAt(i)
                return found
            }
        }
        return withTimeoutOrNull(30_000) {
            var found: T? = null
            while (found == null) {
                val e = channel.receive()
                found = match(e)
                if (found == null) unmatched.addLast(e)
            }
            found
        } ?: run {
            System.err.println("no $what in time")
            exitProcess(1)
        }
    }
}

fun main() {
    runBlocking { visit() }
}

suspend fun visit() {
    val channel = Channel<ClientEvent>(Channel.UNLIMITED)
    val events = Events(channel)
    val tokens = Tokens()
    val media = StandInFactory()
    val config = ClientConfig(System.getenv("BEDSIDE_URL"), "dev-kt", null, null)
    val client = BedsideClient.connect(config, System.getenv("BEDSIDE_TOKEN"), tokens, Listener(channel), media)

    events.until("waiting") { if (it is ClientEvent.Waiting) Unit else null }
    println("waiting")
    val present = events.until("admitted") { (it as? ClientEvent.Admitted)?.participants }
    println("admitted with " + present.map { it.id }.sorted().joinToString(","))

    client.sendChat("hello from kotlin")
    val chat = events.until("the provider's chat") { (it as? ClientEvent.Chat)?.message }
    println("chat from ${chat.sender}: ${chat.text}")

    // Both providers open a data channel: dr-a's offer arrives, dr-b's
    // (its fingerprint rewritten on the way) is refused before the factory.
    val refused = events.until("dr-b's offer refused") {
        val e = (it as? ClientEvent.Error)?.error
        if (e is BedsideException.EndToEnd && e.participant == "dr-b") e else null
    }
    println("refused an sdp of ${refused.participant}")
    var waited = 0
    while (media.remoteSdps.none { it.first == "dr-a" } && waited < 300) {
        delay(100)
        waited++
    }
    val tampered = System.getenv("BEDSIDE_TAMPERED")
    println("sdps from dr-a: " + media.remoteSdps.count { it.first == "dr-a" })
    println("sdps from dr-b: " + media.remoteSdps.count { it.first == "dr-b" })
    println("tampered sdps: " + media.remoteSdps.count { it.second.contains(tampered, ignoreCase = true) })
    println("peers built: " + media.peers.sorted().joinToString(","))
    println("certificate checks: " + media.certificateChecks.toSet().joinToString(" "))
    println("tracks at mid 0: " + media.midLookups.toSet().joinToString(","))

    while (tokens.refreshes.get() == 0 && waited < 600) {
        delay(100)
        waited++
    }
    println("refreshes ${tokens.refreshes.get()}")
    client.sendChat("after the refresh")
    // The provider answers once the hub acknowledged the refresh: leaving
    // before then could close the link ahead of the refresh.
    val told = events.until("the provider's word on the refresh") { (it as? ClientEvent.Chat)?.message }
    println("chat from ${told.sender}: ${told.text}")

    try {
        client.admit("not an id!")
        println("no error")
    } catch (e: BedsideException.InvalidArgument) {
        println("typed error InvalidArgument")
    }

    client.leave()
    val reason = events.until("the end") { (it as? ClientEvent.Ended)?.reason }
    println("ended " + if (reason is EndReason.Left) "left" else reason.toString())
    exitProcess(0)
}
