//! `crust wrap`'s JSON-RPC path: arbitrary bytes are framed as newline-delimited messages (with
//! a small bound, so over-long lines are exercised) and handed to the gateway, alternately as
//! the client's and the server's. It must not panic; everything it relays is one JSON object or
//! a line the sender wrote; and however the input left the session state, a tool call that
//! reads a private key is never relayed to the server.
#![no_main]

use crust_fuzz::{bundle_bytes, CWD, HOME};
use crust_runtime::mcp::frame::{read_frame, Frame};
use crust_runtime::mcp::{Config, Gateway, Out, Side};
use crust_runtime::own::OwnFiles;
use crust_runtime::Engine;
use libfuzzer_sys::fuzz_target;

const MAX: usize = 512;
const PROBE: &[u8] = br#"{"jsonrpc":"2.0","id":"probe","method":"tools/call","params":{"name":"read_file","arguments":{"path":"~/.ssh/id_rsa"}}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = Engine::from_bytes(bundle_bytes()) else {
        return;
    };
    let gw = Gateway::new(Config {
        bundle,
        server: "fuzz".into(),
        command: Vec::new(),
        home: HOME.into(),
        cwd: Some(CWD.into()),
        own: OwnFiles::new(Vec::new()),
        pins: None,
        audit: None,
    });
    let mut input = std::io::BufReader::with_capacity(7, data);
    let mut side = Side::Client;
    loop {
        let (line, outs) = match read_frame(&mut input, MAX) {
            Ok(Frame::Line(l)) => {
                let outs = gw.handle(side, &l);
                (l, outs)
            }
            Ok(Frame::TooLong(n, head)) => (Vec::new(), gw.too_long(side, n, MAX, &head)),
            Ok(Frame::Eof) | Err(_) => break,
        };
        for o in outs {
            if let Out::Send(to, bytes) = o {
                assert!(!bytes.contains(&b'\n'), "a relayed message spans lines");
                if to != side && bytes != line.trim_ascii() {
                    let v: serde_json::Value =
                        serde_json::from_slice(&bytes).expect("a rewritten message is JSON");
                    assert!(v.is_object(), "a relayed message is not an object");
                }
            }
        }
        side = side.other();
    }
    let outs = gw.handle(Side::Client, PROBE);
    assert!(
        !outs.iter().any(|o| matches!(o, Out::Send(Side::Child, _))),
        "a key read reached the server"
    );
});
