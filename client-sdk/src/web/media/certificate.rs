//! The device's DTLS certificate (ECDSA P-256), shared by all its peer
//! connections, and its SHA-256 fingerprint, which is signed into the
//! Hello: read with `getFingerprints()`, or where a browser lacks it, from
//! a throwaway offer.

use super::{get, set};
use crate::session::SdkError;
use crate::web::transport;
use bedside_protocol::sdp::normalize_fingerprint;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RtcCertificate, RtcConfiguration, RtcPeerConnection};

/// Generates the device's DTLS certificate (ECDSA P-256, as browsers
/// prefer) and reads its SHA-256 fingerprint (`sha-256 AB:CD:…`).
pub(crate) async fn certificate() -> Result<(RtcCertificate, String), SdkError> {
    let algorithm = Object::new();
    set(&algorithm, "name", &"ECDSA".into());
    set(&algorithm, "namedCurve", &"P-256".into());
    let promise = RtcPeerConnection::generate_certificate_with_object(&algorithm)
        .map_err(transport("generateCertificate"))?;
    let cert: RtcCertificate = JsFuture::from(promise)
        .await
        .map_err(transport("generateCertificate"))?
        .unchecked_into();
    let fp = match fingerprint_of(&cert) {
        Some(fp) => fp,
        None => fingerprint_from_offer(&cert).await?,
    };
    Ok((cert, fp))
}

/// `RTCCertificate.getFingerprints()` (not in web-sys), sha-256 entry.
fn fingerprint_of(cert: &RtcCertificate) -> Option<String> {
    let f = Reflect::get(cert, &"getFingerprints".into()).ok()?;
    let f = f.dyn_into::<js_sys::Function>().ok()?;
    let list = f.call0(cert).ok()?.dyn_into::<Array>().ok()?;
    list.iter().find_map(|fp| {
        let algorithm = get(&fp, "algorithm")?.as_string()?;
        let value = get(&fp, "value")?.as_string()?;
        algorithm
            .eq_ignore_ascii_case("sha-256")
            .then(|| normalize_fingerprint(&format!("{algorithm} {value}")))
    })
}

/// Where `getFingerprints` is missing: the `a=fingerprint` of a throwaway
/// offer made with the certificate.
async fn fingerprint_from_offer(cert: &RtcCertificate) -> Result<String, SdkError> {
    let config = RtcConfiguration::new();
    config.set_certificates(&Array::of1(cert));
    let pc = RtcPeerConnection::new_with_configuration(&config)
        .map_err(transport("RTCPeerConnection"))?;
    let _dc = pc.create_data_channel("fingerprint");
    let offer = JsFuture::from(pc.create_offer()).await;
    pc.close();
    let offer = offer.map_err(transport("createOffer"))?;
    let sdp = get(&offer, "sdp")
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    sdp.lines()
        .find_map(bedside_protocol::sdp::fingerprint_value)
        .map(normalize_fingerprint)
        .filter(|fp| !fp.is_empty())
        .ok_or_else(|| SdkError::Transport("the browser's offer has no fingerprint".into()))
}
