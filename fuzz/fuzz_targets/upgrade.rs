//! Fuzzes the WebSocket opening-handshake check on requests parsed the way
//! hyper parses them (httparse): never a panic, and whatever is accepted
//! meets RFC 6455 section 4.2.1 (HTTP/1.1 GET, one Host, one Origin at
//! most and an allowed one, one Sec-WebSocket-Key decoding to 16 bytes,
//! version 13), with the accept key of that one key.
#![no_main]

use base64::Engine as _;
use bedside_server::net::http::check_handshake;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(_)) = req.parse(data) else {
        return;
    };
    let mut b = http::Request::builder()
        .method(req.method.unwrap_or("GET"))
        .uri(req.path.unwrap_or("/"))
        .version(if req.version == Some(0) {
            http::Version::HTTP_10
        } else {
            http::Version::HTTP_11
        });
    for h in req.headers.iter() {
        b = b.header(h.name, h.value);
    }
    let Ok(request) = b.body(()) else {
        return;
    };
    for allowed in [vec![], vec!["https://clinic.example".to_owned()]] {
        if let Ok(accept) = check_handshake(&request, &allowed) {
            let h = request.headers();
            assert_eq!(request.version(), http::Version::HTTP_11);
            assert_eq!(request.method(), http::Method::GET);
            assert_eq!(h.get_all(http::header::HOST).iter().count(), 1);
            assert!(h.get_all(http::header::ORIGIN).iter().count() <= 1);
            let keys: Vec<_> = h.get_all(http::header::SEC_WEBSOCKET_KEY).iter().collect();
            assert_eq!(keys.len(), 1);
            let key = base64::engine::general_purpose::STANDARD
                .decode(keys[0].as_bytes())
                .expect("base64 key");
            assert_eq!(key.len(), 16);
            assert_eq!(accept.len(), 28);
        }
    }
});
