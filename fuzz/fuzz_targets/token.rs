//! Fuzzes the token verifier's header and claims parsing. Random bytes
//! rarely carry a valid signature, so the input is split into a header and
//! a claims text that are signed with the verifier's own key: every
//! parsing path after the signature check is reached. Properties: no
//! panic; an accepted token's claims obey the rules (times in range, a
//! display name without control or bidi characters); the raw input as a
//! token is refused or accepted without panicking too.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bedside_protocol::time::UnixSecs;
use bedside_server::auth::verify::MAX_UNIX_S;
use bedside_server::auth::{KeySet, Verifier};
use bedside_token::PrivateKey;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const NOW: UnixSecs = UnixSecs(1_800_000_000);

fn setup() -> &'static (PrivateKey, Verifier) {
    static S: OnceLock<(PrivateKey, Verifier)> = OnceLock::new();
    S.get_or_init(|| {
        let key = PrivateKey::generate("k1");
        let keys = KeySet::from_json(&key.public_jwks()).expect("key set");
        let v = Verifier::new(keys, vec!["clinic".into()], "bedside".into(), vec![]);
        (key, v)
    })
}

fuzz_target!(|data: &[u8]| {
    let (key, verifier) = setup();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = verifier.verify(text, NOW);
    // "<header>\n<claims>", signed as they are.
    let (header, claims) = text.split_once('\n').unwrap_or((r#"{"alg":"EdDSA","kid":"k1"}"#, text));
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = ed25519_dalek::Signer::sign(key.signing_key(), input.as_bytes());
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()));
    if let Ok(c) = verifier.verify(&token, NOW) {
        assert!((UnixSecs(0)..=MAX_UNIX_S).contains(&c.exp));
        if let Some(name) = &c.name {
            assert!(bedside_protocol::check_display_name(name).is_ok());
        }
        assert!(!c.jti.is_empty() && c.jti.len() <= 256);
    }
});
